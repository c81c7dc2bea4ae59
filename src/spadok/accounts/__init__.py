"""Accounts: pseudonymous profiles, roles, personal API tokens, and the audit of role changes."""

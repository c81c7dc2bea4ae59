"""A second factor for test users: an authenticator app set up, and its current code."""

from __future__ import annotations


def add_totp(user) -> None:  # type: ignore[no-untyped-def]
    """Give the user an authenticator app, as if they had set one up."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())


def totp_code(user) -> str:  # type: ignore[no-untyped-def]
    """The six digits the user's authenticator app shows now."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )
    from allauth.mfa.utils import decrypt

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    secret = decrypt(authenticator.data["secret"])
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))

"""The open APIs: REST + OpenAPI at /api/, oEmbed, the embeddable viewer, JSON-LD.

Everything here is read-only and built from the catalogue's selectors and
presenters, so no API can show more than the public pages do.
"""

"""Content in several languages, read with fallbacks.

Interface strings go through Django's gettext; content that people write (a
site's names, its description) is stored per language and read here, so that
a reader always sees something: their language, then Ukrainian, then English,
then whatever the source had.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import translation

FALLBACKS = ("uk", "en")


def localized(values: Mapping[str, str] | None, lang: str | None = None) -> str:
    """The value for ``lang`` (default: the active language) or the best fallback."""
    if not values:
        return ""
    lang = (lang or translation.get_language() or "uk").split("-")[0]
    for code in (lang, *FALLBACKS):
        value = values.get(code)
        if value:
            return value
    return next((v for v in values.values() if v), "")

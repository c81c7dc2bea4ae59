"""Damage claims as published lists make them: what happened, when, by whose account.

A list reader turns a row into a :class:`DamageClaim` beside its site row; the
site registry stores each claim as a damage event. The vocabulary is kept here,
as data, so that readers, the database and the statistics share it:

* **kind**: damaged, destroyed, looted, threatened (what the source says
  happened; readers never raise it from free-text notes);
* **severity**: minor, moderate, severe, total, or unknown;
* **standing**: whose account it is. Only UNESCO's verification counts as
  *verified* (:data:`VERIFIED_STANDINGS`); every other account (the Ministry of
  Culture, a field report, a capture in the archive, a news report, volunteers'
  research from open sources, anything else) is *reported*. Statistics keep the
  two apart; see docs/adr/0009-damage-standing.md.

Dates are kept as published: a day, a month or a year (stored as its first
day, with the precision beside it), or a range of two such dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from spadok.core.registry.rows import clean, parse_date

KINDS = ("damaged", "destroyed", "looted", "threatened")
SEVERITIES = ("unknown", "minor", "moderate", "severe", "total")
STANDINGS = ("unesco", "ministry", "field", "capture", "news", "volunteer", "other")
VERIFIED_STANDINGS = frozenset({"unesco"})
PRECISIONS = ("day", "month", "year")

# The worst state wins when a site's status is derived from its events.
KIND_RANK = {"threatened": 1, "looted": 2, "damaged": 2, "destroyed": 3}

UNESCO_LIST_URL = (
    "https://www.unesco.org/en/articles/damaged-cultural-sites-ukraine-verified-unesco"
)

MAX_REFERENCES = 20
MAX_URL_CHARS = 1000
MAX_DESCRIPTION_CHARS = 5000

_KIND_WORDS = (
    ("destroyed", ("destroy", "знищ", "зруйн", "ruin")),
    ("looted", ("loot", "пограб", "викраден", "stolen", "plunder")),
    ("damaged", ("damag", "пошкодж", "ушкодж")),
    ("threatened", ("threat", "загроз", "risk", "небезпек")),
)
_SEVERITY_WORDS = (
    ("total", ("total", "повн", "complete")),
    ("severe", ("severe", "значн", "сильн", "heavy", "major")),
    ("moderate", ("moderate", "помірн", "середн", "partial", "частков")),
    ("minor", ("minor", "light", "незначн", "легк", "slight")),
    ("unknown", ("unknown", "невідом", "n/a")),
)
_STANDING_WORDS = (
    ("unesco", ("unesco", "юнеско")),
    ("ministry", ("ministry", "міністерств", "мкіп", "mcip", "government", "уряд")),
    ("capture", ("capture", "scan", "скан", "spadok")),
    ("field", ("field", "польов", "on site", "eyewitness", "очевид")),
    ("news", ("news", "новин", "media", "медіа", "press", "преса", "зми")),
    ("volunteer", ("volunteer", "волонтер", "osint", "open source", "відкрит")),
    ("other", ("other", "інш")),
)
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_RANGE_SPLIT = re.compile(r"\s+(?:-|–|—|to|до|until)\s+|\s*/\s*|\s*;\s*|\s+(?=\d{4}-\d)")


@dataclass
class DamageClaim:
    """One account of damage as a list published it, ready to become a damage event."""

    standing: str
    kind: str = "damaged"
    severity: str = "unknown"
    date_start: date | None = None
    date_end: date | None = None
    precision: str = ""  # of date_start (and date_end): "day" | "month" | "year" | ""
    date_as_published: str = ""
    source_name: str = ""
    source_url: str = ""
    source_document: str = ""
    references: list[str] = field(default_factory=list)
    description: str = ""
    # The list's own identifier for this claim (e.g. a Linked4Resilience URI), if any:
    # re-imports find the event by it; without one, by the site it describes.
    key: str = ""

    @property
    def verified(self) -> bool:
        return is_verified(self.standing)

    def add_references(self, urls: list[str]) -> None:
        """Add links not yet listed, in order, up to :data:`MAX_REFERENCES`."""
        for url in urls:
            if url and url != self.source_url and url not in self.references:
                if len(self.references) >= MAX_REFERENCES:
                    break
                self.references.append(url)


def is_verified(standing: str) -> bool:
    """Whether an account of this standing is independently verified (UNESCO only)."""
    return standing in VERIFIED_STANDINGS


def parse_kind(text: str) -> str:
    """The kind a cell names ("знищено", "destroyed", "Looted"), or "" when none."""
    text = clean(text).lower()
    if not text:
        return ""
    if text in KINDS:
        return text
    for kind, words in _KIND_WORDS:
        if any(w in text for w in words):
            return kind
    return ""


def parse_severity(text: str) -> str:
    """The severity a cell names, "unknown" when it names none."""
    text = clean(text).lower()
    if text in SEVERITIES:
        return text
    for severity, words in _SEVERITY_WORDS:
        if any(w in text for w in words):
            return severity
    return "unknown"


def parse_standing(text: str) -> str:
    """The standing a cell names ("UNESCO", "МКІП", "news"), or "" when it names none."""
    text = clean(text).lower()
    if not text:
        return ""
    if text in STANDINGS:
        return text
    for standing, words in _STANDING_WORDS:
        if any(w in text for w in words):
            return standing
    return ""


def parse_dates(text: str) -> tuple[date | None, date | None, str]:
    """(start, end or None, precision) of a published date or range of dates.

    "2022-03-12", "2022-03", "2022", "12.03.2022" give one date; "2022-03-12
    2022-03-27" (two dates in one cell, as the UNESCO list has), "2022-03 –
    2022-05" or "2022-03-12/2022-03-27" give a range. The precision is the
    coarser of the two. An end before the start is read as two dates in the
    wrong order and swapped.
    """
    text = clean(text)
    if not text:
        return None, None, ""
    parts = [p for p in _RANGE_SPLIT.split(text) if p.strip()]
    if len(parts) == 2:
        start, p1 = parse_date(parts[0])
        end, p2 = parse_date(parts[1])
        if start and end:
            if end < start:
                start, end = end, start
            precision = max(p1, p2, key=PRECISIONS.index)
            if start == end:
                return start, None, precision
            return start, end, precision
    start, precision = parse_date(text)
    return start, None, precision


def urls_in(text: str) -> list[str]:
    """The http(s) links in a cell, in order, without trailing punctuation."""
    out: list[str] = []
    for m in _URL.finditer(text or ""):
        url = m.group(0).rstrip(".,;)]")
        if len(url) <= MAX_URL_CHARS and url not in out:
            out.append(url)
    return out

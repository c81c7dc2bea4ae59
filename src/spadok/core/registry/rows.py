"""What every list reader yields: a normalised site row, or a skip with a reason.

Also the small facts all readers share: reading a list file as text under the
limits, telling Ukrainian from other Cyrillic, mapping a type label (in
Ukrainian or English) to a site type, normalising names for matching, and
parsing the dates lists use ("2022-03-12", "2022-03", "2022", "12.03.2022").
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spadok.core.errors import SpadokError
from spadok.core.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from spadok.core.registry.damage import DamageClaim

# Stable skip codes (scripts match on them) and their human phrasing.
SKIP_CODES: dict[str, str] = {
    "section_header": "section header",
    "no_name": "no name",
    "bad_coordinates": "bad coordinates",
    "duplicate": "duplicate in file",
    "not_a_site": "not a place or object of heritage",
    "invalid": "invalid value",
}

# External ids that are links, not identities: kept, but never used to match sites
# (one Wikipedia article may cover several sites).
LINK_SCHEMES = frozenset({"wikipedia_en", "wikipedia_uk", "dbpedia", "google_maps", "image"})


@dataclass
class SiteRow:
    """One usable row of a list, normalised; ``fact`` keeps the raw values it came from."""

    file: str
    row: int
    source: str
    names: dict[str, str]
    aliases: list[str] = field(default_factory=list)  # other names, any language
    type: str = "other"
    designation: str = ""
    region_code: str | None = None  # from the list's own region column
    settlement: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    wikidata: str = ""
    external_ids: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    damage_status: str = ""
    damage_date: date | None = None
    fact: dict[str, Any] = field(default_factory=dict)
    # What the list says happened to the site, by whose account: one claim per account.
    damage: list[DamageClaim] = field(default_factory=list)

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass
class Skip:
    """A row the reader could not use: a stable code and a message for people."""

    file: str
    row: int
    code: str
    reason: str

    def __post_init__(self) -> None:
        if self.code not in SKIP_CODES:
            raise ValueError(f"unknown skip code {self.code!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "code": self.code, "reason": self.reason}


# --- reading ------------------------------------------------------------------------


def read_text(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """The file as text (UTF-8, with or without BOM, or UTF-16 with BOM), under the limits."""
    if not path.exists():
        raise SpadokError("input.not_found", str(path))
    if not path.is_file():
        raise SpadokError("registry.unreadable", f"{path} (not a file)")
    size = path.stat().st_size
    if size == 0:
        raise SpadokError("input.empty", str(path))
    if size > limits.max_registry_bytes:
        raise SpadokError(
            "registry.too_large",
            f"{path.name} has {size:,} bytes, the limit is {limits.max_registry_bytes:,}",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpadokError("input.unreadable", str(path)) from exc
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SpadokError("registry.unreadable", f"{path.name} (not UTF-8 text)") from exc
    if "\x00" in text:
        raise SpadokError("registry.unreadable", f"{path.name} (binary data)")
    return text


def csv_records(
    text: str, name: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(spreadsheet row number, cells)]) of a CSV; row 1 is the header.

    The delimiter is sniffed among , ; and tab, so exports from spreadsheets in
    locales that use ";" read too.
    """
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        # The sniffer often misses doubled quotes ("Popov Manor"" …) and then splits
        # such cells; every spreadsheet writes quotes that way (RFC 4180).
        dialect.doublequote = True
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise SpadokError("input.empty", name) from exc
    except csv.Error as exc:
        raise SpadokError("registry.unreadable", f"{name} ({exc})") from exc
    header = [h.strip() for h in header]
    records: list[tuple[int, list[str]]] = []
    try:
        for i, cells in enumerate(reader, start=2):
            if i - 1 > limits.max_registry_rows:
                raise SpadokError(
                    "registry.too_large",
                    f"{name} has more than {limits.max_registry_rows:,} rows",
                )
            records.append((i, cells))
    except csv.Error as exc:
        raise SpadokError("registry.unreadable", f"{name} ({exc})") from exc
    return header, records


# --- text ---------------------------------------------------------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_UK_ONLY = set("іїєґІЇЄҐ")
_RU_ONLY = set("ыэъёЫЭЪЁ")
APOSTROPHES = "'’ʼ`´‘ʹ′"


def clean(text: Any) -> str:
    """A cell as a single-spaced string ('' for None)."""
    if text is None:
        return ""
    return " ".join(str(text).split())


def language_of(text: str, declared: str = "") -> str:
    """The language of a name: the declared tag if any, else uk/ru by letters, else en."""
    declared = (declared or "").strip().lower().split("-")[0]
    if declared and declared.isalpha() and 2 <= len(declared) <= 3:
        return declared
    if _CYRILLIC.search(text):
        letters = set(text)
        if letters & _RU_ONLY and not letters & _UK_ONLY:
            return "ru"
        return "uk"
    return "en"


def normalise_name(text: str) -> str:
    """A name reduced for matching: case, apostrophes, dashes, punctuation and spacing.

    "Church of St. Nicholas  - Borivs'ke" and "church of st nicholas – borivske"
    give the same key; so do "Пам’ятник" and "Пам'ятник".
    """
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    for a in APOSTROPHES:
        text = text.replace(a, "")
    text = re.sub(r"[^\w]+", " ", text)
    # Letters glued to digits or between scripts ("n°1", "церкваSt") get a space.
    text = re.sub(r"(?<=[^\W\d])(?=\d)|(?<=\d)(?=[^\W\d])", " ", text)
    text = re.sub(r"(?<=[a-z])(?=[\u0400-\u04ff])|(?<=[\u0400-\u04ff])(?=[a-z])", " ", text)
    words = text.split()
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]  # "The Holy Transfiguration Church" is "Holy Transfiguration Church"
    return " ".join(words)


# --- dates --------------------------------------------------------------------------

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january", "січ"), ("feb", "february", "лют"), ("mar", "march", "бер"),
            ("apr", "april", "кві"), ("may", "трав"), ("jun", "june", "чер"),
            ("jul", "july", "лип"), ("aug", "august", "сер"), ("sep", "sept", "september", "вер"),
            ("oct", "october", "жов"), ("nov", "november", "лис"), ("dec", "december", "гру"),
        ]
    )
    for m in names
}  # fmt: skip


def parse_date(text: str) -> tuple[date | None, str]:
    """(the first date in ``text``, its precision: "day" | "month" | "year" | "").

    A month or a year is stored as its first day; the precision goes into the
    provenance so nobody reads "2022" as 1 January 2022.
    """
    text = clean(text)
    if not text:
        return None, ""
    patterns: list[tuple[str, str]] = [
        (r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd"),
        (r"(\d{1,2})[./](\d{1,2})[./](\d{4})", "dmy"),
        (r"(\d{4})-(\d{1,2})(?!\d)", "ym"),
        (r"(\d{1,2})\s+([A-Za-zА-Яа-яіїєґ]+)\.?\s+(\d{4})", "d mon y"),
        (r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})", "mon d y"),
        (r"([A-Za-z]+)\.?\s+(\d{4})", "mon y"),
        (r"(?<!\d)(\d{4})(?!\d)", "y"),
    ]
    for pattern, kind in patterns:
        m = re.search(pattern, text)
        if not m:
            continue
        g = m.groups()
        try:
            if kind == "ymd":
                return date(int(g[0]), int(g[1]), int(g[2])), "day"
            if kind == "dmy":
                return date(int(g[2]), int(g[1]), int(g[0])), "day"
            if kind == "ym":
                return date(int(g[0]), int(g[1]), 1), "month"
            if kind == "d mon y":
                month = _month(g[1])
                if month:
                    return date(int(g[2]), month, int(g[0])), "day"
                continue
            if kind == "mon d y":
                month = _month(g[0])
                if month:
                    return date(int(g[2]), month, int(g[1])), "day"
                continue
            if kind == "mon y":
                month = _month(g[0])
                if month:
                    return date(int(g[1]), month, 1), "month"
                continue
            year = int(g[0])
            if 1000 <= year <= 2100:
                return date(year, 1, 1), "year"
        except ValueError:
            continue
    return None, ""


def _month(word: str) -> int | None:
    word = word.lower()
    if word in _MONTHS:
        return _MONTHS[word]
    for key, value in _MONTHS.items():
        if len(key) == 3 and word.startswith(key):
            return value
    return None

"""UNESCO's list of damaged cultural sites in Ukraine, as volunteers published it.

The sheet is messy in the ways such lists are: section rows ("22 sites in the
Chernihiv Region") between the sites, numbering that restarts per section,
points as one "lat, lon" string (or "not found"), dates as "2022-03-12",
"2022-03", "2022", or two dates in one cell, and region names spelt as people
spell them. Section rows are skipped with the reason "section header" and give
the region to the rows under them that name none.

Every site on the list is one UNESCO verified as damaged: each row gives one
UNESCO-verified damage claim (kind "damaged": UNESCO's list does not grade the
damage, and the annotators' notes never raise it). Its date is the first report
the annotators found, kept with its precision as published; their links go to
the claim's references and the whole raw row to the provenance.

The same volunteers annotated the *Science at Risk* list of damaged research
institutions in the same template (its date column is "Date of damage", and it
has fundraising columns). That list is not UNESCO's: its rows give claims of
standing "other" by Science at Risk, never verified ones.
"""

from __future__ import annotations

import re
from typing import Any

from spadok.core.registry.damage import UNESCO_LIST_URL, DamageClaim, parse_dates, urls_in
from spadok.core.registry.geo import UKRAINE, Bounds, parse_lat_lon, valid_point
from spadok.core.registry.regions import region_code
from spadok.core.registry.rows import SiteRow, Skip, clean, language_of
from spadok.core.registry.types import site_type

TITLE = "Title of the damage site in English"
COLUMNS = {
    "title": (TITLE,),
    "uk": ("Name of damanged site in Ukrainian on Google Maps",
           "Name of damaged site in Ukrainian on Google Maps"),
    "alt_en": ("Alternative English name on Google Maps",),
    "include": ("Include or not (Yes/No)",),
    "comment": ("Comment by volunteers",),
    "note": ("Note on Wikipedia",),
    "type": ("Type of damanged site", "Type of damaged site"),
    "region": ("Region",),
    "address": ("Address",),
    "point": ("Geo location",),
    "maps": ("Link to google Maps",),
    "wikipedia_en": ("Wikipedia - English",),
    "wikipedia_uk": ("Wikipedia - Ukrainian",),
    "dbpedia": ("DBpedia",),
    "built": ("Year of construction",),
    "reference": ("Reference to the first reported news article, reports, etc.",
                  "Reference to news articles, reports, etc."),
    "date": ("Date of damage (first reported)", "Date of damage"),
    "references": ("Other reporting references",),
    "media": ("Reports by Media",),
    "website": ("Website",),
    "fundraising": ("Fundraising amount:",),
    "for_what": ("For what:",),
    "qid": ("qid", "QID", "wikidata"),
}  # fmt: skip
UNESCO_DATE = "Date of damage (first reported)"
SCIENCE_AT_RISK_COLUMNS = frozenset({"Fundraising amount:", "Reports by Media"})
SCIENCE_AT_RISK = "Science at Risk"
SCIENCE_AT_RISK_HOST = "scienceatrisk.org"
SECTION = re.compile(r"^\s*(\d+)\s+sites?\s+in\s+(?:the\s+)?(.+?)\s*$", re.IGNORECASE)
NUMBERED = re.compile(r"^\s*\d+\.\s+")
PLACEHOLDER = re.compile(r"(?i)^(not found|n/?a|none|unknown|-+|\?+|немає)$")
SIGNIFICANCE = re.compile(
    r"(?i)(architectural|urban planning|historical|history|archaeological)?\s*monument of "
    r"(local|national) (importance|significance)"
)
QID = re.compile(r"Q\d+")


def looks_like(header: list[str], sample: list[list[str]]) -> bool:
    """The volunteers' template (UNESCO's list, or Science at Risk's in the same columns)."""
    names = {h.strip() for h in header}
    return TITLE in names or {"Geo location", UNESCO_DATE} <= names


def variant(header: list[str]) -> str:
    """Which list in the template this is: "unesco" or "science-at-risk"."""
    names = {h.strip() for h in header}
    if UNESCO_DATE not in names and names & SCIENCE_AT_RISK_COLUMNS:
        return "science-at-risk"
    return "unesco"


def _columns(header: list[str]) -> dict[str, int]:
    index = {h.strip(): i for i, h in enumerate(header)}
    out: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for name in names:
            if name in index:
                out[key] = index[name]
                break
    return out


def read(
    header: list[str],
    records: list[tuple[int, list[str]]],
    *,
    file: str,
    source: str = "unesco",
    bounds: Bounds = UKRAINE,
    list_variant: str = "unesco",
) -> tuple[list[SiteRow], list[Skip]]:
    cols = _columns(header)
    rows: list[SiteRow] = []
    skips: list[Skip] = []
    section, section_region, number_in_section = "", None, ""

    def get(cells: list[str], key: str) -> str:
        col = cols.get(key)
        return clean(cells[col]) if col is not None and col < len(cells) else ""

    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        lead = clean(cells[0]) if cells else ""
        title = NUMBERED.sub("", get(cells, "title")).strip()
        if not title and (m := SECTION.match(lead)):
            section, section_region = lead, region_code(m.group(2))
            skips.append(Skip(file, number, "section_header", f"section header {lead!r}"))
            continue
        number_in_section = lead
        names: dict[str, str] = {}
        if title:
            names[language_of(title)] = title
        aliases: list[str] = []
        for key in ("uk", "alt_en"):
            value = get(cells, key)
            if not value or PLACEHOLDER.match(value):
                continue
            lang = language_of(value)
            if lang not in names:
                names[lang] = value
            elif value != names[lang]:
                aliases.append(value)
        if not names:
            skips.append(Skip(file, number, "no_name", "the row names no site"))
            continue
        raw_point = get(cells, "point")
        lat = lon = None
        if raw_point and not PLACEHOLDER.match(raw_point):
            point = parse_lat_lon(raw_point)
            if point is None or not valid_point(point[0], point[1], bounds):
                why = "cannot be read" if point is None else "is outside the area covered"
                skips.append(
                    Skip(file, number, "bad_coordinates",
                         f"{title or names}: the point {raw_point!r} {why}")
                )  # fmt: skip
                continue
            lat, lon = point
        type_label = get(cells, "type")
        kind = site_type(type_label) or "other"
        if kind == "other":
            kind = site_type(title) or "other"
        raw_date = get(cells, "date")
        if PLACEHOLDER.match(raw_date):
            raw_date = ""
        claim = _claim(get, cells, raw_date, list_variant)
        damage_date, precision = claim.date_start, claim.precision
        status = claim.kind
        address = get(cells, "address")
        row = SiteRow(
            file=file,
            row=number,
            source=source,
            names=names,
            aliases=aliases,
            type=kind,
            designation=_designation(title),
            region_code=region_code(get(cells, "region")) or section_region,
            settlement=_settlement(title, address),
            address=address,
            latitude=lat,
            longitude=lon,
            damage_status=status,
            damage_date=damage_date,
            damage=[claim],
        )
        qid = QID.search(get(cells, "qid"))
        if qid:
            row.wikidata = qid.group(0)
        for key in ("wikipedia_en", "wikipedia_uk", "dbpedia"):
            value = get(cells, key)
            if value and not PLACEHOLDER.match(value) and (":" in value):
                row.external_ids[key] = value
        row.fact = _fact(
            get, cells, section=section, number=number_in_section, status=status,
            damage_date=damage_date, precision=precision, raw_date=raw_date,
            type_label=type_label, raw_point=raw_point, variant=list_variant,
        )  # fmt: skip
        rows.append(row)
    return rows, skips


def _claim(get: Any, cells: list[str], raw_date: str, list_variant: str) -> DamageClaim:
    """The row's account of damage: UNESCO's verification, or Science at Risk's report."""
    start, end, precision = parse_dates(raw_date)
    links: list[str] = []
    for key in ("reference", "media", "references"):
        links += [u for u in urls_in(get(cells, key)) if u not in links]
    if list_variant == "science-at-risk":
        own = next((u for u in links if SCIENCE_AT_RISK_HOST in u), "")
        claim = DamageClaim(
            standing="other", source_name=SCIENCE_AT_RISK, source_url=own,
            date_start=start, date_end=end, precision=precision, date_as_published=raw_date,
        )  # fmt: skip
    else:
        claim = DamageClaim(
            standing="unesco", source_name="UNESCO", source_url=UNESCO_LIST_URL,
            date_start=start, date_end=end, precision=precision, date_as_published=raw_date,
        )  # fmt: skip
    claim.add_references(links)
    return claim


def _designation(title: str) -> str:
    m = SIGNIFICANCE.search(title)
    if not m:
        return ""
    return f"monument of {m.group(2).lower()} significance"


def _settlement(title: str, address: str) -> str:
    """The place named after the dash in a title ("Library – Pidhaine"), or in the address."""
    for dash in (" – ", " — ", " - "):
        if dash in title:
            tail = re.sub(r"\(.*?\)", "", title.rsplit(dash, 1)[1]).strip(" .,")
            if tail and len(tail) <= 40 and tail[0].isupper() and len(tail.split()) <= 3:
                return tail
    parts = [p.strip() for p in address.split(",") if p.strip()]
    for i, part in enumerate(parts):
        if re.search(r"(?i)\b(oblast|область|region)\b", part) and i > 0:
            candidate = parts[i - 1]
            if not re.search(r"\d", candidate):
                return candidate
    return ""


def _fact(get: Any, cells: list[str], **known: Any) -> dict[str, Any]:
    damage: dict[str, Any] = {"kind": known["status"]}
    if known["variant"] == "science-at-risk":
        damage["reported_by"] = SCIENCE_AT_RISK
    else:
        damage["verified_by"] = "UNESCO"
    if known["damage_date"]:
        damage["date"] = known["damage_date"].isoformat()
        damage["precision"] = known["precision"]
    if known["raw_date"]:
        damage["date_as_published"] = known["raw_date"]
    for key in ("reference", "references", "media", "note"):
        if value := get(cells, key):
            damage[key] = value
    fact: dict[str, Any] = {"damage": damage}
    if known["section"]:
        fact["section"] = known["section"]
    if known["number"]:
        fact["number"] = known["number"]
    for key in ("include", "comment", "built", "maps", "website", "fundraising", "for_what"):
        if value := get(cells, key):
            fact[key] = value
    if known["type_label"]:
        fact["class"] = known["type_label"]
    if known["raw_point"]:
        fact["point"] = known["raw_point"]
    return fact

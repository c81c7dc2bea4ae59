"""The public statistics of damage: tables by region, kind, standing, month and 3D coverage.

Only public data: the public events (:func:`spadok.damage.selectors.public_events`)
and the public 3D models (the map's rule). *Verified* means UNESCO-verified;
*reported* means any other standing. The two are kept apart in every table: a
site with a verified event counts as verified; ``reported_sites`` counts sites
with at least one reported event (some of them are verified as well) and
``reported_only_sites`` those known from reported accounts alone, so that
verified + reported only is every damaged site, each once. Sensitive sites are
counted like any other: a table never says more than their region.

Each table is a list of rows (dicts) with a fixed list of columns, so that the
page, the CSV and the JSON export show exactly the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from spadok.core.registry.damage import KINDS, STANDINGS, is_verified
from spadok.damage import presenters
from spadok.damage.selectors import public_events
from spadok.sites.i18n import localized
from spadok.sites.models import Region, Site

NO_REGION = ""  # the row for sites whose region is not known


@dataclass
class Table:
    name: str  # the export's file name: by-region, by-kind, by-standing, by-month, coverage
    title: Any  # lazily translated text, in the reader's language when shown
    definition: Any
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "title": str(self.title),
            "definition": str(self.definition),
            "columns": self.columns,
            "rows": self.rows,
        }


@dataclass
class _Event:
    site: str | None
    region: str
    kind: str
    standing: str
    start: dt.date | None
    precision: str

    @property
    def verified(self) -> bool:
        return is_verified(self.standing)


def _events() -> list[_Event]:
    rows = public_events().values_list(
        "site_id", "site__region_id", "record__site__region_id", "kind", "standing",
        "date_start", "date_precision",
    )  # fmt: skip
    return [
        _Event(site, region or record_region or NO_REGION, kind, standing, start, precision)
        for site, region, record_region, kind, standing, start, precision in rows
    ]


def _region_names(lang: str) -> list[tuple[str, str]]:
    rows = Region.objects.values_list("code", "names").order_by("code")
    return [(code, localized(names, lang) or code) for code, names in rows]


def _site_counts(
    events: list[_Event], key: Callable[[_Event], str]
) -> dict[str, dict[str, set[str]]]:
    """{group: {"verified": site ids, "reported": site ids}} (events without a site count
    as their own subject)."""
    out: dict[str, dict[str, set[str]]] = defaultdict(
        lambda: {"verified": set(), "reported": set()}
    )
    for i, e in enumerate(events):
        subject = e.site or f"record-event-{i}"
        out[key(e)]["verified" if e.verified else "reported"].add(subject)
    return out


def _event_counts(events: list[_Event], key: Callable[[_Event], str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        out[key(e)][0 if e.verified else 1] += 1
    return out


def by_region(lang: str, events: list[_Event] | None = None) -> Table:
    events = _events() if events is None else events
    sites = _site_counts(events, lambda e: e.region)
    counts = _event_counts(events, lambda e: e.region)
    table = Table(
        name="by-region",
        title=_("Damaged sites by region"),
        definition=_(
            "Sites with at least one public damage event, by region. verified_sites: "
            "UNESCO-verified; reported_sites: with an account of any other standing; "
            "reported_only_sites: with reported accounts only. Events are counted the same way."
        ),
        columns=[
            "region", "name", "verified_sites", "reported_sites", "reported_only_sites",
            "verified_events", "reported_events",
        ],
    )  # fmt: skip
    regions = _region_names(lang)
    if sites.get(NO_REGION) or counts.get(NO_REGION):
        regions.append((NO_REGION, str(_("Region not known"))))
    for code, name in regions:
        s = sites.get(code, {"verified": set(), "reported": set()})
        c = counts.get(code, [0, 0])
        table.rows.append(
            {
                "region": code,
                "name": name,
                "verified_sites": len(s["verified"]),
                "reported_sites": len(s["reported"]),
                "reported_only_sites": len(s["reported"] - s["verified"]),
                "verified_events": c[0],
                "reported_events": c[1],
            }
        )
    return table


def by_kind(events: list[_Event] | None = None) -> Table:
    events = _events() if events is None else events
    sites = _site_counts(events, lambda e: e.kind)
    counts = _event_counts(events, lambda e: e.kind)
    table = Table(
        name="by-kind",
        title=_("Damage by kind"),
        definition=_(
            "Public damage events by what the account says happened, and the sites they are "
            "about; verified (UNESCO) and reported (any other standing) apart."
        ),
        columns=["kind", "label", "verified_events", "reported_events", "verified_sites",
                 "reported_sites"],
    )  # fmt: skip
    for kind in KINDS:
        c = counts.get(kind, [0, 0])
        s = sites.get(kind, {"verified": set(), "reported": set()})
        table.rows.append(
            {
                "kind": kind,
                "label": presenters.kind_label(kind),
                "verified_events": c[0],
                "reported_events": c[1],
                "verified_sites": len(s["verified"]),
                "reported_sites": len(s["reported"]),
            }
        )
    return table


def by_standing(events: list[_Event] | None = None) -> Table:
    events = _events() if events is None else events
    table = Table(
        name="by-standing",
        title=_("Damage by whose account"),
        definition=_(
            "Public damage events by the standing of their source, and the sites they are "
            "about. Only UNESCO's verification counts as verified; every other standing is "
            "reported."
        ),
        columns=["standing", "label", "verified", "events", "sites"],
    )
    groups: dict[str, list[_Event]] = defaultdict(list)
    for e in events:
        groups[e.standing].append(e)
    for standing in STANDINGS:
        group = groups.get(standing, [])
        table.rows.append(
            {
                "standing": standing,
                "label": presenters.standing_label(standing),
                "verified": is_verified(standing),
                "events": len(group),
                "sites": len({e.site for e in group if e.site}),
            }
        )
    return table


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def by_month(events: list[_Event] | None = None) -> Table:
    events = _events() if events is None else events
    table = Table(
        name="by-month",
        title=_("Damage over time"),
        definition=_(
            "Public damage events by the month of their date (the start of a period). Events "
            "dated only to a year are in a row for that year (precision year), undated ones "
            "in the last row (precision none): no event is placed in a month it may not "
            "belong to."
        ),
        columns=["period", "precision", "verified_events", "reported_events"],
    )
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    years: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    undated = [0, 0]
    for e in events:
        slot = 0 if e.verified else 1
        if e.start is None:
            undated[slot] += 1
        elif e.precision == "year":
            years[str(e.start.year)][slot] += 1
        else:
            months[_month(e.start)][slot] += 1
    if months:
        first, last = min(months), max(months)
        year, month = int(first[:4]), int(first[5:])
        while (key := f"{year:04d}-{month:02d}") <= last:
            c = months.get(key, [0, 0])
            table.rows.append(
                {"period": key, "precision": "month", "verified_events": c[0],
                 "reported_events": c[1]}
            )  # fmt: skip
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for key in sorted(years):
        c = years[key]
        table.rows.append(
            {"period": key, "precision": "year", "verified_events": c[0], "reported_events": c[1]}
        )
    if any(undated):
        table.rows.append(
            {"period": "", "precision": "none", "verified_events": undated[0],
             "reported_events": undated[1]}
        )  # fmt: skip
    return table


def coverage(lang: str, events: list[_Event] | None = None) -> Table:
    """Sites with and without a public 3D model, by region: all, verified, reported only."""
    from spadok.sites.geojson import public_3d_ids

    events = _events() if events is None else events
    with_3d = public_3d_ids()
    verified: dict[str, set[str]] = defaultdict(set)
    reported: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.site:
            (verified if e.verified else reported)[e.region].add(e.site)
    all_sites: dict[str, set[str]] = defaultdict(set)
    for pk, region in Site.objects.values_list("pk", "region_id"):
        all_sites[region or NO_REGION].add(pk)
    table = Table(
        name="coverage",
        title=_("3D coverage by region"),
        definition=_(
            "Sites in the registry, and damaged sites (UNESCO-verified; reported only), by "
            "region, with and without a public 3D model."
        ),
        columns=[
            "region", "name", "sites", "sites_with_3d", "verified_sites", "verified_with_3d",
            "verified_without_3d", "reported_only_sites", "reported_only_with_3d",
            "reported_only_without_3d",
        ],
    )  # fmt: skip
    regions = _region_names(lang)
    if all_sites.get(NO_REGION):
        regions.append((NO_REGION, str(_("Region not known"))))
    for code, name in regions:
        v = verified.get(code, set())
        r = reported.get(code, set()) - v
        table.rows.append(
            {
                "region": code,
                "name": name,
                "sites": len(all_sites.get(code, ())),
                "sites_with_3d": len(all_sites.get(code, set()) & with_3d),
                "verified_sites": len(v),
                "verified_with_3d": len(v & with_3d),
                "verified_without_3d": len(v - with_3d),
                "reported_only_sites": len(r),
                "reported_only_with_3d": len(r & with_3d),
                "reported_only_without_3d": len(r - with_3d),
            }
        )
    return table


TABLES = ("by-region", "by-kind", "by-standing", "by-month", "coverage")


def table(name: str, lang: str) -> Table:
    """One table by its export name (KeyError for an unknown one)."""
    makers: dict[str, Callable[[], Table]] = {
        "by-region": lambda: by_region(lang),
        "by-kind": by_kind,
        "by-standing": by_standing,
        "by-month": by_month,
        "coverage": lambda: coverage(lang),
    }
    return makers[name]()


def all_tables(lang: str) -> dict[str, Table]:
    """Every table, from one read of the events."""
    events = _events()
    return {
        "by-region": by_region(lang, events),
        "by-kind": by_kind(events),
        "by-standing": by_standing(events),
        "by-month": by_month(events),
        "coverage": coverage(lang, events),
    }


def totals(tables: dict[str, Table]) -> dict[str, int]:
    """The headline figures, from the tables themselves."""
    region_rows = tables["by-region"].rows
    standing_rows = tables["by-standing"].rows
    return {
        "verified_sites": sum(r["verified_sites"] for r in region_rows),
        "reported_only_sites": sum(r["reported_only_sites"] for r in region_rows),
        "verified_events": sum(r["events"] for r in standing_rows if r["verified"]),
        "reported_events": sum(r["events"] for r in standing_rows if not r["verified"]),
    }

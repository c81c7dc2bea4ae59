"""Geometry for the dashboard's server-drawn charts (plain SVG in the templates).

Bars are drawn from the same rows as the tables beside them; verified and
reported are two series, told apart by fill and pattern as well as colour,
and every bar carries its number as text for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

BAR_WIDTH = 100.0  # the bar cell's viewBox width
MONTH_W = 22  # px per month in the over-time chart
BAR_W = 9  # px per bar (two per month)
CHART_H = 200  # px of the bars' area


@dataclass
class Bar:
    key: str
    value: int
    width: float  # 0..BAR_WIDTH


@dataclass
class BarRow:
    row: dict[str, Any]
    bars: list[Bar] = field(default_factory=list)


def bars(rows: list[dict[str, Any]], keys: list[str]) -> list[BarRow]:
    """Each row's bars for ``keys``, on one scale (the largest value of any key)."""
    top = max([int(r.get(k) or 0) for r in rows for k in keys] + [0])
    out = []
    for row in rows:
        values = [int(row.get(k) or 0) for k in keys]
        out.append(
            BarRow(
                row=row,
                bars=[
                    Bar(k, v, round(BAR_WIDTH * v / top, 2) if top else 0.0)
                    for k, v in zip(keys, values, strict=True)
                ],
            )
        )
    return out


@dataclass
class MonthBar:
    period: str
    x: int
    verified: int
    reported: int
    verified_y: float
    verified_h: float
    reported_y: float
    reported_h: float


@dataclass
class MonthsChart:
    width: int
    height: int
    bar_width: int
    bars: list[MonthBar]
    ticks: list[tuple[int, str]]  # (x, year) at each January (and the first month)
    top: int
    others: list[dict[str, Any]]  # the rows dated to a year only, and the undated


def months_chart(rows: list[dict[str, Any]]) -> MonthsChart:
    """Two bars per month (verified left, reported right) on a shared scale."""
    months = [r for r in rows if r["precision"] == "month"]
    top = max([max(r["verified_events"], r["reported_events"]) for r in months] + [0])
    bars_: list[MonthBar] = []
    ticks: list[tuple[int, str]] = []
    for i, r in enumerate(months):
        x = i * MONTH_W
        v, p = r["verified_events"], r["reported_events"]
        vh = CHART_H * v / top if top else 0.0
        ph = CHART_H * p / top if top else 0.0
        bars_.append(
            MonthBar(r["period"], x, v, p, round(CHART_H - vh, 1), round(vh, 1),
                     round(CHART_H - ph, 1), round(ph, 1))
        )  # fmt: skip
        if i == 0 or r["period"].endswith("-01"):
            ticks.append((x, r["period"][:4]))
    return MonthsChart(
        width=max(len(months) * MONTH_W, MONTH_W),
        height=CHART_H,
        bar_width=BAR_W,
        bars=bars_,
        ticks=ticks,
        top=top,
        others=[r for r in rows if r["precision"] != "month"],
    )


def map_labels() -> dict[str, str]:
    """What the choropleth's script writes, in the reader's language."""
    return {
        "verified_sites": _("Sites with UNESCO-verified damage"),
        "reported_only_sites": _("Sites with reported damage only"),
        "none": _("none"),
        "failed": _("The region outlines could not be loaded; the table below has every figure."),
        "noOutlines": _("No region outlines have been imported; the table below has every figure."),
    }

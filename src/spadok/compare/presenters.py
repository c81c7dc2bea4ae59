"""What the comparison pages show, shaped for the templates from the stored report.

Lengths, areas and volumes are in metres when the report says so, otherwise
in "model units" with a note; the report is read tolerantly (a key that a
failed run did not fill is simply not shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from spadok.catalogue.templatetags import spadok_format as fmt
from spadok.compare.forms import capture_label
from spadok.compare.models import Comparison, ComparisonState

STATE_LABELS = {
    ComparisonState.QUEUED: gettext_lazy("Waiting to be compared"),
    ComparisonState.RUNNING: gettext_lazy("Being compared"),
    ComparisonState.READY: gettext_lazy("Ready"),
    ComparisonState.FAILED: gettext_lazy("The comparison failed"),
}
VERDICT_LABELS = {
    "changed": gettext_lazy("Changed"),
    "unchanged": gettext_lazy("No change beyond the threshold"),
    "failed": gettext_lazy("Could not be compared"),
}
STEP_LABELS = {
    "load": gettext_lazy("reading both captures"),
    "sample": gettext_lazy("sampling the surfaces"),
    "align": gettext_lazy("aligning"),
    "distance": gettext_lazy("measuring distances"),
    "volume": gettext_lazy("measuring volumes"),
    "heatmap": gettext_lazy("making the heat map"),
    "done": gettext_lazy("done"),
}


@dataclass
class Figure:
    label: str
    value: str
    note: str = ""
    key: str = ""  # a stable name for tests and scripts (data-figure)


@dataclass
class LegendView:
    gradient: str  # a CSS linear-gradient
    ticks: list[tuple[str, float]] = field(default_factory=list)  # (label, percent from left)
    signed: bool = True
    threshold: str = ""


@dataclass
class ComparisonView:
    comparison: Comparison
    state_label: str
    step_label: str
    percent: int
    before_label: str
    after_label: str
    figures: list[Figure] = field(default_factory=list)
    legend: LegendView | None = None
    urls: dict[str, str] = field(default_factory=dict)
    verdict: str = ""
    verdict_label: str = ""
    unit_known: bool = False
    up_axis: str = "Y"

    @property
    def ready(self) -> bool:
        return self.comparison.state == ComparisonState.READY

    @property
    def active(self) -> bool:
        return self.comparison.state in (ComparisonState.QUEUED, ComparisonState.RUNNING)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def length(value: Any, metres: bool) -> str:
    number = _number(value)
    if number is None:
        return ""
    return fmt.metres(number) if metres else _("%(n)s model units") % {"n": fmt.decimal(number)}


def area(value: Any, metres: bool) -> str:
    number = _number(value)
    if number is None:
        return ""
    return (
        fmt.square_metres(number)
        if metres
        else _("%(n)s square model units") % {"n": fmt.decimal(number)}
    )


def volume(value: Any, metres: bool) -> str:
    number = _number(value)
    if number is None:
        return ""
    return (
        fmt.cubic_metres(number)
        if metres
        else _("%(n)s cubic model units") % {"n": fmt.decimal(number)}
    )


def _percent(value: Any) -> str:
    number = _number(value)
    return "" if number is None else f"{fmt.decimal(round(number * 100, 1))} %"


def figures(report: dict[str, Any]) -> list[Figure]:
    """The measured figures, in the order a reader wants them."""
    metres = bool(report.get("scale_known"))
    out: list[Figure] = []

    def add(key: str, label: str, value: str, note: str = "") -> None:
        if value:
            out.append(Figure(label=label, value=value, note=note, key=key))

    threshold = report.get("threshold") or {}
    source_note = (
        _("set by you")
        if threshold.get("source") == "user"
        else _("three times the alignment noise")
    )
    vol = report.get("volume") or {}
    method = vol.get("method")
    method_note = {
        "voxel": _("measured inside both closed surfaces, on a grid over the changed region"),
        "surface": _("estimated from the distances over the changed area (open surfaces)"),
    }.get(str(method), "")
    if vol.get("indicative"):
        method_note += "; " + _("the change is deep for this method: the figure is indicative only")
    share = _percent(report.get("changed_share"))
    add("changed_area", _("Changed area"), area(report.get("changed_area"), metres),
        _("of the before surface; %(share)s of it") % {"share": share})  # fmt: skip
    if report.get("signed"):
        add("changed_area_lost", _("Area where material was lost"),
            area(report.get("changed_area_lost"), metres))  # fmt: skip
        add("changed_area_added", _("Area where material was added"),
            area(report.get("changed_area_added"), metres))  # fmt: skip
    add("lost_volume", _("Lost volume"), volume(report.get("lost_volume"), metres), method_note)
    add("added_volume", _("Added volume"), volume(report.get("added_volume"), metres), method_note)
    if method is None and report.get("verdict") != "failed":
        add("volume", _("Volume"), _("not measurable"), str(vol.get("note") or ""))
    add("rms", _("Alignment error (RMS)"), length(report.get("rms"), metres),
        _("of the unchanged surface after alignment"))  # fmt: skip
    add("overlap", _("Overlap"), _percent(report.get("overlap")),
        _("of the surface lies where the other capture is"))  # fmt: skip
    add("threshold", _("Change threshold"), length(threshold.get("threshold"), metres), source_note)
    if not metres:
        add("scale", _("Scale"), _("unknown"),
            _("at least one file does not say its unit: lengths, areas and volumes are in the "
              "files' own units, taken to be the same"))  # fmt: skip
    return out


def legend_view(legend: dict[str, Any], metres: bool) -> LegendView | None:
    stops = legend.get("stops") or []
    low, high = _number(legend.get("min")), _number(legend.get("max"))
    if not stops or low is None or high is None or high <= low:
        return None
    span = high - low

    def at(value: float) -> float:
        return round((value - low) / span * 100, 2)

    parts = [f"{s['color']} {at(float(s['value']))}%" for s in stops]
    signed = bool(legend.get("signed"))
    thr = float(legend.get("threshold") or 0)
    ticks = [(length(low, metres), 0.0), (length(high, metres), 100.0)]
    if signed:
        ticks.insert(1, ("0", 50.0))
    return LegendView(
        gradient=f"linear-gradient(to right, {', '.join(parts)})",
        ticks=ticks,
        signed=signed,
        threshold=length(thr, metres),
    )


def comparison_urls(comparison: Comparison) -> dict[str, str]:
    urls = {
        "page": reverse("compare:comparison", args=[comparison.id]),
        "status": reverse("compare:status", args=[comparison.id]),
    }
    for role in comparison.files or {}:
        urls[role] = reverse("compare:file", args=[comparison.id, role])
    return urls


def comparison_view(comparison: Comparison) -> ComparisonView:
    report = comparison.report or {}
    verdict = str(report.get("verdict") or "")
    view = ComparisonView(
        comparison=comparison,
        state_label=str(STATE_LABELS.get(comparison.state, comparison.state)),  # type: ignore[call-overload]
        step_label=str(STEP_LABELS.get(comparison.step, comparison.step or "—")),  # type: ignore[call-overload]
        percent=round((comparison.progress or 0) * 100),
        before_label=capture_label(comparison.before),
        after_label=capture_label(comparison.after),
        urls=comparison_urls(comparison),
        verdict=verdict,
        verdict_label=str(VERDICT_LABELS.get(verdict, "")),  # type: ignore[call-overload]
        unit_known=bool(report.get("scale_known")),
        up_axis=str((report.get("outputs") or {}).get("up_axis") or "Y"),
    )
    if report:
        view.figures = figures(report)
        view.legend = legend_view(report.get("legend") or {}, view.unit_known)
    return view


def status_data(comparison: Comparison) -> dict[str, Any]:
    return {
        "state": comparison.state,
        "state_label": str(STATE_LABELS.get(comparison.state, comparison.state)),  # type: ignore[call-overload]
        "step": comparison.step,
        "step_label": str(STEP_LABELS.get(comparison.step, comparison.step)),  # type: ignore[call-overload]
        "progress": round(comparison.progress or 0, 3),
        "error_code": comparison.error_code,
        "error_message": comparison.error_message,
    }

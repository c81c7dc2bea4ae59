"""What the public pages show about a record, shaped for the templates.

Views call these; templates only lay the result out. Statistics come from
``Capture.stats`` as the core library wrote them, read tolerantly: a key the
pipeline did not fill is simply not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from spadok.catalogue.models import Capture, CaptureState, Derivative, Record
from spadok.catalogue.templatetags import spadok_format as fmt

# Units a model file may declare, in metres.
UNIT_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "km": 1000.0, "in": 0.0254, "ft": 0.3048}

LOD_LABELS = {
    "web-high": _("High detail"),
    "web-medium": _("Medium detail"),
    "web-low": _("Low detail"),
    "web-points": _("Points"),
}
ROLE_LABELS = {**LOD_LABELS, "thumbnail": _("Preview image")}
STATE_LABELS = {
    CaptureState.RECEIVED: _("Received, waiting to be processed"),
    CaptureState.PROCESSING: _("Being processed"),
    CaptureState.READY: _("Ready"),
    CaptureState.FAILED: _("Processing failed"),
}
KIND_LABELS = {
    "mesh": _("Mesh"),
    "scene": _("Scene"),
    "pointcloud": _("Point cloud"),
    "splat": _("Gaussian splats"),
}


@dataclass
class Fact:
    label: str
    value: str
    note: str = ""


@dataclass
class Lod:
    role: str
    label: str
    url: str
    size: int
    detail: str  # "12,345 triangles"


@dataclass
class Download:
    name: str
    url: str
    size: int
    sha256: str = ""
    note: str = ""


@dataclass
class CaptureView:
    capture: Capture
    state_label: str
    kind_label: str
    percent: int
    facts: list[Fact] = field(default_factory=list)
    lods: list[Lod] = field(default_factory=list)
    originals: list[Download] = field(default_factory=list)
    web_copies: list[Download] = field(default_factory=list)
    poster_url: str = ""

    @property
    def ready(self) -> bool:
        return self.capture.state == CaptureState.READY


@dataclass
class Card:
    record: Record
    url: str
    thumbnail_url: str
    format: str
    kind_label: str
    size: int
    detail: str


def file_url(record: Record, capture: Capture, kind: str, name: str) -> str:
    return reverse("catalogue:file", args=[record.id, capture.id, kind, name])


def _first(stats: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = stats.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _dimensions(stats: dict[str, Any]) -> list[float] | None:
    """Width, depth, height of the bounding box, from whichever form the stats hold."""
    dims = _first(stats, "dimensions", "extent", "extents", "size")
    if isinstance(dims, list | tuple) and len(dims) == 3:
        return [float(d) for d in dims]
    bounds = _first(stats, "bounds", "bbox")
    if isinstance(bounds, dict) and "min" in bounds and "max" in bounds:
        bounds = [bounds["min"], bounds["max"]]
    if isinstance(bounds, list | tuple) and len(bounds) == 2:
        lo, hi = bounds
        if len(lo) == 3 and len(hi) == 3:
            return [float(h) - float(lo_) for lo_, h in zip(lo, hi, strict=True)]
    return None


def _count_detail(stats: dict[str, Any]) -> str:
    if tris := _first(stats, "triangles", "faces"):
        return f"{fmt.count(tris)} {_('triangles')}"
    if points := _first(stats, "points"):
        return f"{fmt.count(points)} {_('points')}"
    if splats := _first(stats, "splats"):
        return f"{fmt.count(splats)} {_('splats')}"
    return ""


def _textures(stats: dict[str, Any]) -> str:
    textures = _first(stats, "textures")
    if isinstance(textures, int):
        return fmt.count(textures)
    if not isinstance(textures, list):
        return ""
    sizes = []
    for tex in textures:
        if isinstance(tex, dict) and tex.get("width") and tex.get("height"):
            sizes.append(f"{tex['width']}×{tex['height']}")
        elif isinstance(tex, list | tuple) and len(tex) == 2:
            sizes.append(f"{tex[0]}×{tex[1]}")
    if not sizes:
        return fmt.count(len(textures))
    shown = ", ".join(sizes[:6]) + (" …" if len(sizes) > 6 else "")
    return f"{fmt.count(len(textures))}: {shown}"


def _yes_no(value: Any) -> str:
    return str(_("yes")) if value else str(_("no"))


def capture_facts(capture: Capture) -> list[Fact]:
    """The capture's statistics in human terms."""
    stats = capture.stats or {}
    facts: list[Fact] = []
    if tris := _first(stats, "triangles", "faces"):
        facts.append(Fact(str(_("Triangles")), fmt.count(tris)))
    if verts := _first(stats, "vertices"):
        facts.append(Fact(str(_("Vertices")), fmt.count(verts)))
    if points := _first(stats, "points"):
        facts.append(Fact(str(_("Points")), fmt.count(points)))
    if splats := _first(stats, "splats"):
        facts.append(Fact(str(_("Splats")), fmt.count(splats)))

    unit = stats.get("unit")
    scale = UNIT_METRES.get(str(unit)) if unit else None
    dims = _dimensions(stats)
    if dims:
        if scale is not None:
            value = " × ".join(fmt.metres(d * scale) for d in dims)
            facts.append(Fact(str(_("Size (W × D × H)")), value))
        else:
            value = " × ".join(fmt.decimal(d) for d in dims)
            note = str(_("the file does not say its unit"))
            facts.append(Fact(str(_("Size (W × D × H)")), value, note))
    if (area := _first(stats, "area", "surface_area")) is not None:
        if scale is not None:
            facts.append(Fact(str(_("Surface area")), fmt.square_metres(area * scale**2)))
        else:
            facts.append(Fact(str(_("Surface area")), fmt.decimal(area), str(_("model units"))))
    watertight = _first(stats, "watertight", "is_watertight")
    if watertight is not None:
        facts.append(Fact(str(_("Watertight (closed surface)")), _yes_no(watertight)))
    volume = _first(stats, "volume")
    if volume is not None and watertight is not False:
        if scale is not None:
            facts.append(Fact(str(_("Volume")), fmt.cubic_metres(volume * scale**3)))
        else:
            facts.append(Fact(str(_("Volume")), fmt.decimal(volume), str(_("model units"))))
    if textures := _textures(stats):
        facts.append(Fact(str(_("Textures")), textures))
    colour = _first(stats, "vertex_colors", "has_colors", "colors", "color")
    if colour is not None:
        value = colour if isinstance(colour, str) else _yes_no(colour)
        facts.append(Fact(str(_("Colour")), str(value)))
    if unit:
        facts.append(Fact(str(_("Unit in the file")), str(unit)))
    if crs := _first(stats, "crs"):
        facts.append(Fact(str(_("Coordinate system")), str(crs)))
    if up := stats.get("up_axis"):
        facts.append(Fact(str(_("Up axis")), str(up)))
    return facts


def _lods(record: Record, capture: Capture) -> list[Lod]:
    return [
        Lod(
            role=d.role,
            label=str(LOD_LABELS.get(d.role, d.role)),
            url=file_url(record, capture, "derivative", d.role),
            size=d.size,
            detail=_count_detail(d.stats or {}),
        )
        for d in capture.web_derivatives()
    ]


def _web_copy(record: Record, capture: Capture, d: Derivative) -> Download:
    ext = d.key.rsplit(".", 1)[-1].upper() if "." in d.key else ""
    detail = _count_detail(d.stats or {})
    return Download(
        name=f"{ROLE_LABELS.get(d.role, d.role)} ({ext})" if ext else str(d.role),
        url=file_url(record, capture, "derivative", d.role) + "?download=1",
        size=d.size,
        sha256=d.sha256,
        note=detail,
    )


def capture_view(record: Record, capture: Capture) -> CaptureView:
    view = CaptureView(
        capture=capture,
        state_label=str(STATE_LABELS.get(capture.state, capture.state)),  # type: ignore[call-overload]
        kind_label=str(KIND_LABELS.get(capture.kind, capture.kind or "")),
        percent=max(0, min(100, round((capture.progress or 0) * 100))),
    )
    view.originals = [
        Download(
            name=o["path"],
            url=file_url(record, capture, "original", o["path"]),
            size=int(o.get("size", 0)),
            sha256=o.get("sha256", ""),
        )
        for o in capture.originals
    ]
    if capture.state != CaptureState.READY:
        return view
    view.facts = capture_facts(capture)
    view.lods = _lods(record, capture)
    order = {"web-high": 0, "web-medium": 1, "web-low": 2, "web-points": 3, "thumbnail": 9}
    derivs = sorted(capture.derivatives.all(), key=lambda d: order.get(d.role, 5))
    view.web_copies = [_web_copy(record, capture, d) for d in derivs]
    thumb = capture.derivative("thumbnail")
    if thumb is not None:
        view.poster_url = file_url(record, capture, "derivative", "thumbnail")
    return view


def record_card(record: Record) -> Card:
    """A browse-grid card: the newest ready capture stands for the record."""
    captures = [c for c in record.captures.all() if c.state == CaptureState.READY]
    capture = captures[0] if captures else None
    thumb = capture.derivative("thumbnail") if capture else None
    return Card(
        record=record,
        url=record.get_absolute_url(),
        thumbnail_url=file_url(record, capture, "derivative", "thumbnail")
        if capture and thumb
        else "",
        format=(capture.format or "").upper() if capture else "",
        kind_label=str(KIND_LABELS.get(capture.kind, capture.kind)) if capture else "",
        size=capture.original_bytes if capture else 0,
        detail=_count_detail(capture.stats or {}) if capture else "",
    )


__all__ = [
    "Card",
    "CaptureView",
    "Download",
    "Fact",
    "Lod",
    "capture_facts",
    "capture_view",
    "record_card",
]

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
from django.utils.translation import ngettext

from spadok.catalogue import selectors
from spadok.catalogue.models import Capture, CaptureState, Derivative, Record, Visibility
from spadok.catalogue.templatetags import spadok_format as fmt

# Units a model file may declare, in metres.
UNIT_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "km": 1000.0, "in": 0.0254, "ft": 0.3048}

LOD_LABELS = {
    "web-high": _("High detail"),
    "web-medium": _("Medium detail"),
    "web-low": _("Low detail"),
    "web-points": _("Points"),
}
ROLE_LABELS = {
    **LOD_LABELS,
    "thumbnail": _("Preview image"),
    "web-lod": _("Point tiles: index"),
    "web-lod-data": _("Point tiles: data"),
}
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
class PointLod:
    """The streaming point viewer's two files (the octree index and its tiles)."""

    index_url: str
    data_url: str
    points: int
    size: int  # bytes of every tile together


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
    point_lod: PointLod | None = None  # big point clouds: tiles streamed by level of detail
    history: list[Any] | None = None  # preservation events, for staff only (None: not shown)
    location: Location | None = None
    manage_url: str = ""  # the capture's own page, for its contributor and reviewers
    credit: str = ""  # "Captured by": the display name, only if its contributor chose credit

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
    """Width, depth, height of the bounding box in the model's own units."""
    size = stats.get("size")
    if isinstance(size, list | tuple) and len(size) == 3:
        return [float(d) for d in size]
    bbox = stats.get("bbox")
    if isinstance(bbox, dict) and "min" in bbox and "max" in bbox:
        return [float(h) - float(lo) for lo, h in zip(bbox["min"], bbox["max"], strict=True)]
    return None


def _plural_n(value: Any) -> int:
    """The number that picks a plural form; 0 (the "many" form) if it is not one."""
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _count_detail(stats: dict[str, Any]) -> str:
    # ngettext, not "{count} {_('triangles')}": Ukrainian has three plural forms.
    if tris := _first(stats, "triangles", "faces"):
        n = _plural_n(tris)
        return ngettext("%(n)s triangle", "%(n)s triangles", n) % {"n": fmt.count(tris)}
    if points := _first(stats, "points"):
        n = _plural_n(points)
        return ngettext("%(n)s point", "%(n)s points", n) % {"n": fmt.count(points)}
    if splats := _first(stats, "splats"):
        n = _plural_n(splats)
        return ngettext("%(n)s splat", "%(n)s splats", n) % {"n": fmt.count(splats)}
    return ""


def _textures(stats: dict[str, Any]) -> str:
    """ "2: 4096×4096 JPEG, 1024×1024 PNG" """
    textures = stats.get("textures")
    if not isinstance(textures, list) or not textures:
        return ""
    sizes = []
    for tex in textures:
        if isinstance(tex, dict) and tex.get("width") and tex.get("height"):
            kind = str(tex.get("format") or "").upper()
            sizes.append(f"{tex['width']}×{tex['height']} {kind}".strip())
    shown = ", ".join(sizes[:6]) + (" …" if len(sizes) > 6 else "")
    return f"{fmt.count(len(textures))}: {shown}" if shown else fmt.count(len(textures))


def _yes_no(value: Any) -> str:
    return str(_("yes")) if value else str(_("no"))


def _measure(
    stats: dict[str, Any], key: str, key_m: str, power: int, as_metres: Any
) -> tuple[str, str] | None:
    """A length, area or volume: in metres when the unit is known, else in model units."""
    in_metres = stats.get(key_m)
    if in_metres is not None:
        return as_metres(in_metres), ""
    raw = stats.get(key)
    if raw is None:
        return None
    scale = UNIT_METRES.get(str(stats.get("unit") or ""))
    if scale is not None:
        return as_metres(float(raw) * scale**power), ""
    return fmt.decimal(raw), str(_("model units; the file does not say which"))


def capture_facts(capture: Capture) -> list[Fact]:
    """The capture's statistics (as :mod:`spadok.core.stats` wrote them) in human terms."""
    stats = capture.stats or {}
    facts: list[Fact] = []

    def add(label: Any, value: Any, note: str = "") -> None:
        facts.append(Fact(str(label), str(value), note))

    if tris := stats.get("triangles"):
        add(_("Triangles"), fmt.count(tris))
    if verts := stats.get("vertices"):
        add(_("Vertices"), fmt.count(verts))
    if points := stats.get("points"):
        note = str(_("the web copy shows a sample")) if stats.get("sampled") else ""
        add(_("Points"), fmt.count(points), note)
    if splats := stats.get("splats"):
        add(_("Splats"), fmt.count(splats))

    dims_m = stats.get("dimensions_m")
    dims = _dimensions(stats)
    scale = UNIT_METRES.get(str(stats.get("unit") or ""))
    if isinstance(dims_m, list) and len(dims_m) == 3:
        add(_("Size (W × D × H)"), " × ".join(fmt.metres(d) for d in dims_m))
    elif dims and scale is not None:
        add(_("Size (W × D × H)"), " × ".join(fmt.metres(d * scale) for d in dims))
    elif dims:
        note = str(_("model units; the file does not say which"))
        add(_("Size (W × D × H)"), " × ".join(fmt.decimal(d) for d in dims), note)

    area = _measure(stats, "surface_area", "surface_area_m2", 2, fmt.square_metres)
    if area and stats.get("surface_area"):
        add(_("Surface area"), *area)
    if "watertight" in stats and stats.get("triangles"):
        add(_("Closed surface (watertight)"), _yes_no(stats["watertight"]))
    volume = _measure(stats, "volume", "volume_m3", 3, fmt.cubic_metres)
    if volume and stats.get("watertight"):
        add(_("Volume"), *volume)
    if (components := stats.get("components")) and components > 1:
        add(_("Separate parts"), fmt.count(components))

    if textures := _textures(stats):
        add(_("Textures"), textures)
    elif stats.get("triangles"):
        add(_("Textures"), _("none"))
    colour = stats.get("has_vertex_colors", stats.get("has_colors"))
    if colour is not None:
        add(_("Colour per vertex") if stats.get("triangles") else _("Colour"), _yes_no(colour))
    if materials := stats.get("materials"):
        add(_("Materials"), fmt.count(materials))
    unit = stats.get("unit")
    add(_("Unit in the file"), unit or _("not stated"))
    if crs := stats.get("crs"):
        add(_("Coordinate reference system"), crs)
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


def _point_lod(record: Record, capture: Capture) -> PointLod | None:
    index, data = capture.derivative("web-lod"), capture.derivative("web-lod-data")
    if index is None or data is None:
        return None
    return PointLod(
        index_url=file_url(record, capture, "derivative", "web-lod"),
        data_url=file_url(record, capture, "derivative", "web-lod-data"),
        points=int((index.stats or {}).get("points") or 0),
        size=data.size,
    )


def _web_copy(record: Record, capture: Capture, d: Derivative) -> Download:
    ext = d.key.rsplit(".", 1)[-1].upper() if "." in d.key else ""
    detail = _count_detail(d.stats or {}) if d.role != "thumbnail" else ""
    return Download(
        name=f"{ROLE_LABELS.get(d.role, d.role)} ({ext})" if ext else str(d.role),
        url=file_url(record, capture, "derivative", d.role) + "?download=1",
        size=d.size,
        sha256=d.sha256,
        note=detail,
    )


def credit_for(capture: Capture) -> str:
    """The name a public page may credit for a capture: the contributor's pseudonymous
    display name when they chose "credit me", else nothing (never a user name or email).

    The one place that decides it: pages, the JSON views and the API use it.
    """
    if capture.contributor_id is None:
        return ""
    from spadok.accounts.models import Profile

    try:
        profile = capture.contributor.profile  # type: ignore[union-attr]
    except Profile.DoesNotExist:
        return ""
    if not profile.credit_me:
        return ""
    return str(profile.display_name).strip()


def capture_view(record: Record, capture: Capture, user: Any = None) -> CaptureView:
    view = CaptureView(
        capture=capture,
        state_label=str(STATE_LABELS.get(capture.state, capture.state)),  # type: ignore[call-overload]
        kind_label=str(KIND_LABELS.get(capture.kind, capture.kind or "")),
        percent=max(0, min(100, round((capture.progress or 0) * 100))),
        credit=credit_for(capture),
    )
    view.originals = [
        Download(
            name=o["path"],
            url=(
                file_url(record, capture, "original", o["path"])
                if selectors.sees_originals(user, capture)
                else ""
            ),
            size=int(o.get("size", 0)),
            sha256=o.get("sha256", ""),
        )
        for o in capture.originals
    ]
    if capture.state != CaptureState.READY:
        return view
    view.facts = capture_facts(capture)
    view.lods = _lods(record, capture)
    view.point_lod = _point_lod(record, capture)
    order = {"web-high": 0, "web-medium": 1, "web-low": 2, "web-points": 3, "web-lod": 4}
    order |= {"web-lod-data": 5, "thumbnail": 9}
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


COARSE_DEGREES = 0.1  # "coarse" records show the location rounded to this
COARSE_PRECISION_M = 11_000  # about 0.1° of latitude


@dataclass
class Location:
    latitude: float
    longitude: float
    precision_m: float | None
    exact: bool


def location_for(record: Record, capture: Capture, *, exact: bool) -> Location | None:
    """Where a capture was made, as far as this viewer may know it.

    ``exact`` (reviewers, curators, the capture's contributor) gets the point
    as given; the public gets a point rounded to 0.1° on "coarse" records and
    nothing on any other.
    """
    if capture.latitude is None or capture.longitude is None:
        return None
    if exact:
        return Location(capture.latitude, capture.longitude, capture.location_precision_m, True)
    if record.visibility != Visibility.COARSE:
        return None
    return Location(
        round(round(capture.latitude / COARSE_DEGREES) * COARSE_DEGREES, 1),
        round(round(capture.longitude / COARSE_DEGREES) * COARSE_DEGREES, 1),
        float(COARSE_PRECISION_M),
        False,
    )


__all__ = [
    "CaptureView",
    "Card",
    "Download",
    "Fact",
    "Location",
    "Lod",
    "capture_facts",
    "capture_view",
    "credit_for",
    "location_for",
    "record_card",
]


VERDICT_LABELS = {
    "good": _("good"),
    "usable": _("usable"),
    "poor": _("poor"),
    "failed": _("failed"),
}
# What each piece of processing advice asks for, in the reader's language; the
# report's own sentence (with its counts and photo names) is shown beside it.
ADVICE_LABELS = {
    "blurry": _("Some photos are too blurry: take them again holding the camera still."),
    "too_few_photos": _("Too few photos: take at least 20, walking around the object."),
    "not_registered": _("Some photos could not be placed: add photos between them."),
    "coverage_gap": _("One side has no photos: take more from that side."),
    "no_overlap": _("The photos do not overlap enough: take photos a step apart."),
    "no_dense": _("The surface could not be matched in detail: take closer photos in even light."),
    "untextured": _("Part of the surface was not seen clearly by any photo."),
}


@dataclass
class AdviceView:
    code: str
    label: str
    detail: str


@dataclass
class ReconstructionView:
    verdict: str
    verdict_label: str
    kind: str
    images_total: int
    registered: int
    triangles: int
    textured_percent: int
    metric: bool
    advice: list[AdviceView]


def reconstruction_view(capture: Capture) -> ReconstructionView | None:
    """The verdict of a reconstructed capture (photos, video, LiDAR) and what to do next."""
    data = (capture.stats or {}).get("reconstruction")
    if not isinstance(data, dict):
        return None
    verdict = str(data.get("verdict") or "failed")
    return ReconstructionView(
        verdict=verdict,
        verdict_label=str(VERDICT_LABELS.get(verdict, verdict)),
        kind=str(data.get("kind") or ""),
        images_total=int(data.get("images_total") or 0),
        registered=int(data.get("registered") or 0),
        triangles=int(data.get("triangles") or 0),
        textured_percent=round(float(data.get("textured_fraction") or 0) * 100),
        metric=data.get("units") == "metres",
        advice=[
            AdviceView(
                code=str(a.get("code", "")),
                label=str(ADVICE_LABELS.get(str(a.get("code", "")), "")),
                detail=str(a.get("message", "")),
            )
            for a in data.get("advice") or []
            if isinstance(a, dict)
        ],
    )

"""LAS 1.0-1.4, LAZ and COPC point clouds (aerial and terrestrial LiDAR).

laspy (with lazrs for LAZ) does the decoding, always in chunks of
:data:`CHUNK_SIZE` points: one pass gives the exact facts (count, bounds,
classes) and a uniform sample of at most :data:`SAMPLE_TARGET` points, so a
2-billion-point survey never has to fit in memory; later passes (the octree
of web tiles) read the file again through :class:`LasStream`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.formats.base import (
    Asset,
    FormatSpec,
    PointChunk,
    Resolver,
    check_vertex_limit,
    read_head,
)
from spadok.core.limits import Limits

log = logging.getLogger(__name__)

# At most this many points are kept in memory, as a uniform sample (the web GLB's size).
SAMPLE_TARGET = 2_000_000
# Points decoded at a time: about 60 MB of temporaries, whatever the file's size.
CHUNK_SIZE = 1_000_000

# pyproj's names for linear units -> the short names Asset.unit uses.
_UNITS = {
    "metre": "m",
    "meter": "m",
    "foot": "ft",
    "us survey foot": "us-ft",
    "foot_survey_us": "us-ft",
    "centimetre": "cm",
    "millimetre": "mm",
}


def _copc_info_first(head: bytes) -> bool:
    """COPC puts its "copc" info VLR directly after the header; nothing else does."""
    if len(head) < 96:
        return False
    header_size = struct.unpack_from("<H", head, 94)[0]
    vlr_user = head[header_size + 2 : header_size + 18]
    return vlr_user.rstrip(b"\x00") == b"copc"


def _compressed(head: bytes) -> bool:
    # LAZ sets bit 7 (and, in some old writers, bit 6) of the point format id.
    return len(head) > 104 and head[104] & 0xC0 != 0


def _sniff(head: bytes, path: Path, want: str) -> int:
    if not head.startswith(b"LASF"):
        return 0
    if _copc_info_first(head):
        kind = "copc"
    elif _compressed(head):
        kind = "laz"
    else:
        kind = "las"
    return 2 if kind == want else 0


def sniff_las(head: bytes, path: Path) -> int:
    return _sniff(head, path, "las")


def sniff_laz(head: bytes, path: Path) -> int:
    return _sniff(head, path, "laz")


def sniff_copc(head: bytes, path: Path) -> int:
    return _sniff(head, path, "copc")


def _crs(header: Any) -> tuple[str | None, str | None]:
    """CRS as "EPSG:n" (or WKT when it has no code) and its linear unit."""
    try:
        crs = header.parse_crs()
    except Exception as exc:  # a broken WKT/GeoTIFF VLR must not lose the points
        log.debug("unreadable CRS: %s", exc)
        return None, None
    if crs is None:
        return None, None
    epsg = None
    for candidate in (crs, getattr(crs, "source_crs", None)):
        # A BoundCRS (a CRS plus a datum shift) has its EPSG code on its source.
        try:
            epsg = candidate.to_epsg() if candidate is not None else None
        except Exception:
            epsg = None
        if epsg:
            break
    text = f"EPSG:{epsg}" if epsg else crs.to_wkt()
    unit = None
    for axis in crs.axis_info:
        name = (axis.unit_name or "").lower()
        if name in _UNITS:
            unit = _UNITS[name]
            break
    return text, unit


class LasStream:
    """A LAS/LAZ/COPC file as a :class:`~spadok.core.formats.base.PointStream`.

    Each pass opens the file afresh and decodes ``size`` points at a time
    (laspy's ``chunk_iterator``); a file shorter than its header says, or
    a broken LAZ chunk, is ``format.corrupt`` on whichever pass meets it.
    """

    def __init__(self, path: Path, count: int, dims: set[str]) -> None:
        self.path = path
        self.count = count
        self.has_rgb = {"red", "green", "blue"} <= dims
        self.has_classes = "classification" in dims

    def chunks(self, size: int) -> Iterator[PointChunk]:
        import laspy
        import laspy.errors

        read = 0
        try:
            with laspy.open(self.path) as reader:
                for points in reader.chunk_iterator(size):
                    n = len(points)
                    if n == 0:
                        break
                    read += n
                    yield _chunk(points, self.has_rgb, self.has_classes)
        except (laspy.errors.LaspyException, ValueError, struct.error, EOFError) as exc:
            raise SpadokError("format.corrupt", f"{self.path.name}: {exc}") from exc
        except RuntimeError as exc:  # lazrs reports broken chunks this way
            raise SpadokError("format.corrupt", f"{self.path.name}: {exc}") from exc
        if read < self.count:
            raise SpadokError(
                "format.corrupt",
                f"{self.path.name}: header says {self.count:,} points, found {read:,}",
            )


def _chunk(points: Any, has_rgb: bool, has_classes: bool) -> PointChunk:
    xyz = np.empty((len(points), 3), np.float64)
    xyz[:, 0], xyz[:, 1], xyz[:, 2] = points.x, points.y, points.z
    rgb = None
    if has_rgb:
        rgb = np.empty((len(points), 3), np.uint16)
        rgb[:, 0], rgb[:, 1], rgb[:, 2] = points.red, points.green, points.blue
    return PointChunk(
        positions=xyz,
        colors=rgb,
        intensity=np.asarray(points.intensity).astype(np.uint16),
        classification=np.asarray(points.classification).astype(np.uint8) if has_classes else None,
    )


def load(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    """Read a LAS/LAZ/COPC file in one streamed pass: exact facts and a bounded sample.

    The asset's ``points`` hold at most :data:`SAMPLE_TARGET` points (all of
    them for smaller clouds); ``stream`` reads the whole cloud again for the
    octree of web tiles. Memory stays at about one chunk plus the sample.
    """
    import laspy
    import laspy.errors

    from spadok.core.pointstream import scan

    head = read_head(path)
    fmt = "copc" if _copc_info_first(head) else "laz" if _compressed(head) else "las"
    try:
        reader = laspy.open(path)
    except (laspy.errors.LaspyException, ValueError, struct.error, EOFError, OSError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
    with reader:
        header = reader.header
    count = int(header.point_count)
    check_vertex_limit(count, limits, "points")
    if count == 0:
        raise SpadokError("geometry.empty", f"{path.name} holds no points")
    pf = header.point_format
    dims = set(pf.dimension_names)
    stream = LasStream(path, count, dims)
    sample, facts = scan(stream, sample_size=SAMPLE_TARGET, chunk_size=CHUNK_SIZE)
    crs, unit = _crs(header)
    classes = facts.get("classes") or {}
    extra: dict[str, Any] = {
        "version": str(header.version),
        "point_format": int(pf.id),
        "compressed": fmt != "las",
        "scales": [float(v) for v in header.scales],
        "offsets": [float(v) for v in header.offsets],
        "bbox": [
            [float(v) for v in header.mins],
            [float(v) for v in header.maxs],
        ],
        "extra_dimensions": list(pf.extra_dimension_names),
        "classification": any(c != "0" for c in classes),
        "has_color": stream.has_rgb,
        "evlr_count": len(getattr(header, "evlrs", None) or []),
    }
    if facts["sampled"]:
        extra["sampled"] = True
        extra["sample_points"] = facts["sample_points"]
    mime = {
        "las": "application/vnd.las",
        "laz": "application/vnd.laszip",
        "copc": "application/vnd.laszip+copc",
    }[fmt]
    return Asset(
        kind="pointcloud",
        format=fmt,
        mime=mime,
        primary=path,
        points=sample,
        stream=stream,
        point_facts=facts,
        unit=unit,
        crs=crs,
        extra=extra,
    )


def save(asset: Asset, path: Path) -> None:
    """Write the asset's points as LAS 1.4 (LAZ when the name ends in .laz)."""
    import laspy

    if asset.points is None:
        raise SpadokError("geometry.empty", "no points to write")
    pts = asset.points
    has_rgb = pts.colors is not None
    header = laspy.LasHeader(point_format=7 if has_rgb else 6, version="1.4")
    pos = np.asarray(pts.positions, dtype=np.float64)
    if len(pos):
        header.offsets = np.floor(pos.min(axis=0))
    header.scales = np.array([0.001, 0.001, 0.001])
    las = laspy.LasData(header)
    las.x, las.y, las.z = pos[:, 0], pos[:, 1], pos[:, 2]
    if has_rgb:
        rgb = np.asarray(pts.colors)[:, :3].astype(np.uint16) * 257
        las.red, las.green, las.blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    if "intensity" in pts.attributes:
        las.intensity = np.asarray(pts.attributes["intensity"]).astype(np.uint16)
    las.write(str(path))


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="las",
        family="las",
        mime="application/vnd.las",
        extensions=(".las",),
        sniff=sniff_las,
        load=load,
        save=save,
        description="ASPRS LAS point cloud (1.0-1.4)",
    ),
    FormatSpec(
        name="laz",
        family="las",
        mime="application/vnd.laszip",
        extensions=(".laz",),
        sniff=sniff_laz,
        load=load,
        save=save,
        description="LASzip-compressed LAS point cloud",
    ),
    FormatSpec(
        name="copc",
        family="las",
        mime="application/vnd.laszip+copc",
        extensions=(".copc.laz",),
        sniff=sniff_copc,
        load=load,
        description="Cloud-Optimized Point Cloud (COPC, LAZ 1.4 with an octree)",
    ),
]

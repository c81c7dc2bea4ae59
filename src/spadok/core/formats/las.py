"""LAS 1.0-1.4, LAZ and COPC point clouds (aerial and terrestrial LiDAR).

laspy (with lazrs for LAZ) does the decoding. Clouds larger than
:data:`CHUNK_THRESHOLD` points are streamed in chunks and sampled down to
about :data:`SAMPLE_TARGET` points, so a 2-billion-point survey never has to
fit in memory; the true count and the exact bounds come from the header.
"""

from __future__ import annotations

import logging
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.formats.base import (
    Asset,
    FormatSpec,
    PointSet,
    Resolver,
    check_vertex_limit,
    read_head,
)
from spadok.core.limits import Limits

log = logging.getLogger(__name__)

# Above this many points the cloud is read in chunks and sampled.
CHUNK_THRESHOLD = 20_000_000
# About how many points a sampled cloud keeps in memory.
SAMPLE_TARGET = 5_000_000
CHUNK_SIZE = 2_000_000

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


def _to_uint8(channels: list[np.ndarray]) -> np.ndarray:
    """LAS colours are 16-bit, but many writers store 8-bit values in them."""
    rgb = np.stack([np.asarray(c) for c in channels], axis=1)
    if rgb.size and rgb.max() > 255:
        rgb = rgb >> 8
    return rgb.astype(np.uint8)


def _chunk_arrays(points: Any, has_rgb: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    xyz = np.stack([np.asarray(points.x), np.asarray(points.y), np.asarray(points.z)], axis=1)
    rgb = _to_uint8([points.red, points.green, points.blue]) if has_rgb else None
    intensity = np.asarray(points.intensity).astype(np.uint16)
    return xyz.astype(np.float64), rgb, intensity


def load(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    """Read a LAS/LAZ/COPC file; sample clouds too large to hold."""
    import laspy
    import laspy.errors

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
        has_rgb = {"red", "green", "blue"} <= dims
        sampled = count > CHUNK_THRESHOLD
        step = max(1, math.ceil(count / SAMPLE_TARGET)) if sampled else 1
        xyz_parts: list[np.ndarray] = []
        rgb_parts: list[np.ndarray] = []
        int_parts: list[np.ndarray] = []
        classes_seen = False
        read = 0
        try:
            chunk = CHUNK_SIZE if sampled else count
            for points in reader.chunk_iterator(chunk):
                n = len(points)
                if n == 0:
                    break
                if sampled:
                    # Systematic sample: every step-th point across the whole file.
                    first = (-read) % step
                    points = points[first::step]
                read += n
                xyz, rgb, intensity = _chunk_arrays(points, has_rgb)
                xyz_parts.append(xyz)
                int_parts.append(intensity)
                if rgb is not None:
                    rgb_parts.append(rgb)
                if not classes_seen and "classification" in dims and len(points):
                    classes_seen = bool(np.any(np.asarray(points.classification) != 0))
        except (laspy.errors.LaspyException, ValueError, struct.error, EOFError) as exc:
            raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
        except RuntimeError as exc:  # lazrs reports broken chunks this way
            raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
        if read < count:
            raise SpadokError(
                "format.corrupt", f"{path.name}: header says {count:,} points, found {read:,}"
            )
        crs, unit = _crs(header)
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
            "classification": classes_seen,
            "has_color": has_rgb,
            "evlr_count": len(getattr(header, "evlrs", None) or []),
        }
        if sampled:
            extra["sampled"] = True
            extra["sample_step"] = step
    positions = np.concatenate(xyz_parts) if xyz_parts else np.zeros((0, 3))
    pointset = PointSet(
        positions=positions,
        colors=np.concatenate(rgb_parts) if rgb_parts else None,
        attributes={"intensity": np.concatenate(int_parts)} if int_parts else {},
        count=count,
    )
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
        points=pointset,
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

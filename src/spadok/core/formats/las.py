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
from spadok.core.formats.lasdecode import scan_isolated
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
        except BaseException as exc:
            from spadok.core.formats.registry import is_panic

            if not is_panic(exc):
                raise
            raise SpadokError("format.corrupt", f"{self.path.name}: the decoder panicked") from exc
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


_VLR_HEADER = 54  # reserved, user id, record id, length (u16), description
_EVLR_HEADER = 60  # the same with a u64 length
_LASZIP_USER = b"laszip encoded"
_LASZIP_RECORD = 22204
_VARIABLE_CHUNKS = 0xFFFFFFFF
# Writers use 50,000 points per chunk (LASzip's default) up to a few million.
MAX_CHUNK_POINTS = 10_000_000


def _corrupt(path: Path, why: str) -> SpadokError:
    return SpadokError("format.corrupt", f"{path.name}: {why}")


def check_structure(path: Path) -> int | None:
    """Check the header's offsets and record lengths against the file before laspy reads it.

    laspy and lazrs trust them: a VLR count of four billion loops for minutes,
    an EVLR length of 2^60 is allocated, and a LAZ chunk table that claims
    billions of chunks makes lazrs abort the whole process on its allocation.
    Returns the LAZ chunk size (None when the points are not LAZ, or when the
    chunks vary in size).
    """
    laszip: bytes | None = None
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(375)
        if len(head) < 227:
            raise _corrupt(path, f"the LAS header is cut short ({len(head)} bytes)")
        minor = head[25]
        header_size, point_offset, n_vlrs = struct.unpack_from("<HII", head, 94)
        if not 227 <= header_size <= point_offset <= size:
            raise _corrupt(
                path, f"header size {header_size} and point offset {point_offset:,} do not fit"
            )
        if n_vlrs > (point_offset - header_size) // _VLR_HEADER:
            raise _corrupt(path, f"{n_vlrs:,} records do not fit before the points")
        chunk_size: int | None = None
        at = header_size
        for _ in range(n_vlrs):
            fh.seek(at)
            raw = fh.read(_VLR_HEADER)
            if len(raw) < _VLR_HEADER:
                raise _corrupt(path, "a record header is cut short")
            user, record, length = struct.unpack_from("<16sHH", raw, 2)
            if at + _VLR_HEADER + length > point_offset:
                raise _corrupt(path, f"record {record} runs into the points")
            if user.rstrip(b"\0") == _LASZIP_USER and record == _LASZIP_RECORD and length >= 34:
                laszip = fh.read(length)
                (chunk_size,) = struct.unpack_from("<I", laszip, 12)
            at += _VLR_HEADER + length
        if minor >= 4 and header_size >= 247:
            evlr_start, n_evlrs = struct.unpack_from("<QI", head, 235)
            if n_evlrs:
                if not point_offset <= evlr_start <= size:
                    raise _corrupt(path, f"extended records start at {evlr_start:,}")
                if n_evlrs > (size - evlr_start) // _EVLR_HEADER:
                    raise _corrupt(path, f"{n_evlrs:,} extended records do not fit in the file")
                at = evlr_start
                for _ in range(n_evlrs):
                    fh.seek(at)
                    raw = fh.read(_EVLR_HEADER)
                    if len(raw) < _EVLR_HEADER:
                        raise _corrupt(path, "an extended record header is cut short")
                    (length,) = struct.unpack_from("<Q", raw, 20)
                    if length > size - at - _EVLR_HEADER:
                        raise _corrupt(path, f"an extended record of {length:,} bytes")
                    at += _EVLR_HEADER + length
        if head[104] & 0xC0:
            if laszip is None:
                raise _corrupt(path, "compressed points without their LASzip record")
            table = _check_chunk_table(path, fh, point_offset, size)
            if table is not None:
                _check_layers(path, fh, point_offset, table, laszip)
    if chunk_size == _VARIABLE_CHUNKS:
        return None
    if chunk_size is not None and not 0 < chunk_size <= MAX_CHUNK_POINTS:
        # lazrs allocates a chunk's worth up front: four billion is an abort.
        raise _corrupt(path, f"LASzip chunks of {chunk_size:,} points")
    return chunk_size


def _check_chunk_table(path: Path, fh: Any, point_offset: int, size: int) -> int | None:
    """The LAZ chunk table (its offset is the first 8 bytes of the points) must fit.

    Returns its offset; None when the file has no table to check (a streaming
    writer's, found from the end).
    """
    fh.seek(point_offset)
    raw = fh.read(8)
    if len(raw) < 8:
        raise _corrupt(path, "the compressed points are missing")
    (table,) = struct.unpack("<q", raw)
    if table == -1:
        return None
    if not point_offset + 8 <= table <= size - 8:
        raise _corrupt(path, f"the chunk table is said to be at {table:,}")
    fh.seek(table)
    _version, chunks = struct.unpack("<II", fh.read(8))
    # Every chunk starts with one uncompressed point (20 bytes or more).
    if chunks > (table - point_offset) // 20 + 1:
        raise _corrupt(path, f"{chunks:,} chunks in {table - point_offset:,} bytes of points")
    return int(table)


# Layers per LASzip item type in the layered (version 3) chunks of LAS 1.4 point
# formats 6-10; BYTE14 has one layer per extra byte.
_LAYERS = {10: 9, 11: 1, 12: 2, 13: 1}
_BYTE14 = 14


def _check_layers(path: Path, fh: Any, point_offset: int, end: int, laszip: bytes) -> None:
    """Every layer of every chunk must fit in its chunk, before lazrs allocates it.

    Layered chunks begin with one raw point, their point count and the byte size
    of each layer; lazrs allocates each layer at the size it reads, and aborts the
    process (it cannot be caught) when that fails.
    """
    import lazrs

    (n_items,) = struct.unpack_from("<H", laszip, 32)
    if len(laszip) < 34 + 6 * n_items:
        raise _corrupt(path, "the LASzip record is cut short")
    items = [struct.unpack_from("<HHH", laszip, 34 + 6 * i) for i in range(n_items)]
    if not any(version >= 3 for _t, _s, version in items):
        return  # not layered: nothing is allocated from sizes in the data
    layers = sum(size if kind == _BYTE14 else _LAYERS.get(kind, 1) for kind, size, _v in items)
    raw_point = sum(size for _t, size, _v in items)
    try:
        vlr = lazrs.LazVlr(laszip)
        fh.seek(point_offset)
        chunks = lazrs.read_chunk_table(fh, vlr)
    except (lazrs.LazrsError, ValueError, OSError) as exc:
        raise _corrupt(path, f"the chunk table cannot be read ({exc})") from exc
    if chunks is None:
        return
    at = point_offset + 8
    head_bytes = raw_point + 4 + 4 * layers
    for n, (_points, chunk_bytes) in enumerate(chunks):
        fh.seek(at)
        raw = fh.read(head_bytes)
        if len(raw) < head_bytes or chunk_bytes < head_bytes or at + chunk_bytes > end:
            raise _corrupt(path, f"chunk {n} is cut short")
        sizes = struct.unpack_from(f"<{layers}I", raw, raw_point + 4)
        if sum(sizes) > chunk_bytes - head_bytes:
            raise _corrupt(
                path, f"chunk {n} says its layers take {sum(sizes):,} of its {chunk_bytes:,} bytes"
            )
        at += chunk_bytes


def _check_count(path: Path, header: Any, count: int, fmt: str, chunk_size: int | None) -> None:
    """The points the header promises must fit in the file: refuse before reading any."""
    record = int(header.point_format.size)
    have = path.stat().st_size - int(header.offset_to_point_data)
    if fmt == "las" and count * record > have:
        raise _corrupt(
            path, f"the header says {count:,} points of {record} bytes; the file has {have:,}"
        )
    if fmt != "las" and chunk_size:
        # Each chunk holds chunk_size points and takes at least one raw point's bytes.
        chunks = -(-count // chunk_size)
        if chunks * min(record, 20) > have:
            raise _corrupt(path, f"the header says {count:,} points, the file is far too short")


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
    chunk_size = check_structure(path)
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
    _check_count(path, header, count, fmt, chunk_size)
    pf = header.point_format
    dims = set(pf.dimension_names)
    stream = LasStream(path, count, dims)
    if fmt == "las":
        sample, facts = scan(stream, sample_size=SAMPLE_TARGET, chunk_size=CHUNK_SIZE)
    else:
        # LAZ goes through native code that can crash the process: the first pass runs
        # in a child. Later passes (the tiles) read the same bytes, which decoded whole.
        sample, facts = scan_isolated(
            path, count, sorted(dims), sample_size=SAMPLE_TARGET, chunk_size=CHUNK_SIZE
        )
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

"""Gaussian-splat files: .splat, .spz (Niantic) and .ksplat (GaussianSplats3D).

Splats are kept as their centres (and base colours) in a PointSet: enough
for statistics, bounds, thumbnails and a point preview. The full Gaussian
parameters stay in the original file, which is always preserved as is.
Gaussian-splat PLY belongs to the PLY module.

Layouts were checked against Niantic's reference reader (nianticlabs/spz,
load-spz.cc), PlayCanvas splat-transform's readers and their test fixtures.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.formats.base import (
    Asset,
    FormatSpec,
    PointSet,
    Resolver,
    check_points_in_memory,
    check_vertex_limit,
)
from spadok.core.limits import Limits

SPLAT_RECORD = 32
SPZ_MAGIC = 0x5053474E  # "NGSP"
SH_C0 = 0.28209479177387814
SPZ_COLOR_SCALE = 0.15  # spz stores DC colour as dc * 0.15 * 255 + 127.5
SH_COEFFS = {0: 0, 1: 3, 2: 8, 3: 15, 4: 24}  # per colour channel
# Largest expansion accepted from a gzipped SPZ; refuses decompression bombs.
_MAX_SPZ_RATIO = 4096


def _splat_asset(path: Path, fmt: str, mime: str, positions: np.ndarray, colors: np.ndarray | None,
                 count: int, extra: dict[str, Any]) -> Asset:  # fmt: skip
    if count == 0:
        raise SpadokError("geometry.empty", f"{path.name} holds no splats")
    extra = {"splat_count": count, **extra}
    points = PointSet(positions=positions.astype(np.float64), colors=colors, count=count)
    return Asset(kind="splat", format=fmt, mime=mime, primary=path, points=points, extra=extra)


# --- .splat (antimatter15) -------------------------------------------------

_SPLAT_DTYPE = np.dtype(
    [("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)]
)


def sniff_splat(head: bytes, path: Path) -> int:
    """No magic: a .splat name, a size in whole records and sane first records."""
    if path.suffix.lower() != ".splat" or len(head) < SPLAT_RECORD:
        return 0
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    if size % SPLAT_RECORD:
        return 0
    recs = np.frombuffer(head[: len(head) // SPLAT_RECORD * SPLAT_RECORD], dtype=_SPLAT_DTYPE)[:16]
    floats = np.concatenate([recs["pos"].ravel(), recs["scale"].ravel()])
    if not np.isfinite(floats).all() or np.abs(recs["pos"]).max() > 1e7:
        return 0
    if (recs["scale"] < 0).any():
        return 0
    return 1


def load_splat(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    size = path.stat().st_size
    if size % SPLAT_RECORD:
        raise SpadokError("format.corrupt", f"{path.name}: size is not a whole number of splats")
    count = size // SPLAT_RECORD
    check_vertex_limit(count, limits, "points")
    check_points_in_memory(count, limits, "a splat file")
    recs = (
        np.memmap(path, dtype=_SPLAT_DTYPE, mode="r", shape=(count,))
        if count
        else np.zeros(0, _SPLAT_DTYPE)
    )
    positions = np.array(recs["pos"], dtype=np.float64)
    colors = np.array(recs["rgba"], dtype=np.uint8)
    del recs
    return _splat_asset(
        path, "splat", "application/x-splat", positions, colors, count, {"sh_degree": 0}
    )


def save_splat(asset: Asset, path: Path) -> None:
    """Write centres and colours as .splat (unit-ish scale, identity rotation)."""
    if asset.points is None:
        raise SpadokError("geometry.empty", "no splats to write")
    pts = asset.points
    n = len(pts.positions)
    rec = np.zeros(n, dtype=_SPLAT_DTYPE)
    rec["pos"] = pts.positions
    rec["scale"] = 0.01
    if pts.colors is not None:
        c = np.asarray(pts.colors, dtype=np.uint8)
        rec["rgba"][:, :3] = c[:, :3]
        rec["rgba"][:, 3] = c[:, 3] if c.shape[1] > 3 else 255
    else:
        rec["rgba"] = 255
    rec["rot"][:, 0] = 255  # identity rotation: w=1, x=y=z=0 as (v - 128) / 128
    rec["rot"][:, 1:] = 128
    path.write_bytes(rec.tobytes())


# --- .spz (Niantic) --------------------------------------------------------


def _spz_plain_head(head: bytes) -> bytes:
    if head[:2] == b"\x1f\x8b":
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error:
            return b""
    return head


def sniff_spz(head: bytes, path: Path) -> int:
    plain = _spz_plain_head(head)
    if len(plain) >= 16 and struct.unpack_from("<I", plain, 0)[0] == SPZ_MAGIC:
        return 2
    return 0


def _fixed24(raw: np.ndarray, n: int, frac: int) -> np.ndarray:
    b = raw[: n * 9].reshape(n * 3, 3).astype(np.int32)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    v = np.where(v & 0x800000, v - (1 << 24), v)
    return (v.astype(np.float64) / (1 << frac)).reshape(n, 3)


def _spz_colors(colors: np.ndarray, alphas: np.ndarray, n: int) -> np.ndarray:
    dc = (colors[: n * 3].reshape(n, 3).astype(np.float64) / 255.0 - 0.5) / SPZ_COLOR_SCALE
    rgb = np.clip((0.5 + SH_C0 * dc) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([rgb, alphas[:n].reshape(n, 1).astype(np.uint8)], axis=1)


def _zstd(data: bytes, size: int) -> bytes:
    try:
        import zstandard
    except ImportError as exc:  # optional: only SPZ v4 needs it
        raise SpadokError(
            "format.compression_unsupported", "SPZ v4 (zstd) needs the zstandard package"
        ) from exc
    try:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise SpadokError("format.corrupt", f"SPZ stream: {exc}") from exc


def load_spz(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    raw = path.read_bytes()
    extra: dict[str, Any] = {"compression": "none"}
    if raw[:2] == b"\x1f\x8b":
        extra["compression"] = "gzip"
        try:
            # Bound the output so a tiny file cannot expand without limit.
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = d.decompress(raw, max(len(raw) * _MAX_SPZ_RATIO, 1 << 20))
            if d.unconsumed_tail:
                raise SpadokError(
                    "input.too_large", f"{path.name} expands beyond {len(raw):,} bytes"
                )
            if not d.eof:
                raise SpadokError("format.corrupt", f"{path.name}: the gzip stream ends early")
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
    if len(raw) < 16 or struct.unpack_from("<I", raw, 0)[0] != SPZ_MAGIC:
        raise SpadokError("format.corrupt", f"{path.name}: no SPZ header")
    version, n = struct.unpack_from("<II", raw, 4)
    sh_degree, frac, flags = raw[12], raw[13], raw[14]
    if sh_degree not in SH_COEFFS:
        raise SpadokError("format.corrupt", f"{path.name}: spherical-harmonics degree {sh_degree}")
    check_vertex_limit(n, limits, "points")
    check_points_in_memory(n, limits, "a splat file")
    extra.update(
        version=version, sh_degree=sh_degree, antialiased=bool(flags & 1), fractional_bits=frac
    )
    if n == 0:
        raise SpadokError("geometry.empty", f"{path.name} holds no splats")
    if version in (1, 2, 3):
        pos_bytes = n * (6 if version == 1 else 9)
        need = (
            16 + pos_bytes + n * 7 + n * (4 if version >= 3 else 3) + n * SH_COEFFS[sh_degree] * 3
        )
        if len(raw) < need:
            raise SpadokError("format.corrupt", f"{path.name}: {len(raw):,} bytes, {need:,} needed")
        body = np.frombuffer(raw, dtype=np.uint8, offset=16)
        if version == 1:  # float16 positions (never released, but readable)
            positions = body[:pos_bytes].view("<f2").reshape(n, 3).astype(np.float64)
        else:
            positions = _fixed24(body, n, frac)
        alphas = body[pos_bytes : pos_bytes + n]
        colors = body[pos_bytes + n : pos_bytes + 4 * n]
    elif version == 4:
        extra["compression"] = "zstd"
        if len(raw) < 32:
            raise SpadokError("format.corrupt", f"{path.name}: SPZ v4 header cut short")
        streams = raw[15]
        (toc,) = struct.unpack_from("<I", raw, 16)
        if streams < 3 or toc + streams * 16 > len(raw):
            raise SpadokError("format.corrupt", f"{path.name}: SPZ v4 stream table")
        sizes = [struct.unpack_from("<QQ", raw, toc + 16 * i) for i in range(streams)]
        offset = toc + streams * 16
        decoded: list[bytes] = []
        expected = [n * 9, n, n * 3]  # positions, alphas, colours come first
        for i, (csize, usize) in enumerate(sizes[:3]):
            if offset + csize > len(raw) or usize != expected[i]:
                raise SpadokError("format.corrupt", f"{path.name}: SPZ v4 stream {i} sizes")
            decoded.append(_zstd(raw[offset : offset + csize], usize))
            offset += csize
        positions = _fixed24(np.frombuffer(decoded[0], np.uint8), n, frac)
        alphas = np.frombuffer(decoded[1], np.uint8)
        colors = np.frombuffer(decoded[2], np.uint8)
        extra["streams"] = streams
    else:
        raise SpadokError(
            "format.unsupported", f"{path.name}: SPZ version {version} is not known yet"
        )
    rgba = _spz_colors(colors, alphas, n)
    return _splat_asset(path, "spz", "application/x-spz", positions, rgba, n, extra)


# --- .ksplat (mkkellogg GaussianSplats3D) -----------------------------------

_KSPLAT_MAIN = 4096
_KSPLAT_SECTION = 1024
# Per compression mode: bytes of centre, scale, rotation, colour; bytes per SH value.
_KSPLAT_MODES = {0: (12, 12, 16, 4, 4), 1: (6, 6, 8, 4, 2), 2: (6, 6, 8, 4, 1)}


def _ksplat_header(head: bytes) -> tuple[int, int, int, int] | None:
    if len(head) < 64:
        return None
    major, minor = head[0], head[1]
    sections, _ = struct.unpack_from("<II", head, 4)
    splats, mode = struct.unpack_from("<IH", head, 16)
    if major != 0 or minor < 1 or mode not in _KSPLAT_MODES or not 0 < sections < 1_000_000:
        return None
    return minor, sections, splats, mode


def sniff_ksplat(head: bytes, path: Path) -> int:
    """No magic either: a .ksplat name and a consistent main header."""
    if path.suffix.lower() != ".ksplat" or _ksplat_header(head) is None:
        return 0
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    _, sections, _, _ = _ksplat_header(head) or (0, 0, 0, 0)
    return 1 if size >= _KSPLAT_MAIN + sections * _KSPLAT_SECTION else 0


def load_ksplat(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    raw = path.read_bytes()
    parsed = _ksplat_header(raw[:_KSPLAT_MAIN])
    if parsed is None or len(raw) < _KSPLAT_MAIN:
        raise SpadokError("format.corrupt", f"{path.name}: not a valid .ksplat header")
    minor, sections, total, mode = parsed
    check_vertex_limit(total, limits, "points")
    check_points_in_memory(total, limits, "a splat file")
    if total == 0:
        raise SpadokError("geometry.empty", f"{path.name} holds no splats")
    if len(raw) < _KSPLAT_MAIN + sections * _KSPLAT_SECTION:
        raise SpadokError("format.corrupt", f"{path.name}: section headers cut short")
    center_b, scale_b, rot_b, color_b, sh_b = _KSPLAT_MODES[mode]
    scale_range_default = 1 if mode == 0 else 32767
    data_offset = _KSPLAT_MAIN + sections * _KSPLAT_SECTION
    pos_parts: list[np.ndarray] = []
    col_parts: list[np.ndarray] = []
    sh_degree = 0
    for s in range(sections):
        h = _KSPLAT_MAIN + s * _KSPLAT_SECTION
        count, max_count, capacity, buckets = struct.unpack_from("<IIII", raw, h)
        (block_size,) = struct.unpack_from("<f", raw, h + 16)
        (bucket_storage,) = struct.unpack_from("<H", raw, h + 20)
        qrange = struct.unpack_from("<I", raw, h + 24)[0] or scale_range_default
        full, partial = struct.unpack_from("<II", raw, h + 32)
        (degree,) = struct.unpack_from("<H", raw, h + 40)
        if degree not in SH_COEFFS or count > max_count:
            raise SpadokError("format.corrupt", f"{path.name}: section {s} header")
        sh_degree = max(sh_degree, degree)
        per = center_b + scale_b + rot_b + color_b + SH_COEFFS[degree] * 3 * sh_b
        bucket_bytes = bucket_storage * buckets + partial * 4
        start = data_offset + bucket_bytes
        if start + per * max_count > len(raw):
            raise SpadokError("format.corrupt", f"{path.name}: section {s} data cut short")
        rec = np.frombuffer(raw, dtype=np.uint8, count=per * count, offset=start).reshape(
            count, per
        )
        if mode == 0:
            pos = rec[:, :12].copy().view("<f4").reshape(count, 3).astype(np.float64)
        else:
            q = rec[:, :6].copy().view("<u2").reshape(count, 3).astype(np.float64)
            centres = np.frombuffer(raw, "<f4", count=buckets * 3, offset=data_offset + partial * 4)
            centres = centres.reshape(buckets, 3).astype(np.float64)
            # Splats fill full buckets first, then partial buckets of listed sizes.
            sizes = np.frombuffer(raw, "<u4", count=partial, offset=data_offset).astype(np.int64)
            per_bucket = np.concatenate([np.full(full, capacity, np.int64), sizes])
            bucket_of = np.repeat(np.arange(len(per_bucket)), per_bucket)[:count]
            if len(bucket_of) < count or (len(bucket_of) and bucket_of.max() >= buckets):
                raise SpadokError("format.corrupt", f"{path.name}: section {s} buckets")
            scale = block_size / 2.0 / qrange
            pos = (q - qrange) * scale + centres[bucket_of]
        c0 = center_b + scale_b + rot_b
        pos_parts.append(pos)
        col_parts.append(rec[:, c0 : c0 + 4].copy())
        data_offset += bucket_bytes + per * max_count
    positions = np.concatenate(pos_parts) if pos_parts else np.zeros((0, 3))
    colors = np.concatenate(col_parts) if col_parts else None
    if len(positions) != total:
        raise SpadokError("format.corrupt", f"{path.name}: {len(positions):,} of {total:,} splats")
    extra = {
        "version": f"0.{minor}",
        "compression_mode": mode,
        "sections": sections,
        "sh_degree": sh_degree,
    }
    return _splat_asset(path, "ksplat", "application/x-ksplat", positions, colors, total, extra)


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="splat",
        family="splat",
        mime="application/x-splat",
        extensions=(".splat",),
        sniff=sniff_splat,
        load=load_splat,
        save=save_splat,
        description="Gaussian splats, antimatter15 .splat (32 bytes per splat)",
    ),
    FormatSpec(
        name="spz",
        family="splat",
        mime="application/x-spz",
        extensions=(".spz",),
        sniff=sniff_spz,
        load=load_spz,
        description="Gaussian splats, Niantic SPZ (v1-v4)",
    ),
    FormatSpec(
        name="ksplat",
        family="splat",
        mime="application/x-ksplat",
        extensions=(".ksplat",),
        sniff=sniff_ksplat,
        load=load_ksplat,
        description="Gaussian splats, GaussianSplats3D .ksplat",
    ),
]

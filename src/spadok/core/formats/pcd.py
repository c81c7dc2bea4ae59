"""Point Cloud Library (PCL) .pcd files: ascii, binary and binary_compressed.

binary_compressed is LZF. The only LZF package on PyPI (python-lzf) is a
C extension unmaintained since 2014, so a small pure-Python decoder lives
here instead; it runs at a few MB/s, enough for the PCD sizes PCL writes.
"""

from __future__ import annotations

import re
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
    check_points_in_memory,
    check_vertex_limit,
)
from spadok.core.limits import Limits

MIME = "application/x-pcd"
_KEYS = (
    "VERSION",
    "FIELDS",
    "SIZE",
    "TYPE",
    "COUNT",
    "WIDTH",
    "HEIGHT",
    "VIEWPOINT",
    "POINTS",
    "DATA",
)
_HEAD_RE = re.compile(rb"^(#[^\n]*\n|\s*\n)*(VERSION|FIELDS)\s", re.MULTILINE)


def sniff(head: bytes, path: Path) -> int:
    """PCD has no magic number, but its header keywords are distinctive."""
    if not _HEAD_RE.match(head):
        return 0
    text = head.decode("latin-1")
    if re.search(r"^FIELDS\s", text, re.M) and re.search(
        r"^DATA\s+(ascii|binary|binary_compressed)\b", text, re.M
    ):
        return 2
    return 1 if re.search(r"^FIELDS\s", text, re.M) else 0


def lzf_decompress(data: bytes, expected: int) -> bytes:
    """Decode an LZF block (liblzf's format) into exactly ``expected`` bytes."""
    out = bytearray(expected)
    ip = op = 0
    n = len(data)
    try:
        while ip < n:
            ctrl = data[ip]
            ip += 1
            if ctrl < 32:  # literal run of ctrl + 1 bytes
                length = ctrl + 1
                if ip + length > n or op + length > expected:
                    raise ValueError("literal run past the end")
                out[op : op + length] = data[ip : ip + length]
                ip += length
                op += length
            else:  # back reference
                length = ctrl >> 5
                ref = op - ((ctrl & 0x1F) << 8) - 1
                if length == 7:
                    length += data[ip]
                    ip += 1
                ref -= data[ip]
                ip += 1
                length += 2
                if ref < 0 or op + length > expected:
                    raise ValueError("back reference out of range")
                if ref + length <= op:
                    out[op : op + length] = out[ref : ref + length]
                else:  # overlapping copy repeats the pattern byte by byte
                    for k in range(length):
                        out[op + k] = out[ref + k]
                op += length
    except IndexError as exc:
        raise ValueError("compressed data ends early") from exc
    if op != expected:
        raise ValueError(f"decoded {op} bytes, expected {expected}")
    return bytes(out)


def _parse_header(fh: Any, path: Path) -> dict[str, list[str]]:
    header: dict[str, list[str]] = {}
    while True:
        line = fh.readline()
        if not line:
            raise SpadokError("format.corrupt", f"{path.name}: the PCD header has no DATA line")
        text = line.decode("latin-1").strip()
        if not text or text.startswith("#"):
            continue
        key, *values = text.split()
        if key.upper() in _KEYS:
            header[key.upper()] = values
        if key.upper() == "DATA":
            return header


def _dtype(fields: list[str], sizes: list[int], types: list[str], counts: list[int]) -> np.dtype:
    kinds = {"F": "f", "I": "i", "U": "u"}
    parts = []
    for i, (name, size, kind, count) in enumerate(zip(fields, sizes, types, counts, strict=True)):
        code = f"<{kinds[kind.upper()]}{size}"
        field_name = name if name != "_" else f"_pad{i}"
        parts.append((field_name, code, (count,)) if count > 1 else (field_name, code))
    return np.dtype(parts)


def _unpack_rgb(values: np.ndarray, kind: str) -> np.ndarray:
    """PCL packs colour into one 32-bit field, usually stored as a float."""
    v = np.asarray(values)
    packed = v.astype(np.float32).view(np.uint32) if kind == "F" else v.astype(np.uint32)
    r = (packed >> 16) & 0xFF
    g = (packed >> 8) & 0xFF
    b = packed & 0xFF
    return np.stack([r, g, b], axis=1).astype(np.uint8)


def load(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    """Read a PCD file; organised clouds drop their NaN (no-return) points."""
    with path.open("rb") as fh:
        header = _parse_header(fh, path)
        try:
            fields = header["FIELDS"]
            sizes = [int(v) for v in header.get("SIZE", ["4"] * len(fields))]
            types = [t.upper() for t in header.get("TYPE", ["F"] * len(fields))]
            counts = [int(v) for v in header.get("COUNT", ["1"] * len(fields))]
            if "POINTS" in header:
                count = int(header["POINTS"][0])
            else:
                count = int(header["WIDTH"][0]) * int(header.get("HEIGHT", ["1"])[0])
            encoding = header["DATA"][0].lower()
            width = int((header.get("WIDTH") or [str(count)])[0])
            height = int((header.get("HEIGHT") or ["1"])[0])
            dtype = _dtype(fields, sizes, types, counts)
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise SpadokError("format.corrupt", f"{path.name}: bad PCD header ({exc})") from exc
        if not {"x", "y", "z"} <= set(fields):
            raise SpadokError(
                "format.unsupported", f"{path.name}: PCD without x y z fields ({' '.join(fields)})"
            )
        check_vertex_limit(count, limits, "points")
        check_points_in_memory(count, limits, "a PCD file")
        if count == 0:
            raise SpadokError("geometry.empty", f"{path.name} holds no points")
        body = fh.read()
    names = list(dtype.names or ())
    if encoding == "ascii":
        columns = sum(counts)
        tokens = body.split()
        try:
            flat = np.array(tokens, dtype=np.float64)
        except ValueError as exc:
            raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
        if flat.size < count * columns:
            raise SpadokError(
                "format.corrupt", f"{path.name}: {flat.size // columns:,} of {count:,} points"
            )
        table = flat[: count * columns].reshape(count, columns)
        data: dict[str, np.ndarray] = {}
        col = 0
        for i, (name, c) in enumerate(zip(names, counts, strict=True)):
            data[name] = table[:, col] if c == 1 else table[:, col : col + c]
            if name in ("rgb", "rgba") and c == 1:
                # PCL writes a packed float colour as its uint32 bits in decimal.
                column = tokens[col : count * columns : columns]
                if all(t.isdigit() for t in column):
                    data[name] = table[:, col].astype(np.uint32)
                    types[i] = "U"
            col += c
    elif encoding == "binary":
        if len(body) < count * dtype.itemsize:
            raise SpadokError("format.corrupt", f"{path.name}: data ends after {len(body):,} bytes")
        rec = np.frombuffer(body, dtype=dtype, count=count)
        data = {name: rec[name] for name in names}
    elif encoding == "binary_compressed":
        if len(body) < 8:
            raise SpadokError("format.corrupt", f"{path.name}: compressed data missing")
        csize, usize = struct.unpack_from("<II", body, 0)
        if usize != count * dtype.itemsize or 8 + csize > len(body):
            raise SpadokError(
                "format.corrupt", f"{path.name}: compressed sizes do not match the header"
            )
        try:
            raw = lzf_decompress(body[8 : 8 + csize], usize)
        except ValueError as exc:
            raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
        # Decompressed data is stored field by field (structure of arrays).
        data = {}
        offset = 0
        for name in names:
            fdt = dtype.fields[name][0]  # type: ignore[index]
            n_bytes = fdt.itemsize * count
            arr = np.frombuffer(
                raw,
                dtype=fdt.base,
                count=count * max(1, fdt.itemsize // fdt.base.itemsize),
                offset=offset,
            )
            data[name] = arr.reshape(count, -1) if fdt.shape else arr
            offset += n_bytes
    else:
        raise SpadokError("format.unsupported", f"{path.name}: PCD data encoding {encoding!r}")

    xyz = np.stack([np.asarray(data[a], dtype=np.float64) for a in ("x", "y", "z")], axis=1)
    finite = np.isfinite(xyz).all(axis=1)
    colors = None
    kinds = dict(zip(names, types, strict=True))
    for key in ("rgb", "rgba"):
        if key in data:
            colors = _unpack_rgb(data[key], kinds[key])
            if key == "rgba" and kinds[key] != "F":
                alpha = ((np.asarray(data[key]).astype(np.uint32) >> 24) & 0xFF).astype(np.uint8)
                colors = np.concatenate([colors, alpha[:, None]], axis=1)
            break
    if colors is None and {"r", "g", "b"} <= set(data):
        colors = np.stack([np.asarray(data[c]) for c in "rgb"], 1).clip(0, 255).astype(np.uint8)
    attributes: dict[str, np.ndarray] = {}
    if "intensity" in data:
        attributes["intensity"] = np.asarray(data["intensity"], dtype=np.float32)[finite]
    if {"normal_x", "normal_y", "normal_z"} <= set(data):
        attributes["normals"] = np.stack(
            [np.asarray(data[n], dtype=np.float32) for n in ("normal_x", "normal_y", "normal_z")], 1
        )[finite]
    positions = xyz[finite]
    if len(positions) == 0:
        raise SpadokError("geometry.empty", f"{path.name}: every point is NaN")
    pointset = PointSet(
        positions=positions,
        colors=colors[finite] if colors is not None else None,
        attributes=attributes,
        count=count,
    )
    extra = {
        "encoding": encoding,
        "fields": fields,
        "version": (header.get("VERSION") or [""])[0],
        "width": width,
        "height": height,
        "valid_points": int(finite.sum()),
    }
    return Asset(
        kind="pointcloud", format="pcd", mime=MIME, primary=path, points=pointset, extra=extra
    )


def save(asset: Asset, path: Path, *, binary: bool = True) -> None:
    """Write x y z [rgb] [intensity] as a PCD v0.7 file (binary by default)."""
    if asset.points is None:
        raise SpadokError("geometry.empty", "no points to write")
    pts = asset.points
    pos = np.asarray(pts.positions, dtype=np.float32)
    n = len(pos)
    cols: list[tuple[str, np.ndarray, str]] = [
        ("x", pos[:, 0], "F"),
        ("y", pos[:, 1], "F"),
        ("z", pos[:, 2], "F"),
    ]
    if pts.colors is not None:
        c = np.asarray(pts.colors).astype(np.uint32)
        packed = (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]
        cols.append(("rgb", packed.view(np.float32), "F"))
    if "intensity" in pts.attributes:
        cols.append(("intensity", np.asarray(pts.attributes["intensity"], dtype=np.float32), "F"))
    names = " ".join(c[0] for c in cols)
    head = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
        f"FIELDS {names}\nSIZE {' '.join('4' for _ in cols)}\nTYPE {' '.join(c[2] for c in cols)}\n"
        f"COUNT {' '.join('1' for _ in cols)}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {n}\nDATA {'binary' if binary else 'ascii'}\n"
    )
    dtype = np.dtype([(c[0], "<f4") for c in cols])
    rec = np.empty(n, dtype=dtype)
    for name, values, _ in cols:
        rec[name] = values
    with path.open("wb") as fh:
        fh.write(head.encode("ascii"))
        if binary:
            fh.write(rec.tobytes())
        else:
            lines = []
            for row in rec:
                parts = []
                for name, _, _ in cols:
                    v = np.float32(row[name])
                    parts.append(str(int(v.view(np.uint32))) if name == "rgb" else repr(float(v)))
                lines.append(" ".join(parts))
            fh.write(("\n".join(lines) + "\n").encode("ascii"))


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="pcd",
        family="pcd",
        mime=MIME,
        extensions=(".pcd",),
        sniff=sniff,
        load=load,
        save=save,
        description="Point Cloud Library PCD (ascii, binary, binary_compressed)",
    ),
]

"""Plain-text point exports: XYZ, PTS and TXT (Agisoft, CloudCompare, Leica, ...).

There is no signature, so the sniffer accepts only text whose first data
lines all have the same 3-10 numeric columns, with at most one header line
(CloudCompare's ``//X,Y,Z,R,G,B``) or, for PTS, a point-count line first.
Columns after x y z are told apart by their values: unit-length triples are
normals, triples within 0-255 are colours, a lone column before colours is
intensity (the PTS layout ``x y z i r g b``).
"""

from __future__ import annotations

import re
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
    is_text,
)
from spadok.core.limits import Limits

MIME = "text/plain"
SNIFF_LINES = 20
MIN_LINES = 4
CHUNK_BYTES = 32 * 1024 * 1024

_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# First words of text formats that must never be read as point lists.
_OTHER = {
    "ply",
    "off",
    "coff",
    "noff",
    "cnoff",
    "solid",
    "newmtl",
    "mtllib",
    "v",
    "f",
    "o",
    "g",
    "vn",
    "vt",
}
_NAMES = {
    "x": "x", "y": "y", "z": "z",
    "r": "r", "red": "r", "g": "g", "green": "g", "b": "b", "blue": "b", "a": "a", "alpha": "a",
    "nx": "nx", "ny": "ny", "nz": "nz", "normal_x": "nx", "normal_y": "ny", "normal_z": "nz",
    "i": "i", "intensity": "i", "scalar_intensity": "i",
}  # fmt: skip


def _separator(line: str) -> str:
    if ";" in line:
        return ";"
    if "," in line:
        return ","
    return " "


def _split(line: str, sep: str) -> list[str]:
    if sep == ";":
        return [t.strip().replace(",", ".") for t in line.split(";") if t.strip()]
    if sep == ",":
        return [t.strip() for t in line.split(",") if t.strip()]
    return line.split()


def _is_comment(line: str) -> bool:
    return line.startswith("#") or line.startswith("//")


def _layout(lines: list[str]) -> tuple[int, str, list[str] | None, bool] | None:
    """(columns, separator, header names, has count line), or None when not a point list."""
    lines = [ln.strip() for ln in lines]
    lines = [ln for ln in lines if ln]
    if not lines:
        return None
    first_word = re.split(r"[\s,;]+", lines[0].lstrip("/#").strip() or "_")[0].lower()
    if first_word in _OTHER:
        return None
    header: list[str] | None = None
    has_count = False
    start = 0
    head_line = lines[0]
    tokens = head_line.split()
    if len(tokens) == 1 and tokens[0].isdigit() and len(lines) > 1:
        has_count, start = True, 1  # PTS: number of points first
    elif _is_comment(head_line) or not all(
        _NUM.match(t) for t in _split(head_line, _separator(head_line))
    ):
        text = head_line.lstrip("/#").strip()
        header = [t.lower() for t in _split(text, _separator(text))]
        start = 1
    data = [ln for ln in lines[start:] if not _is_comment(ln)]
    if len(data) < MIN_LINES:
        return None  # a 3x3 camera matrix (K.txt) is not a point cloud
    sep = _separator(data[0])
    width = None
    for ln in data:
        if _separator(ln) != sep:
            return None
        cols = _split(ln, sep)
        if not all(_NUM.match(t) for t in cols):
            return None
        if width is None:
            width = len(cols)
        elif len(cols) != width:
            return None
    if width is None or not 3 <= width <= 10:
        return None
    if header is not None and (
        len(header) != width or not {"x", "y", "z"} <= {_NAMES.get(h, h) for h in header}
    ):
        if not _is_comment(head_line):
            return None  # a text first line that does not name the columns: not ours
        header = None
    return width, sep, header, has_count


def sniff(head: bytes, path: Path) -> int:
    """1 when the head is a plain table of 3-10 numeric columns."""
    if not is_text(head):
        return 0
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(head) >= 4096 and lines:
        lines = lines[:-1]  # the last line may be cut off
    return 1 if _layout(lines[: SNIFF_LINES + 1]) else 0


def _unit_triple(block: np.ndarray) -> bool:
    norms = np.linalg.norm(block, axis=1)
    return bool(len(block)) and float(np.mean(np.abs(norms - 1.0) < 0.02)) > 0.95


def _colour_triple(block: np.ndarray) -> bool:
    return bool(len(block)) and block.min() >= 0 and block.max() <= 255 and block.max() > 1


def _roles(rest: np.ndarray, header: list[str] | None, is_pts: bool) -> dict[str, int]:
    """Column index (from 3) of each role: r g b a nx ny nz i."""
    if header is not None:
        names = [_NAMES.get(h, h) for h in header]
        return {n: i - 3 for i, n in enumerate(names) if i >= 3 and n in _NAMES.values()}
    k = rest.shape[1]
    roles: dict[str, int] = {}
    taken: set[int] = set()
    for s in range(k - 2):  # normals: the unit-length triple
        if _unit_triple(rest[:, s : s + 3]):
            roles.update(nx=s, ny=s + 1, nz=s + 2)
            taken |= {s, s + 1, s + 2}
            break
    starts = [1, 0] if is_pts else [0, 1]
    starts += [s for s in range(k - 2) if s not in starts]
    for s in starts:
        if s + 3 <= k and not taken & {s, s + 1, s + 2} and _colour_triple(rest[:, s : s + 3]):
            roles.update(r=s, g=s + 1, b=s + 2)
            taken |= {s, s + 1, s + 2}
            break
    left = [i for i in range(k) if i not in taken]
    if "r" in roles and roles["r"] + 3 in left and rest[:, roles["r"] + 3].max() <= 255:
        roles["a"] = roles["r"] + 3
        left.remove(roles["a"])
    if left:
        roles["i"] = left[0]
    return roles


def _parse(text: bytes, sep: str, width: int) -> np.ndarray:
    if sep == ";":
        text = text.replace(b",", b".").replace(b";", b" ")
    elif sep == ",":
        text = text.replace(b",", b" ")
    try:
        flat = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise SpadokError("format.corrupt", f"a line is not numbers: {str(exc)[:80]}") from exc
    if flat.size % width:
        raise SpadokError("format.corrupt", f"a line does not have {width} columns")
    return flat.reshape(-1, width)


def _tables(path: Path, sep: str, width: int, skip_first: bool) -> Iterator[np.ndarray]:
    """The file's rows as float64 tables of about :data:`CHUNK_BYTES` of text each."""
    with path.open("rb") as fh:
        rest = b""
        while True:
            block = fh.read(CHUNK_BYTES)
            if not block and not rest:
                break
            buf = rest + block
            if block:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    rest = buf
                    continue
                buf, rest = buf[:cut], buf[cut:]
            else:
                rest = b""
            if skip_first:
                buf = buf.split(b"\n", 1)[1] if b"\n" in buf else b""
                skip_first = False
            buf = b"\n".join(
                ln for ln in buf.split(b"\n") if not ln.lstrip().startswith((b"#", b"//"))
            )
            rows = _parse(buf, sep, width)
            if len(rows):
                yield rows


class XyzStream:
    """A text point list as a :class:`~spadok.core.formats.base.PointStream`: parsed
    afresh on each pass, one block of text at a time, never held whole."""

    def __init__(
        self,
        path: Path,
        layout: tuple[str, int, bool],
        roles: dict[str, int],
        count: int,
        limits: Limits,
    ) -> None:
        self.path = path
        self.sep, self.width, self.skip_first = layout
        self.roles = roles
        self.count = count
        self.limits = limits
        self.colours_in_bytes = True  # 0..255; False: 0..1 floats, scaled up

    def chunks(self, size: int) -> Iterator[PointChunk]:
        roles = self.roles
        seen = 0
        for table in _tables(self.path, self.sep, self.width, self.skip_first):
            seen += len(table)
            check_vertex_limit(seen, self.limits, "points")
            for start in range(0, len(table), max(1, size)):
                rows = table[start : start + size]
                rest = rows[:, 3:]
                colors = None
                if {"r", "g", "b"} <= roles.keys():
                    rgb = rest[:, [roles["r"], roles["g"], roles["b"]]]
                    if not self.colours_in_bytes:
                        rgb = rgb * 255.0
                    colors = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
                yield PointChunk(
                    positions=np.ascontiguousarray(rows[:, :3]),
                    colors=colors,
                    intensity=rest[:, roles["i"]].astype(np.float32) if "i" in roles else None,
                )


def load(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    """Read a text point list in one streamed pass, like LAS: facts and a bounded sample."""
    from spadok.core.formats.las import CHUNK_SIZE, SAMPLE_TARGET
    from spadok.core.pointstream import scan

    with path.open("rb") as fh:
        head = fh.read(65536)
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) >= 65536:
        lines = lines[:-1]
    layout = _layout(lines[: SNIFF_LINES + 1])
    if layout is None:
        raise SpadokError("format.corrupt", f"{path.name}: not a table of x y z numbers")
    width, sep, header, has_count = layout
    skip_first = has_count or header is not None
    first = next(_tables(path, sep, width, skip_first), None)
    if first is None:
        raise SpadokError("geometry.empty", f"{path.name} holds no points")
    is_pts = path.suffix.lower() == ".pts"
    # Column roles from the first block of rows (tens of megabytes of text).
    roles = _roles(first[:, 3:], header, is_pts)
    size = path.stat().st_size
    line_bytes = max(1, len(head) // max(1, len(lines)))
    stream = XyzStream(path, (sep, width, skip_first), roles, size // line_bytes, limits)
    if {"r", "g", "b"} <= roles.keys():
        rgb = first[:, 3:][:, [roles["r"], roles["g"], roles["b"]]]
        stream.colours_in_bytes = bool(rgb.max() > 1.0)
    del first
    sample, facts = scan(stream, sample_size=SAMPLE_TARGET, chunk_size=CHUNK_SIZE)
    stream.count = facts["points"]
    sample.count = facts["points"]
    extra: dict[str, Any] = {"columns": width, "separator": sep}
    if header:
        extra["header"] = header
    if has_count:
        extra["declared_count"] = int(lines[0].split()[0])
    extra["roles"] = sorted(roles, key=roles.__getitem__)
    if facts["sampled"]:
        extra["sampled"] = True
        extra["sample_points"] = facts["sample_points"]
    fmt = "pts" if is_pts or has_count else "xyz"
    return Asset(
        kind="pointcloud",
        format=fmt,
        mime=MIME,
        primary=path,
        points=sample,
        stream=stream,
        point_facts=facts,
        extra=extra,
    )


def save(asset: Asset, path: Path) -> None:
    """Write ``x y z [r g b]`` lines, as Agisoft and CloudCompare read them."""
    if asset.points is None:
        raise SpadokError("geometry.empty", "no points to write")
    pts = asset.points
    cols = [np.asarray(pts.positions, dtype=np.float64)]
    fmt = ["%.6f"] * 3
    if pts.colors is not None:
        cols.append(np.asarray(pts.colors)[:, :3].astype(np.float64))
        fmt += ["%d"] * 3
    np.savetxt(path, np.hstack(cols), fmt=fmt)


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="xyz",
        family="xyz",
        mime=MIME,
        extensions=(".xyz", ".txt", ".asc", ".csv"),
        sniff=sniff,
        load=load,
        save=save,
        description="Text point list (x y z [intensity] [r g b] [nx ny nz])",
    ),
    FormatSpec(
        name="pts",
        family="xyz",
        mime=MIME,
        extensions=(".pts",),
        sniff=lambda head, path: sniff(head, path) if path.suffix.lower() == ".pts" else 0,
        load=load,
        description="Leica/Faro PTS text point list (count line, then x y z i r g b)",
    ),
]

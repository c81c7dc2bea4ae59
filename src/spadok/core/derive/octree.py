"""Streaming levels of detail for big point clouds: an octree of point tiles.

The browser cannot take a 50-million-point GLB; it can take the points near
the camera at the detail the screen needs. This module writes that as two
static files (see docs/adr/0013-point-cloud-tiles.md):

* ``web-lod.bin``: every point exactly once, grouped by octree node, each node
  a small tile (positions as three uint16 within the node's cube, then RGB8);
* ``web-lod.json``: the index: the cube, the spacing of each level, and for
  every node its key, point count, byte range, cube corner, quantisation step
  and tight bounds.

Each node keeps one point per cell of a 128³ grid over its cube (the point of
lowest pseudo-random priority, so the choice is uniform and reproducible);
the others go down to its children, until a node has at most ``leaf_points``.
The root is a coarse view of the whole cloud, each level doubles the detail.

It is built in bounded memory, with the points on disk between passes:

1. the bounds come from the statistics pass (:func:`spadok.core.pointstream.scan`);
2. a second pass over the stream quantises each point to a 21-bit-per-axis
   Morton code and appends it, with its colour and file index (19 bytes), to a
   bucket file per octree node at a fixed depth; buckets larger than
   ``bucket_points`` are split on disk into their eight children, and so on;
3. each bucket is built in memory, bottom-up: its leaves, then each parent
   taking its grid sample from all the points below it. Every node below the
   bucket's root is final and written out; the bucket root's points wait in a
   file of their own;
4. the nodes above the buckets are built the same way from those waiting
   points, eight children at a time, up to the root.

Memory is one chunk, or one bucket, or eight nodes, whichever is largest;
the result depends only on the points and their order in the file.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from spadok import __version__ as SPADOK_VERSION
from spadok.core.derive.policy import (
    POINT_LOD_BUCKET_POINTS,
    POINT_LOD_GRID,
    POINT_LOD_LEAF_POINTS,
    POINT_LOD_MIN_POINTS,
    DerivativeFile,
)
from spadok.core.errors import SpadokError
from spadok.core.formats.base import ArrayStream, Asset, PointStream
from spadok.core.pointstream import CHUNK_POINTS, ColourRule, colour_rule, mix, scan

FORMAT = "spadok-point-octree"
FORMAT_VERSION = 1
INDEX_MIME = "application/json"
DATA_MIME = "application/octet-stream"

MORTON_BITS = 21  # per axis: 63 bits of Morton code, 1/2,097,152 of the cube's edge
GRID_BITS = int(np.log2(POINT_LOD_GRID))
MAX_DEPTH = MORTON_BITS - GRID_BITS  # a node's grid cells are Morton cells at depth + GRID_BITS
POSITION_BITS = 16
# Bucket depth for the first on-disk split: at most 8³ = 512 files.
MAX_FIRST_DEPTH = 3

RECORD = np.dtype([("m", "<u8"), ("i", "<u8"), ("c", "u1", (3,))])

_U = np.uint64


def _spread(v: np.ndarray) -> np.ndarray:
    """21-bit integers with two zero bits after every bit (for interleaving)."""
    x = v.astype(np.uint64) & _U(0x1FFFFF)
    x = (x | (x << _U(32))) & _U(0x1F00000000FFFF)
    x = (x | (x << _U(16))) & _U(0x1F0000FF0000FF)
    x = (x | (x << _U(8))) & _U(0x100F00F00F00F00F)
    x = (x | (x << _U(4))) & _U(0x10C30C30C30C30C3)
    x = (x | (x << _U(2))) & _U(0x1249249249249249)
    return x


def _compact(m: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_spread`: every third bit, packed."""
    x = m & _U(0x1249249249249249)
    x = (x ^ (x >> _U(2))) & _U(0x10C30C30C30C30C3)
    x = (x ^ (x >> _U(4))) & _U(0x100F00F00F00F00F)
    x = (x ^ (x >> _U(8))) & _U(0x1F0000FF0000FF)
    x = (x ^ (x >> _U(16))) & _U(0x1F00000000FFFF)
    x = (x ^ (x >> _U(32))) & _U(0x1FFFFF)
    return x


def morton(q: np.ndarray) -> np.ndarray:
    """Morton codes of (n, 3) integer cell coordinates (x in the lowest bit)."""
    return _spread(q[:, 0]) | (_spread(q[:, 1]) << _U(1)) | (_spread(q[:, 2]) << _U(2))


def demorton(m: np.ndarray) -> np.ndarray:
    """(n, 3) uint64 cell coordinates of Morton codes."""
    return np.stack([_compact(m), _compact(m >> _U(1)), _compact(m >> _U(2))], axis=1)


def _shift(depth: int) -> np.uint64:
    """Right shift that turns a full Morton code into its node key at ``depth``."""
    return _U(3 * (MORTON_BITS - depth))


def node_key(depth: int, key: int) -> str:
    """``"depth-x-y-z"``: the node's place in the octree, as the index names it."""
    x, y, z = (int(v) for v in demorton(np.array([key], np.uint64))[0])
    return f"{depth}-{x}-{y}-{z}"


@dataclass(frozen=True)
class Cube:
    """The octree's cube in the cloud's coordinates, and its centre (the local origin)."""

    origin: np.ndarray  # the cube's lowest corner
    size: float
    centre: np.ndarray  # subtracted from every position written (local coordinates)

    @classmethod
    def around(cls, bounds: list[list[float]]) -> Cube:
        lo, hi = np.asarray(bounds[0], np.float64), np.asarray(bounds[1], np.float64)
        centre = (lo + hi) / 2.0
        size = float(np.max(hi - lo))
        size = size * (1 + 1e-6) if size > 0 else 1.0
        return cls(origin=centre - size / 2.0, size=size, centre=centre)

    def cells(self, positions: np.ndarray) -> np.ndarray:
        """Integer cells (``2**-21`` of the edge) of finite positions inside the cube."""
        q = positions - self.origin
        q *= (1 << MORTON_BITS) / self.size
        np.maximum(q, 0.0, out=q)  # rounding can put the lowest points a hair outside
        cells = q.astype(np.uint64)  # truncation: the floor, for what is not negative
        np.minimum(cells, _U((1 << MORTON_BITS) - 1), out=cells)
        return cells


@dataclass
class _Pending:
    """A node whose points may still be taken by a parent (a bucket root, or above)."""

    depth: int
    key: int
    path: Path
    count: int
    has_descendants: bool


@dataclass
class _Writer:
    """Appends finished tiles to the data file and remembers their index entries."""

    fh: BinaryIO
    cube: Cube
    offset: int = 0
    nodes: list[dict[str, Any]] = field(default_factory=list)

    def tile(self, depth: int, key: int, rec: np.ndarray) -> None:
        if len(rec) == 0:
            return
        cells = demorton(rec["m"])
        shift_bits = MORTON_BITS - depth
        origin_cells = demorton(np.array([key], np.uint64))[0] << _U(shift_bits)
        extra = max(0, shift_bits - POSITION_BITS)
        local = ((cells - origin_cells) >> _U(extra)).astype(np.uint16)
        unit = self.cube.size / (1 << MORTON_BITS)
        step = unit * (1 << extra)
        corner = self.cube.origin - self.cube.centre + origin_cells.astype(np.float64) * unit
        body = local.astype("<u2").tobytes() + np.ascontiguousarray(rec["c"]).tobytes()
        pad = (-len(body)) % 4
        self.fh.write(body + b"\0" * pad)
        lo = corner + local.min(axis=0) * step
        hi = corner + local.max(axis=0) * step
        x, y, z = (int(v) for v in demorton(np.array([key], np.uint64))[0])
        self.nodes.append(
            {
                "key": f"{depth}-{x}-{y}-{z}",
                "depth": depth,
                "points": len(rec),
                "offset": self.offset,
                "bytes": len(body),
                "min": [float(v) for v in corner],
                "step": step,
                "bounds": [[float(v) for v in lo], [float(v) for v in hi]],
            }
        )
        self.offset += len(body) + pad


def _pick(m: np.ndarray, prio: np.ndarray, depth: int) -> np.ndarray:
    """Positions (in a Morton-sorted run) of the lowest-priority point of each grid cell."""
    cell = m >> _shift(depth + GRID_BITS)
    starts = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1])))
    lowest = np.minimum.reduceat(prio, starts)
    lengths = np.diff(np.append(starts, len(m)))
    return np.flatnonzero(prio == np.repeat(lowest, lengths))


def _runs(keys: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(key, start, end) of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        yield int(keys[s]), s, e


class OctreeBuilder:
    """Builds the tiles and the index of one cloud; see the module's description."""

    def __init__(
        self,
        stream: PointStream,
        bounds: list[list[float]],
        rule: ColourRule,
        workdir: Path,
        *,
        leaf_points: int = POINT_LOD_LEAF_POINTS,
        bucket_points: int = POINT_LOD_BUCKET_POINTS,
        chunk_size: int = CHUNK_POINTS,
    ) -> None:
        self.stream = stream
        self.cube = Cube.around(bounds)
        self.rule = rule
        self.tmp = Path(tempfile.mkdtemp(prefix=".octree-", dir=workdir))
        self.leaf_points = max(1, leaf_points)
        self.bucket_points = max(self.leaf_points, bucket_points)
        self.chunk_size = chunk_size
        self.points = 0
        self.skipped = 0
        self.max_resident = 0  # the most points held in memory at once, for tests and logs

    # -- pass 2: Morton codes into bucket files ---------------------------------

    def _bucket_path(self, depth: int, key: int) -> Path:
        return self.tmp / f"b{depth}-{key}.rec"

    def _first_depth(self, n: int) -> int:
        depth = 0
        while depth < MAX_FIRST_DEPTH and n > self.bucket_points * 4**depth:
            depth += 1
        return depth

    def _distribute(self, rec: np.ndarray, depth: int, counts: dict[int, int]) -> None:
        keys = rec["m"] >> _shift(depth)
        order = np.argsort(keys, kind="stable")
        rec, keys = rec[order], keys[order]
        for key, s, e in _runs(keys):
            with self._bucket_path(depth, key).open("ab") as fh:
                rec[s:e].tofile(fh)
            counts[key] = counts.get(key, 0) + (e - s)

    def _bucket(self, first_depth: int) -> dict[int, int]:
        counts: dict[int, int] = {}
        seen = 0
        for chunk in self.stream.chunks(self.chunk_size):
            n = len(chunk.positions)
            if n == 0:
                continue
            ok = np.isfinite(chunk.positions).all(axis=1)
            rec = np.empty(int(ok.sum()), RECORD)
            rec["m"] = morton(self.cube.cells(chunk.positions[ok]))
            rec["i"] = np.arange(seen, seen + n, dtype=np.uint64)[ok]
            rec["c"] = self.rule.apply(chunk)[ok]
            self.max_resident = max(self.max_resident, n)
            self.points += len(rec)
            self.skipped += n - len(rec)
            seen += n
            self._distribute(rec, first_depth, counts)
            del rec, chunk
        return counts

    def _split(self, first_depth: int, counts: dict[int, int]) -> list[tuple[int, int, int]]:
        """Split buckets larger than ``bucket_points`` on disk; the final (depth, key, count)."""
        todo = [(first_depth, k, c) for k, c in counts.items()]
        done: list[tuple[int, int, int]] = []
        while todo:
            depth, key, count = todo.pop()
            if count <= self.bucket_points or depth >= MAX_DEPTH:
                done.append((depth, key, count))
                continue
            path = self._bucket_path(depth, key)
            children: dict[int, int] = {}
            with path.open("rb") as fh:
                while True:
                    rec = np.fromfile(fh, RECORD, count=self.chunk_size)
                    if len(rec) == 0:
                        break
                    self._distribute(rec, depth + 1, children)
            path.unlink()
            todo.extend((depth + 1, k, c) for k, c in children.items())
        # Morton order of the buckets' cubes: the file's tiles come out in one fixed order.
        done.sort(key=lambda b: (b[1] << (3 * (MORTON_BITS - b[0])), b[0]))
        return done

    # -- 3: each bucket in memory, bottom-up ---------------------------------------

    def _build_bucket(self, depth: int, key: int, writer: _Writer) -> _Pending | None:
        path = self._bucket_path(depth, key)
        rec = np.fromfile(path, RECORD)
        path.unlink()
        self.max_resident = max(self.max_resident, len(rec))
        rec = rec[np.lexsort((rec["i"], rec["m"]))]
        m = rec["m"]
        prio = mix(rec["i"])
        owner = np.empty(len(rec), np.int8)

        def node(d: int, a: int, b: int) -> None:
            if b - a <= self.leaf_points or d >= MAX_DEPTH:
                owner[a:b] = d
                return
            for _k, s, e in _runs(m[a:b] >> _shift(d + 1)):
                node(d + 1, a + s, a + e)
            owner[a + _pick(m[a:b], prio[a:b], d)] = d

        node(depth, 0, len(rec))
        has_descendants = False
        for d in range(depth + 1, MAX_DEPTH + 1):
            sel = np.flatnonzero(owner == d)
            if len(sel) == 0:
                continue
            has_descendants = True
            part = rec[sel]
            for k, s, e in _runs(part["m"] >> _shift(d)):
                writer.tile(d, k, part[s:e])
        own = rec[owner == depth]
        if depth == 0:
            writer.tile(0, 0, own)
            return None
        pending = self.tmp / f"p{depth}-{key}.rec"
        own.tofile(pending)
        return _Pending(depth, key, pending, len(own), has_descendants)

    # -- 4: the nodes above the buckets --------------------------------------------

    def _build_upper(self, pending: list[_Pending], writer: _Writer) -> None:
        by_depth: dict[int, list[_Pending]] = {}
        for p in pending:
            by_depth.setdefault(p.depth, []).append(p)
        for depth in range(max(by_depth, default=0), 0, -1):
            level = sorted(by_depth.pop(depth, []), key=lambda p: p.key)
            parents: dict[int, list[_Pending]] = {}
            for p in level:
                parents.setdefault(p.key >> 3, []).append(p)
            for parent_key, children in parents.items():
                made = self._merge(depth - 1, parent_key, children, writer)
                if made is not None:
                    by_depth.setdefault(depth - 1, []).append(made)
        for p in by_depth.get(0, []):  # the root, when it was built from its children
            rec = np.fromfile(p.path, RECORD)
            p.path.unlink()
            writer.tile(0, 0, rec)

    def _merge(
        self, depth: int, key: int, children: list[_Pending], writer: _Writer
    ) -> _Pending | None:
        parts = []
        for child in children:  # in key order, so the union stays Morton-sorted
            parts.append(np.fromfile(child.path, RECORD))
            child.path.unlink()
        rec = np.concatenate(parts)
        self.max_resident = max(self.max_resident, len(rec))
        below = any(c.has_descendants for c in children)
        if len(rec) <= self.leaf_points and not below:
            own = rec  # a sparse corner: one tile, no children
        else:
            below = True
            taken = np.zeros(len(rec), bool)
            taken[_pick(rec["m"], mix(rec["i"]), depth)] = True
            start = 0
            for child, part in zip(children, parts, strict=True):
                end = start + len(part)
                writer.tile(child.depth, child.key, rec[start:end][~taken[start:end]])
                start = end
            own = rec[taken]
        path = self.tmp / f"p{depth}-{key}.rec"
        own.tofile(path)
        return _Pending(depth, key, path, len(own), below)

    # -- all of it -----------------------------------------------------------------

    def build(self, data_path: Path) -> dict[str, Any]:
        """Write the tiles to ``data_path``; return the index (without the data's name)."""
        try:
            first = self._first_depth(int(self.stream.count))
            counts = self._bucket(first)
            if self.points == 0:
                raise SpadokError("geometry.invalid", "no point has finite coordinates")
            buckets = self._split(first, counts)
            with data_path.open("wb") as fh:
                writer = _Writer(fh, self.cube)
                pending = []
                for depth, key, _count in buckets:
                    made = self._build_bucket(depth, key, writer)
                    if made is not None:
                        pending.append(made)
                self._build_upper(pending, writer)
            return self._index(writer.nodes)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _empty(self, depth: int, x: int, y: int, z: int) -> dict[str, Any]:
        """An ancestor whose every point a parent took: no tile, but its children count."""
        edge = self.cube.size / 2**depth
        corner = self.cube.origin - self.cube.centre + np.array([x, y, z], np.float64) * edge
        return {
            "key": f"{depth}-{x}-{y}-{z}",
            "depth": depth,
            "points": 0,
            "offset": 0,
            "bytes": 0,
            "min": [float(v) for v in corner],
            "step": 0.0,
            "bounds": [[float(v) for v in corner], [float(v) + edge for v in corner]],
        }

    def _index(self, nodes: list[dict[str, Any]]) -> dict[str, Any]:
        keys = {n["key"] for n in nodes}
        for n in list(nodes):
            d, x, y, z = (int(v) for v in n["key"].split("-"))
            while d > 0:
                d, x, y, z = d - 1, x >> 1, y >> 1, z >> 1
                if f"{d}-{x}-{y}-{z}" in keys:
                    break
                keys.add(f"{d}-{x}-{y}-{z}")
                nodes.append(self._empty(d, x, y, z))
        nodes.sort(key=lambda n: tuple(int(v) for v in n["key"].split("-")))
        for n in nodes:
            d, x, y, z = (int(v) for v in n["key"].split("-"))
            mask = 0
            for i in range(8):
                child = f"{d + 1}-{2 * x + (i & 1)}-{2 * y + (i >> 1 & 1)}-{2 * z + (i >> 2)}"
                if child in keys:
                    mask |= 1 << i
            n["children"] = mask
        levels: dict[int, dict[str, Any]] = {}
        for n in nodes:
            lv = levels.setdefault(
                n["depth"],
                {
                    "depth": n["depth"],
                    "nodes": 0,
                    "points": 0,
                    "spacing": self.cube.size / POINT_LOD_GRID / 2 ** n["depth"],
                },
            )
            lv["nodes"] += 1
            lv["points"] += n["points"]
        filled = [n for n in nodes if n["points"]]
        lo = np.min([n["bounds"][0] for n in filled], axis=0)
        hi = np.max([n["bounds"][1] for n in filled], axis=0)
        half = self.cube.size / 2.0
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "generator": f"spadok {SPADOK_VERSION}",
            "points": self.points,
            "skipped_points": self.skipped,
            "cube": {"min": [-half, -half, -half], "size": self.cube.size},
            "bounds": [[float(v) for v in lo], [float(v) for v in hi]],
            "grid": POINT_LOD_GRID,
            "leaf_points": self.leaf_points,
            "levels": [levels[d] for d in sorted(levels)],
            "attributes": [
                {"name": "position", "type": "uint16", "components": 3, "layout": "node"},
                {"name": "rgb", "type": "uint8", "components": 3, "normalized": True},
            ],
            "colour": self.rule.source,
            "nodes": nodes,
        }


def make_point_lod(
    stream: PointStream,
    facts: dict[str, Any],
    rule: ColourRule,
    out: Path,
    *,
    up: str = "Z",
    unit: str | None = None,
    leaf_points: int = POINT_LOD_LEAF_POINTS,
    bucket_points: int = POINT_LOD_BUCKET_POINTS,
    chunk_size: int = CHUNK_POINTS,
) -> list[DerivativeFile]:
    """The octree derivatives of a cloud: ``web-lod`` (index) and ``web-lod-data`` (tiles).

    Coordinates are local (the cloud's centre is the origin), so the tiles
    carry no georeference; ``up`` says which axis is up, ``unit`` the unit.
    """
    t0 = time.perf_counter()
    bounds = facts.get("bounds")
    if not bounds:
        raise SpadokError("geometry.invalid", "no point has finite coordinates")
    out.mkdir(parents=True, exist_ok=True)
    data_path = out / "web-lod.bin"
    index_path = out / "web-lod.json"
    builder = OctreeBuilder(
        stream,
        bounds,
        rule,
        out,
        leaf_points=leaf_points,
        bucket_points=bucket_points,
        chunk_size=chunk_size,
    )
    index = builder.build(data_path)
    index["up"] = up
    index["unit"] = unit
    index["data"] = {"role": "web-lod-data", "bytes": data_path.stat().st_size}
    index_path.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
    params = {
        "format": f"{FORMAT}/{FORMAT_VERSION}",
        "grid": POINT_LOD_GRID,
        "leaf_points": builder.leaf_points,
        "bucket_points": builder.bucket_points,
        "chunk_points": chunk_size,
        "sampling": "lowest splitmix64 priority of the file index per grid cell",
        "colour": rule.describe(),
    }
    stats = {
        "points": index["points"],
        "nodes": len(index["nodes"]),
        "levels": len(index["levels"]),
        "max_resident_points": builder.max_resident,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    tool = f"spadok {SPADOK_VERSION}"
    return [
        DerivativeFile(
            role="web-lod", path=index_path, mime=INDEX_MIME, tool=tool, params=params, stats=stats
        ),
        DerivativeFile(
            role="web-lod-data",
            path=data_path,
            mime=DATA_MIME,
            tool=tool,
            params=params,
            stats={"bytes": data_path.stat().st_size, "points": index["points"]},
        ),
    ]


def make_asset_lod(asset: Asset, out: Path) -> list[DerivativeFile]:
    """The octree of a point cloud read by the pipeline, when it is big enough to need one.

    Streaming readers (LAS/LAZ/COPC, E57) give the whole cloud again through
    ``asset.stream``; clouds read whole are tiled from memory. Call it before
    the sample is turned Y-up: the tiles keep the file's axes and say which is up.
    """
    if asset.stored_only or asset.kind != "pointcloud" or asset.points is None:
        return []
    stream: PointStream = asset.stream or ArrayStream(asset.points)
    facts = asset.point_facts
    if facts is None:
        _, facts = scan(stream, sample_size=0)
    if int(facts["points"]) < POINT_LOD_MIN_POINTS:
        return []
    up = asset.up_axis or "Z"
    rule = colour_rule(facts, asset.points, up)
    return make_point_lod(
        stream, facts, rule, out, up=up, unit=asset.unit, leaf_points=POINT_LOD_LEAF_POINTS
    )


def read_tile(
    index: dict[str, Any], node: dict[str, Any], data: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (float64, local) and RGB8 of one tile, as a viewer decodes them."""
    n, off = int(node["points"]), int(node["offset"])
    q = np.frombuffer(data, "<u2", count=3 * n, offset=off).reshape(n, 3)
    rgb = np.frombuffer(data, np.uint8, count=3 * n, offset=off + 6 * n).reshape(n, 3)
    pos = np.asarray(node["min"], np.float64) + q.astype(np.float64) * float(node["step"])
    return pos, rgb

"""One streaming pass over a point cloud: exact facts and a bounded sample.

A LiDAR survey can hold billions of points, far more than memory. Readers
that can (LAS/LAZ/COPC) hand out a :class:`~spadok.core.formats.base.PointStream`;
:func:`scan` reads it chunk by chunk, once, and keeps only

* the facts the catalogue shows (count, exact bounds, colour, intensity and
  classification present, points per class), and
* a uniform sample of at most ``sample_size`` points for the thumbnail and the
  small web GLB: every point gets a pseudo-random priority from its position in
  the file (splitmix64, so the same file always gives the same sample) and the
  sample is the ``sample_size`` points of lowest priority, kept in file order.

Peak memory is one chunk plus the sample, whatever the size of the cloud.
:class:`ColourRule` turns a chunk's colours (own, else intensity as grey, else
height) into RGB8 with parameters of the whole cloud, so that every chunk and
every octree tile is coloured alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spadok.core.formats.base import PointChunk, PointSet, PointStream

# Points per chunk: about 60 MB of temporaries for a LAS chunk, whatever the file.
CHUNK_POINTS = 1_000_000
SAMPLE_SEED = 0x5BAD0C
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def priorities(start: int, n: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """splitmix64 of the points' file positions: unique, reproducible, uniform."""
    return mix(np.arange(start, start + n, dtype=np.uint64), seed)


def mix(index: np.ndarray, seed: int = SAMPLE_SEED) -> np.ndarray:
    """splitmix64 of point indices (a bijection on 64 bits, so no two points tie)."""
    with np.errstate(over="ignore"):
        z = (np.asarray(index, np.uint64) + np.uint64(seed)) * _GOLDEN
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def colours_to_uint8(colors: np.ndarray, top: float) -> np.ndarray:
    """RGB8 from stored colours, scaled by the whole cloud's largest value ``top``.

    LAS stores 16 bits, but many writers put 8-bit values there: only a cloud
    whose largest value exceeds 255 is shifted down. Floats in 0..1 are scaled up.
    """
    c = np.asarray(colors)[:, :3]
    if c.dtype == np.uint8:
        return np.ascontiguousarray(c)
    if np.issubdtype(c.dtype, np.integer):
        return (c >> 8 if top > 255 else c).astype(np.uint8)
    f = c.astype(np.float64)
    scale = 255.0 / 65535.0 if top > 255 else 1.0 if top > 1 else 255.0
    return np.clip(f * scale, 0, 255).astype(np.uint8)


# Viewer-friendly ramp for colour by height (low -> high); the same as the point GLB's.
HEIGHT_RAMP = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32
)


@dataclass(frozen=True)
class ColourRule:
    """How every point of one cloud gets its RGB8 colour, with whole-cloud parameters."""

    source: str  # "own", "intensity" or "height"
    top: float = 255.0  # own: the largest stored colour value
    lo: float = 0.0  # intensity: 2nd percentile; height: lowest
    hi: float = 1.0  # intensity: 98th percentile; height: highest
    axis: int = 2  # height: the up axis in the file's axes

    def apply(self, chunk: PointChunk) -> np.ndarray:
        n = len(chunk.positions)
        if self.source == "own" and chunk.colors is not None:
            return colours_to_uint8(chunk.colors, self.top)
        out = np.empty((n, 3), np.uint8)
        if self.source == "intensity" and chunk.intensity is not None:
            val = np.asarray(chunk.intensity, np.float64)
            grey = np.clip((val - self.lo) / (self.hi - self.lo), 0, 1) * 200 + 40
            out[:] = grey.astype(np.uint8)[:, None]
            return out
        h = np.asarray(chunk.positions[:, self.axis], np.float64)
        span = self.hi - self.lo
        t = np.zeros(n) if span <= 0 else np.clip((h - self.lo) / span, 0, 1)
        t = np.nan_to_num(t)
        x = t * (len(HEIGHT_RAMP) - 1)
        i = np.minimum(x.astype(np.int64), len(HEIGHT_RAMP) - 2)
        f = (x - i)[:, None]
        out[:] = (HEIGHT_RAMP[i] * (1 - f) + HEIGHT_RAMP[i + 1] * f).astype(np.uint8)
        return out

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "top": self.top, "lo": self.lo, "hi": self.hi}


def colour_rule(facts: dict[str, Any], sample: PointSet, up: str = "Z") -> ColourRule:
    """The rule for a cloud: its own colours, else intensity, else height along ``up``."""
    if facts.get("has_colors"):
        return ColourRule("own", top=float(facts.get("color_max") or 255.0))
    intensity = sample.attributes.get("intensity")
    if facts.get("has_intensity") and intensity is not None and len(intensity):
        lo, hi = np.percentile(np.asarray(intensity, np.float64), [2, 98])
        if hi > lo:
            return ColourRule("intensity", lo=float(lo), hi=float(hi))
    axis = 1 if up == "Y" else 2
    bounds = facts.get("bounds")
    lo, hi = (bounds[0][axis], bounds[1][axis]) if bounds else (0.0, 1.0)
    return ColourRule("height", lo=float(lo), hi=float(hi), axis=axis)


class _Reservoir:
    """The ``size`` lowest-priority points seen so far, with their attributes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.index = np.zeros(0, np.uint64)
        self.prio = np.zeros(0, np.uint64)
        self.parts: dict[str, np.ndarray] = {}

    def offer(self, start: int, chunk: PointChunk) -> None:
        n = len(chunk.positions)
        prio = priorities(start, n)
        if len(self.prio) >= self.size:
            take = np.flatnonzero(prio < self.prio.max())
            if len(take) == 0:
                return
        else:
            take = None
        fields = {
            "positions": chunk.positions,
            "colors": chunk.colors,
            "intensity": chunk.intensity,
            "classification": chunk.classification,
        }
        new = {k: (v if take is None else v[take]) for k, v in fields.items() if v is not None}
        index = np.arange(start, start + n, dtype=np.uint64)
        index, prio = (index, prio) if take is None else (index[take], prio[take])
        self.index = np.concatenate([self.index, index])
        self.prio = np.concatenate([self.prio, prio])
        for k, v in new.items():
            old = self.parts.get(k)
            self.parts[k] = np.asarray(v) if old is None else np.concatenate([old, v])
        if len(self.prio) > self.size:
            keep = np.sort(np.argpartition(self.prio, self.size - 1)[: self.size])
            self.index, self.prio = self.index[keep], self.prio[keep]
            self.parts = {k: v[keep] for k, v in self.parts.items()}

    def points(self, count: int, top: float) -> PointSet:
        parts = self.parts
        if len(self.index) > 1 and not bool(np.all(self.index[1:] > self.index[:-1])):
            order = np.argsort(self.index, kind="stable")  # file order
            parts = {k: v[order] for k, v in parts.items()}
        attributes: dict[str, np.ndarray] = {}
        if "intensity" in parts:
            attributes["intensity"] = parts["intensity"]
        colors = parts.get("colors")
        return PointSet(
            positions=parts.get("positions", np.zeros((0, 3))),
            colors=None if colors is None else colours_to_uint8(colors, top),
            attributes=attributes,
            count=count,
        )


def scan(
    stream: PointStream, *, sample_size: int, chunk_size: int = CHUNK_POINTS
) -> tuple[PointSet, dict[str, Any]]:
    """Read ``stream`` once: a sample of at most ``sample_size`` points and the exact facts."""
    reservoir = _Reservoir(sample_size)
    seen = 0
    finite = 0
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    has_colors = has_intensity = has_classes = False
    color_max = 0.0
    classes = np.zeros(256, np.int64)
    for chunk in stream.chunks(chunk_size):
        n = len(chunk.positions)
        if n == 0:
            continue
        pos = chunk.positions
        ok = np.isfinite(pos).all(axis=1)
        good = pos if ok.all() else pos[ok]
        if len(good):
            finite += len(good)
            np.minimum(lo, good.min(axis=0), out=lo)
            np.maximum(hi, good.max(axis=0), out=hi)
        if chunk.colors is not None:
            has_colors = True
            color_max = max(color_max, float(np.max(chunk.colors)))
        if chunk.intensity is not None:
            has_intensity = True
        if chunk.classification is not None:
            has_classes = True
            classes += np.bincount(np.asarray(chunk.classification, np.uint8), minlength=256)
        if sample_size > 0:
            reservoir.offer(seen, chunk)
        seen += n
    facts: dict[str, Any] = {
        "points": seen,
        "finite_points": finite,
        "bounds": [lo.tolist(), hi.tolist()] if finite else None,
        "has_colors": has_colors,
        "color_max": color_max if has_colors else None,
        "has_intensity": has_intensity,
        "classes": {str(c): int(classes[c]) for c in np.flatnonzero(classes)}
        if has_classes
        else None,
        "sampled": seen > sample_size,
        "sample_points": min(seen, sample_size),
        "chunk_points": chunk_size,
    }
    return reservoir.points(seen, color_max), facts

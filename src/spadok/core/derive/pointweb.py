"""Web copies of point clouds (and of splats, as their coloured centres).

A GLB with one POINTS primitive: subsampled to the policy's limit, recentred
in float64 before the float32 cast (the offset goes back as a node
translation, so georeferenced clouds keep their precision), then quantised
and compressed by gltfpack, which handles point primitives.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np

from spadok.core.derive.policy import POINT_WEB_MAX_POINTS, DerivativeFile
from spadok.core.derive.webglb import (
    GLB_MIME,
    GLTFPACK_ARGS,
    Material,
    Primitive,
    add_root_translation,
    finish_gltfpack,
    start_gltfpack,
    tool_string,
    write_glb,
)
from spadok.core.errors import SpadokError
from spadok.core.formats.base import PointSet

# Viewer-friendly ramp for colour by height (low -> high).
_HEIGHT_RAMP = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32
)
SAMPLE_SEED = 0


def subsample_indices(n: int, limit: int) -> np.ndarray | None:
    """Sorted indices of a uniform, reproducible sample of ``limit`` of ``n``; None to keep all."""
    if n <= limit:
        return None
    rng = np.random.default_rng(SAMPLE_SEED)
    mask = rng.random(n, dtype=np.float32) < (limit / n) * 1.002
    keep = np.flatnonzero(mask)
    if len(keep) > limit:
        keep = np.sort(rng.choice(keep, limit, replace=False))
    return keep


def point_colors(
    points: PointSet, up: Literal["Y", "Z"] = "Z", keep: np.ndarray | None = None
) -> np.ndarray:
    """RGBA8 colours: the cloud's own, else intensity as grey, else a height ramp."""
    n = len(points.positions) if keep is None else len(keep)
    if points.colors is not None and len(points.colors) == len(points.positions):
        col = points.colors if keep is None else points.colors[keep]
        col = np.asarray(col)
        if col.dtype != np.uint8:
            col = col.astype(np.float64)
            top = col.max() if col.size else 1.0
            col = col / (65535.0 if top > 255 else 255.0 if top > 1 else 1.0) * 255.0
            col = np.clip(col, 0, 255).astype(np.uint8)
        if col.shape[1] == 3:
            col = np.concatenate([col, np.full((n, 1), 255, np.uint8)], axis=1)
        return np.ascontiguousarray(col[:, :4])
    out = np.empty((n, 4), np.uint8)
    out[:, 3] = 255
    intensity = points.attributes.get("intensity")
    if intensity is not None and len(intensity) == len(points.positions):
        val = np.asarray(intensity if keep is None else intensity[keep], np.float64)
        lo, hi = np.percentile(val, [2, 98]) if n else (0.0, 1.0)
        if hi > lo:
            grey = np.clip((val - lo) / (hi - lo), 0, 1) * 200 + 40
            out[:, :3] = grey.astype(np.uint8)[:, None]
            return out
    axis = 1 if up == "Y" else 2
    pos = points.positions if keep is None else points.positions[keep]
    h = np.asarray(pos[:, axis], np.float64)
    lo, hi = (h.min(), h.max()) if n else (0.0, 1.0)
    t = np.zeros(n) if hi <= lo else (h - lo) / (hi - lo)
    x = t * (len(_HEIGHT_RAMP) - 1)
    i = np.minimum(x.astype(np.int64), len(_HEIGHT_RAMP) - 2)
    f = (x - i)[:, None]
    out[:, :3] = (_HEIGHT_RAMP[i] * (1 - f) + _HEIGHT_RAMP[i + 1] * f).astype(np.uint8)
    return out


def make_point_glb(
    points: PointSet,
    out: Path,
    max_points: int = POINT_WEB_MAX_POINTS,
    up: Literal["Y", "Z"] = "Z",
    role: str = "web-points",
) -> DerivativeFile:
    """Write a compressed point GLB of at most ``max_points`` points to ``out``."""
    t0 = time.perf_counter()
    pos = np.asarray(points.positions)
    if pos.ndim != 2 or pos.shape[1] < 3 or len(pos) == 0:
        raise SpadokError("geometry.empty", "the point cloud has no points")
    finite = np.isfinite(pos[:, :3]).all(axis=1)
    keep = subsample_indices(len(pos), max_points)
    if not finite.all():
        keep = np.flatnonzero(finite) if keep is None else keep[finite[keep]]
    sel = pos[:, :3] if keep is None else pos[keep, :3]
    if len(sel) == 0:
        raise SpadokError("geometry.invalid", "no point has finite coordinates")
    lo, hi = sel.min(axis=0), sel.max(axis=0)
    centre = (lo + hi) / 2.0
    prim = Primitive(
        positions=(sel - centre).astype(np.float32),
        indices=None,
        colors=point_colors(points, up, keep),
        material=Material(name="points", unlit=True),
    )
    del sel
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(f".{out.stem}.raw.glb")
    try:
        write_glb(raw, [prim])
        finish_gltfpack(start_gltfpack(raw, out))
    finally:
        raw.unlink(missing_ok=True)
    add_root_translation(out, centre)
    return DerivativeFile(
        role=role,
        path=out,
        mime=GLB_MIME,
        tool=tool_string(),
        params={
            "max_points": max_points,
            "sampling": f"uniform random, seed {SAMPLE_SEED}",
            "colour": "own"
            if points.colors is not None
            else ("intensity" if "intensity" in points.attributes else f"height ({up} up)"),
            "gltfpack": list(GLTFPACK_ARGS),
        },
        stats={
            "points": len(prim.positions),
            "source_points": int(points.count),
            "bytes": out.stat().st_size,
            "offset": [float(x) for x in centre],
            "bounds": [[float(v) for v in lo], [float(v) for v in hi]],
            "seconds": round(time.perf_counter() - t0, 3),
        },
    )

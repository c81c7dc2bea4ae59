"""The heat-map model: a capture's surface coloured by how far the other one lies.

Colours run from dark red (material lost, the after surface lies inside the
before one) through a neutral grey (within the threshold: unchanged) to dark
blue (material added). The scale is symmetric, from the threshold to the
98th percentile of the change, so a few stray points do not wash it out; the
legend stops are in the report and drawn by the page. Red and blue stay
apart for the common colour-vision deficiencies, and the page names the
sides in words too.

Models are written in the before capture's frame, moved to its centre and
turned Y-up like the web copies, so that the heat map and the two plain
aligned models (for the side-by-side and slider views) share one frame; then
compressed with gltfpack like every web copy.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.derive.webglb import (
    Material,
    Primitive,
    finish_gltfpack,
    simplify_primitive,
    start_gltfpack,
    vertex_normals,
    write_glb,
)

NEUTRAL = "#9a9a9a"
LOST_RAMP = ("#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
ADDED_RAMP = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")
UNSIGNED_RAMP = ("#fee391", "#fe9929", "#cc4c02", "#662506")  # changed, side unknown
RANGE_PERCENTILE = 98.0
BEFORE_HEX = "#c2b29a"  # warm grey: the before capture in the side-by-side and slider views
AFTER_HEX = "#98a9c2"  # cool grey: the after capture
_Z_TO_Y = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB values (0..1) to linear light: glTF's colours (COLOR_0, baseColorFactor) are linear."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_rgba8(rgba: np.ndarray) -> np.ndarray:
    """RGBA8 in sRGB (as the legend shows them) to RGBA8 in linear light, for COLOR_0."""
    out = rgba.copy()
    out[:, :3] = np.round(srgb_to_linear(rgba[:, :3] / 255.0) * 255).astype(np.uint8)
    return out


def base_colour(hex_colour: str) -> tuple[float, float, float, float]:
    """A material's baseColorFactor (linear) that shows as ``hex_colour``."""
    r, g, b = (float(v) for v in srgb_to_linear(_rgb(hex_colour) / 255.0))
    return (r, g, b, 1.0)


@dataclass
class Legend:
    threshold: float
    limit: float  # the scale runs from -limit to +limit
    signed: bool
    unit: str | None  # "m", or None for model units

    def _ramp_colours(self, t: np.ndarray, ramp: tuple[str, ...]) -> np.ndarray:
        stops = np.array([_rgb(c) for c in ramp])
        pos = np.clip(t, 0, 1) * (len(ramp) - 1)
        low = np.minimum(pos.astype(int), len(ramp) - 2)
        frac = (pos - low)[:, None]
        return stops[low] * (1 - frac) + stops[low + 1] * frac

    def colours(self, values: np.ndarray) -> np.ndarray:
        """RGBA8 per value, in sRGB as the legend shows them (see :func:`linear_rgba8`)."""
        out = np.empty((len(values), 3))
        out[:] = _rgb(NEUTRAL)
        span = max(self.limit - self.threshold, 1e-30)
        t = (np.abs(values) - self.threshold) / span
        if self.signed:
            lost = values < -self.threshold
            added = values > self.threshold
            out[lost] = self._ramp_colours(t[lost], LOST_RAMP)
            out[added] = self._ramp_colours(t[added], ADDED_RAMP)
        else:
            changed = np.abs(values) > self.threshold
            out[changed] = self._ramp_colours(t[changed], UNSIGNED_RAMP)
        rgba = np.full((len(values), 4), 255, np.uint8)
        rgba[:, :3] = np.clip(np.round(out), 0, 255).astype(np.uint8)
        return rgba

    def stops(self) -> list[dict[str, Any]]:
        """Value/colour pairs from -limit to +limit (hard steps at the threshold)."""
        thr, lim = self.threshold, self.limit
        fractions = [i / (len(LOST_RAMP) - 1) for i in range(len(LOST_RAMP))]
        upper = [(thr + f * (lim - thr), c) for f, c in zip(fractions, ADDED_RAMP, strict=True)]
        if not self.signed:
            ramp = zip(fractions, UNSIGNED_RAMP, strict=True)
            return [{"value": 0.0, "color": NEUTRAL}, {"value": thr, "color": NEUTRAL}] + [
                {"value": thr + f * (lim - thr), "color": c} for f, c in ramp
            ]
        lower = [(-v, c) for (v, _), c in zip(upper, LOST_RAMP, strict=True)][::-1]
        middle = [(-thr, NEUTRAL), (thr, NEUTRAL)]
        return [{"value": v, "color": c} for v, c in [*lower, *middle, *upper]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "min": -self.limit if self.signed else 0.0,
            "max": self.limit,
            "signed": self.signed,
            "unit": self.unit,
            "stops": self.stops(),
            "neutral": NEUTRAL,
            "lost": LOST_RAMP[2] if self.signed else None,
            "added": ADDED_RAMP[2] if self.signed else None,
        }


def make_legend(
    changes: list[np.ndarray], threshold: float, signed: bool, unit: str | None
) -> Legend:
    """A symmetric scale from the threshold to the 98th percentile of the changed points."""
    pooled = np.concatenate([np.abs(c) for c in changes]) if changes else np.zeros(0)
    changed = pooled[pooled > threshold]
    limit = float(np.percentile(changed, RANGE_PERCENTILE)) if len(changed) else 0.0
    return Legend(threshold=threshold, limit=max(limit, 2 * threshold), signed=signed, unit=unit)


@dataclass
class Frame:
    """Where the models are drawn: shifted to ``centre``, turned Y-up when Z is up."""

    centre: np.ndarray
    z_up: bool

    def apply(self, points: np.ndarray) -> np.ndarray:
        local = points - self.centre
        if self.z_up:
            local = local @ _Z_TO_Y.T
        return np.ascontiguousarray(local, dtype=np.float32)


@dataclass
class Model:
    """A model ready to write: positions in the comparison's frame, triangles or points."""

    positions: np.ndarray  # (n, 3) float64, comparison coordinates
    indices: np.ndarray | None  # flat uint32 triangle list, or None for points
    values: np.ndarray | None = None  # per-vertex change, for the heat map


def reduce(
    vertices: np.ndarray, faces: np.ndarray | None, budget: int, centre: np.ndarray
) -> Model:
    """The surface within ``budget`` triangles (or points), simplified like the web copies."""
    local = np.ascontiguousarray(vertices - centre, dtype=np.float32)
    if faces is None:
        prim = Primitive(positions=local, indices=None)
    else:
        prim = Primitive(positions=local, indices=faces.reshape(-1).astype(np.uint32))
    prim, _err = simplify_primitive(prim, budget)
    positions = prim.positions.astype(np.float64) + centre
    return Model(positions=positions, indices=prim.indices)


def write_model(
    path: Path,
    model: Model,
    frame: Frame,
    *,
    colours: np.ndarray | None = None,
    base: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
    name: str = "",
    compress: bool = True,
) -> dict[str, Any]:
    """Write one model as a GLB (meshopt-compressed unless ``compress`` is off)."""
    positions = frame.apply(model.positions)
    normals = None
    if model.indices is not None and len(model.indices):
        normals = vertex_normals(positions, model.indices)
    material = Material(name=name, color=base, roughness=0.85)
    prim = Primitive(
        positions=positions,
        indices=model.indices,
        normals=normals,
        colors=colours,
        material=material,
    )
    plain = path.with_name(path.stem + ".plain.glb")
    write_glb(plain, [prim])
    if compress:
        finish_gltfpack(start_gltfpack(plain, path))
        plain.unlink()
    else:
        shutil.move(plain, path)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "vertices": len(positions),
        "triangles": 0 if model.indices is None else len(model.indices) // 3,
    }

"""Lost and added volume between two aligned captures.

Two methods, chosen by what the surfaces allow (docs/adr/0010 has the reasons):

* ``voxel`` (both captures closed, consistently wound meshes): a regular grid
  over the changed region only, each cell's centre tested inside/outside both
  meshes by ray parity. Lost = inside before and outside after; added = the
  reverse. A morphological opening removes slivers thinner than the threshold
  (alignment noise along the unchanged surface), and the volume is the count
  of cells times their size. The error is statistical (cells cut by the
  surface count whole or not at all, at random), far below 1% for the
  hundreds of thousands of cells the budget allows.

* ``surface`` (open meshes, point clouds with normals): the signed distances
  integrated over the changed area, sum of (area x depth) over the samples
  beyond the threshold, averaged over both surfaces where both are signed.
  Exact for material removed along the surface normal from a flat surface;
  on a curved one it errs by about depth / radius of curvature (a dent as deep
  as a tenth of the radius: ~10%, one side over, the other under, which the
  average of both sides largely cancels). It says nothing about material that
  neither surface shows (a part removed without the break being scanned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spadok.core.compare.distance import Surface

VOXEL_BUDGET = 2_000_000  # grid cells over the changed region's box
MARGIN_CELLS = 3
# The surface method is trusted for changes shallower than this share of the size.
SHALLOW_SHARE = 0.03


@dataclass
class Volume:
    method: str | None  # "voxel", "surface" or None (not measurable)
    lost: float | None = None
    added: float | None = None
    cell: float | None = None  # voxel edge, for "voxel"
    note: str = ""
    surface_estimate: dict[str, float] = field(default_factory=dict)
    indicative: bool = False  # the surface method on a change too deep for it

    def as_dict(self) -> dict[str, Any]:
        net = None if self.lost is None or self.added is None else self.added - self.lost
        return {
            "method": self.method,
            "lost": self.lost,
            "added": self.added,
            "net": net,
            "voxel_size": self.cell,
            "note": self.note,
            "surface_estimate": self.surface_estimate,
            "indicative": self.indicative,
        }


def surface_integral(
    changes: np.ndarray, areas: np.ndarray, threshold: float
) -> tuple[float, float]:
    """(lost, added): area x depth summed over the samples farther than the threshold."""
    lost_mask = changes < -threshold
    added_mask = changes > threshold
    lost = float(np.sum(areas[lost_mask] * -changes[lost_mask]))
    added = float(np.sum(areas[added_mask] * changes[added_mask]))
    return lost, added


def surface_volume(
    sides: list[tuple[np.ndarray, np.ndarray]], threshold: float, size: float
) -> Volume:
    """The surface method over the signed sides given as (changes, areas).

    A change deeper than :data:`SHALLOW_SHARE` of the size makes the figure
    indicative only (the method's error grows with depth / radius of curvature).
    """
    estimates = [surface_integral(c, a, threshold) for c, a in sides]
    deepest = max((float(np.percentile(np.abs(c), 99.5)) for c, _a in sides), default=0.0)
    indicative = deepest > SHALLOW_SHARE * size
    lost = float(np.mean([e[0] for e in estimates]))
    added = float(np.mean([e[1] for e in estimates]))
    detail = {f"side_{i}_lost": e[0] for i, e in enumerate(estimates)}
    detail.update({f"side_{i}_added": e[1] for i, e in enumerate(estimates)})
    note = "signed distances integrated over the changed area" + (
        " (mean of both surfaces)" if len(sides) > 1 else " (one surface)"
    )
    if indicative:
        note += (
            f"; the change is deep (up to {deepest:.3g}, {deepest / size:.0%} of the size), "
            "where this method errs by about depth / radius of curvature: indicative only"
        )
    return Volume(
        method="surface",
        lost=lost,
        added=added,
        note=note,
        surface_estimate=detail,
        indicative=indicative,
    )


def voxel_volume(
    before: Surface,
    after: Surface,
    changed_points: np.ndarray,
    threshold: float,
    *,
    budget: int = VOXEL_BUDGET,
    seed: int = 0,
) -> Volume:
    """The voxel method (see the module docstring) over the box of ``changed_points``."""
    from scipy import ndimage

    if len(changed_points) == 0:
        return Volume(method="voxel", lost=0.0, added=0.0, cell=None, note="no change found")
    low = changed_points.min(axis=0) - threshold
    high = changed_points.max(axis=0) + threshold
    extent = np.maximum(high - low, 1e-12)
    cell = float((np.prod(extent) / budget) ** (1 / 3))
    cell = max(cell, float(extent.max()) / 1024)  # no axis beyond 1024 cells
    low = low - MARGIN_CELLS * cell
    high = high + MARGIN_CELLS * cell
    # A random sub-cell shift of the grid: cut cells count whole or not at all, unbiased.
    low = low - np.random.default_rng(seed).random(3) * cell
    shape = np.maximum(np.ceil((high - low) / cell).astype(int), 1)
    axes = [low[i] + (np.arange(shape[i]) + 0.5) * cell for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside_before = before.occupancy(grid).reshape(shape)
    inside_after = after.occupancy(grid).reshape(shape)
    del grid
    lost = inside_before & ~inside_after
    added = inside_after & ~inside_before
    radius = int(threshold / (2 * cell))
    if radius >= 1:
        ball = _ball(radius)
        lost = ndimage.binary_opening(lost, structure=ball)
        added = ndimage.binary_opening(added, structure=ball)
    volume_cell = cell**3
    return Volume(
        method="voxel",
        lost=float(lost.sum()) * volume_cell,
        added=float(added.sum()) * volume_cell,
        cell=cell,
        note=(
            f"inside/outside tests on a {shape[0]}x{shape[1]}x{shape[2]} grid over the changed "
            f"region; slivers thinner than the threshold removed (opening radius {radius} cells)"
        ),
    )


def _ball(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    x, y, z = np.meshgrid(r, r, r, indexing="ij")
    return np.asarray(x**2 + y**2 + z**2 <= radius**2 + 0.5)

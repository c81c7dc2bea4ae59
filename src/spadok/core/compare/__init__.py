"""Before and after: measure in 3D what changed between two captures of one thing.

``compare_files(before, after, out_dir, params)`` is the whole job, Django-free,
for the command line and the background worker alike. Steps, one module each:

    load      read both masters (the format registry), in metres when both say their unit
    sample    points spread evenly over each surface, each standing for its area
    align     FPFH + RANSAC, then point-to-plane ICP (or a nudge, then ICP)
    distance  signed distance of every sample to the other surface; noise; threshold
    volume    lost and added volume (voxels when both are closed, else the surface integral)
    heatmap   heatmap.glb (the change as vertex colours) and before.glb / after.glb, aligned
    report    report.json

Sign convention everywhere: a negative change is material lost (the after
surface lies inside the before one), a positive change material added.
Two captures that cannot be aligned end with the verdict "failed" and an
error code in the report (``compare.not_aligned``), not an exception;
exceptions are for inputs that cannot be read at all (:class:`SpadokError`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.compare.align import Alignment, find_alignment
from spadok.core.compare.distance import Noise, Surface, estimate_noise, surface_of
from spadok.core.compare.heatmap import (
    AFTER_HEX,
    BEFORE_HEX,
    Frame,
    Legend,
    Model,
    base_colour,
    linear_rgba8,
    make_legend,
    reduce,
    write_model,
)
from spadok.core.compare.load import Geometry, load_geometry
from spadok.core.compare.params import METHOD_VERSION, Params, parse_params
from spadok.core.compare.report import ProgressFn, Report, Steps
from spadok.core.compare.sample import Samples, sample_surface
from spadok.core.compare.volume import Volume, surface_volume, voxel_volume
from spadok.core.errors import SpadokError
from spadok.core.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "METHOD_VERSION",
    "Analysis",
    "Params",
    "Report",
    "analyse",
    "compare_files",
    "heat_model",
    "load_geometry",
    "parse_params",
]

log = logging.getLogger(__name__)

MAX_SIZE_RATIO = 3.0  # captures whose sizes differ more cannot be the same thing in one unit
MIN_OVERLAP = 0.3  # below this share of either surface near the other: not aligned
CHANGED_MIN_SHARE = 0.005  # less of the before surface beyond the threshold: "unchanged"
HISTOGRAM_BINS = 40


@dataclass
class Analysis:
    """Everything measured, in memory (the arrays the report sums up)."""

    before: Geometry
    after: Geometry
    after_vertices: np.ndarray  # the after capture moved into the before frame
    before_samples: Samples
    after_samples: Samples  # moved too
    before_surface: Surface
    after_surface: Surface
    alignment: Alignment
    before_changes: np.ndarray  # per before sample (negative: lost)
    after_changes: np.ndarray  # per after sample
    noise: Noise
    volume: Volume
    size: float
    unit: str | None


def diagonal(points: np.ndarray) -> float:
    return float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))


def _fail(report: Report, code: str, detail: str) -> None:
    report.fail(code, SpadokError(code, detail).message)


def _units(before: Geometry, after: Geometry, report: Report) -> tuple[Geometry, Geometry]:
    """Both in metres when both say their unit; otherwise as they are, and say so."""
    mb, ma = before.metres_per_unit, after.metres_per_unit
    if mb is not None and ma is not None:
        report.unit, report.scale_known = "m", True
        report.scale_note = f"before in {before.unit}, after in {after.unit}: both in metres"
        return before.scaled(mb), after.scaled(ma)
    lacking = [n for n, g in (("before", before), ("after", after)) if g.metres_per_unit is None]
    report.unit, report.scale_known = None, False
    report.scale_note = (
        f"scale unknown: the {' and the '.join(lacking)} capture's file does not say its unit; "
        "both are taken to be in the same unit, and lengths, areas and volumes are in it"
    )
    return before, after


def _share(mask: np.ndarray, areas: np.ndarray) -> float:
    total = float(areas.sum())
    return float(areas[mask].sum() / total) if total > 0 else 0.0


def analyse(
    before: Geometry,
    after: Geometry,
    params: Params,
    report: Report,
    steps: Steps | None = None,
) -> Analysis | None:
    """Sample, align, measure; None (and the report failed) when the two cannot be aligned."""
    steps = steps or Steps(report, None)
    report.before, report.after = before.summary(), after.summary()
    size = diagonal(before.vertices)
    size_after = diagonal(after.vertices)
    report.size = size
    if size <= 0 or size_after <= 0:
        raise SpadokError("geometry.invalid", "a capture has no extent (all points in one place)")
    ratio = max(size, size_after) / min(size, size_after)
    if ratio > MAX_SIZE_RATIO and not params.nudged:
        _fail(
            report,
            "compare.not_aligned",
            f"their sizes differ {ratio:.1f} times ({size:.4g} and {size_after:.4g} "
            f"{report.unit or 'model units'}); {report.scale_note or ''}",
        )
        return None
    with steps.step("sample"):
        before_samples = sample_surface(before, params.samples, params.seed)
        after_samples = sample_surface(after, params.samples, params.seed + 1)
    with steps.step("align"):
        alignment = find_alignment(before_samples, after_samples, params, size)
    report.alignment = alignment.as_dict()
    transform = alignment.transform
    with steps.step("distance"):
        moved = after.vertices @ transform[:3, :3].T + transform[:3, 3]
        after_moved = after_samples.transformed(transform)
        before_surface = surface_of(before)
        after_surface = surface_of(after, moved)
        after_changes = before_surface.distances(after_moved.points)
        before_changes = after_surface.distances(before_samples.points)
        if after_surface.signed:
            before_changes = -before_changes  # a before point outside the after: lost
        noise = estimate_noise([after_changes, before_changes], size, params.threshold)
    threshold = noise.threshold
    near = noise.overlap_distance
    report.overlap_before = _share(np.abs(before_changes) <= near, before_samples.areas)
    report.overlap_after = _share(np.abs(after_changes) <= near, after_moved.areas)
    report.overlap = max(report.overlap_before, report.overlap_after)
    report.rms = noise.rms
    report.threshold = noise.as_dict()
    report.signed = before_surface.signed and after_surface.signed
    if report.overlap < MIN_OVERLAP:
        _fail(
            report,
            "compare.not_aligned",
            f"after the best alignment found, only {report.overlap:.0%} of the surfaces lie "
            f"within {near:.3g} {report.unit or 'model units'} of each other",
        )
        return None
    report.distances = {
        "before": _summary(before_changes, before_samples.areas, after_surface.signed),
        "after": _summary(after_changes, after_moved.areas, before_surface.signed),
    }
    _areas(report, before_changes, before_samples, after_surface.signed, threshold, "before")
    _areas(report, after_changes, after_moved, before_surface.signed, threshold, "after")
    with steps.step("volume"):
        volume = _volume(
            before,
            after,
            before_surface,
            after_surface,
            (before_changes, before_samples),
            (after_changes, after_moved),
            threshold,
            params.seed,
            size,
        )
    report.volume = volume.as_dict()
    report.lost_volume, report.added_volume = volume.lost, volume.added
    changed = (report.changed_share or 0.0) >= CHANGED_MIN_SHARE
    report.verdict = "changed" if changed else "unchanged"
    report.error = None
    return Analysis(
        before=before,
        after=after,
        after_vertices=moved,
        before_samples=before_samples,
        after_samples=after_moved,
        before_surface=before_surface,
        after_surface=after_surface,
        alignment=alignment,
        before_changes=before_changes,
        after_changes=after_changes,
        noise=noise,
        volume=volume,
        size=size,
        unit=report.unit,
    )


def _summary(changes: np.ndarray, areas: np.ndarray, signed: bool) -> dict[str, Any]:
    q = np.percentile(changes, [1, 5, 50, 95, 99]).tolist()
    return {
        "signed": signed,
        "samples": len(changes),
        "percentiles": dict(zip(("p1", "p5", "p50", "p95", "p99"), q, strict=True)),
        "max_lost": float(-changes.min()) if signed and changes.min() < 0 else 0.0,
        "max_added": float(changes.max()) if not signed or changes.max() > 0 else 0.0,
        "mean_abs": float(np.average(np.abs(changes), weights=areas)),
    }


def _areas(
    report: Report,
    changes: np.ndarray,
    samples: Samples,
    signed: bool,
    threshold: float,
    side: str,
) -> None:
    areas = samples.areas
    total = float(areas[np.abs(changes) > threshold].sum())
    lost = float(areas[changes < -threshold].sum()) if signed else None
    added = float(areas[changes > threshold].sum()) if signed else None
    if side == "before":
        report.changed_area = total
        report.changed_area_lost, report.changed_area_added = lost, added
        report.changed_share = total / float(areas.sum()) if areas.sum() > 0 else 0.0
    else:
        report.changed_area_after = {"total": total, "lost": lost, "added": added}  # type: ignore[dict-item]


def _volume(
    before: Geometry,
    after: Geometry,
    before_surface: Surface,
    after_surface: Surface,
    before_side: tuple[np.ndarray, Samples],
    after_side: tuple[np.ndarray, Samples],
    threshold: float,
    seed: int,
    size: float,
) -> Volume:
    sides = []
    if after_surface.signed:
        sides.append((before_side[0], before_side[1].areas))
    if before_surface.signed:
        sides.append((after_side[0], after_side[1].areas))
    surface = surface_volume(sides, threshold, size) if sides else None
    if before.watertight and after.watertight:
        changed = np.concatenate(
            [
                before_side[1].points[np.abs(before_side[0]) > threshold],
                after_side[1].points[np.abs(after_side[0]) > threshold],
            ]
        )
        volume = voxel_volume(before_surface, after_surface, changed, threshold, seed=seed)
        if surface is not None:
            volume.surface_estimate = {"lost": surface.lost or 0.0, "added": surface.added or 0.0}
        return volume
    if surface is not None:
        return surface
    return Volume(
        method=None,
        note="not measurable: neither surface gives a side (a point cloud without normals, "
        "or a mesh whose faces are not wound consistently)",
    )


def heat_model(analysis: Analysis, params: Params) -> tuple[Model, bool]:
    """The surface the heat map colours, with the change at each of its vertices."""
    centre = _centre(analysis.before)
    if params.heatmap_on == "before":
        model = reduce(
            analysis.before.vertices, analysis.before.faces, params.heatmap_triangles, centre
        )
        values = analysis.after_surface.distances(model.positions)
        signed = analysis.after_surface.signed
        model.values = -values if signed else values
    else:
        model = reduce(
            analysis.after_vertices, analysis.after.faces, params.heatmap_triangles, centre
        )
        model.values = analysis.before_surface.distances(model.positions)
        signed = analysis.before_surface.signed
    return model, signed


def _centre(geometry: Geometry) -> np.ndarray:
    v = geometry.vertices
    return np.asarray((v.min(axis=0) + v.max(axis=0)) / 2)


def write_outputs(
    analysis: Analysis, params: Params, out_dir: Path, report: Report, *, compress: bool = True
) -> Legend:
    """heatmap.glb, before.glb and after.glb in one frame; the legend goes into the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = Frame(centre=_centre(analysis.before), z_up=analysis.before.up_axis == "Z")
    model, signed = heat_model(analysis, params)
    assert model.values is not None
    legend = make_legend(
        [analysis.before_changes, analysis.after_changes],
        analysis.noise.threshold,
        signed,
        analysis.unit,
    )
    outputs: dict[str, Any] = {"up_axis": analysis.before.up_axis, "heatmap_on": params.heatmap_on}
    outputs["heatmap"] = write_model(
        out_dir / "heatmap.glb",
        model,
        frame,
        colours=linear_rgba8(legend.colours(model.values)),
        name="change",
        compress=compress,
    )
    budget = params.heatmap_triangles
    for name, vertices, faces, colour in (
        ("before", analysis.before.vertices, analysis.before.faces, base_colour(BEFORE_HEX)),
        ("after", analysis.after_vertices, analysis.after.faces, base_colour(AFTER_HEX)),
    ):
        plain = reduce(vertices, faces, budget, frame.centre)
        outputs[name] = write_model(
            out_dir / f"{name}.glb", plain, frame, base=colour, name=name, compress=compress
        )
    report.legend = legend.as_dict()
    report.outputs = outputs
    return legend


def compare_files(
    before: Path,
    after: Path,
    out_dir: Path,
    params: Params | None = None,
    *,
    before_root: Path | None = None,
    after_root: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: ProgressFn | None = None,
    compress: bool = True,
) -> Report:
    """Compare two model files; writes the models and ``report.json`` into ``out_dir``."""
    params = params or Params()
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(parameters=params.canonical())
    steps = Steps(report, progress)
    with steps.step("load"):
        b = load_geometry(before, root=before_root, limits=limits, seed=params.seed)
        a = load_geometry(after, root=after_root, limits=limits, seed=params.seed + 1)
    b, a = _units(b, a, report)
    try:
        analysis = analyse(b, a, params, report, steps)
        if analysis is not None:
            with steps.step("heatmap"):
                write_outputs(analysis, params, out_dir, report, compress=compress)
    except MemoryError:
        raise SpadokError("input.too_large", "the two captures do not fit in memory") from None
    report.outputs["report"] = "report.json"
    report.write(out_dir / "report.json")
    steps.done()
    return report

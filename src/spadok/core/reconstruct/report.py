"""The report of one reconstruction: what was used, what was not and why, and a verdict.

A volunteer reads the verdict, an operator the numbers. The advice names what to
do next ("take 10 more photos from the left"), because a volunteer at a damaged
church may get one more chance to photograph it, and needs to know now.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Version of the processing policy; a later, better pipeline re-runs older versions.
PIPELINE_VERSION = "1"

ProgressFn = Callable[[str, float], None]

VERDICTS = ("good", "usable", "poor", "failed")


@dataclass
class Rejected:
    name: str
    reason: str  # stable code: unreadable, too_small, blurry, duplicate, not_registered
    detail: str = ""


@dataclass
class Advice:
    code: str  # stable: too_few_photos, blurry, coverage_gap, not_registered, ...
    message: str


@dataclass
class Report:
    """Everything ``report.json`` holds; ``as_dict`` is its exact content."""

    input: str
    kind: str = ""  # photos, video, rgbd
    layout: str = ""  # e.g. "3d-scanner-app", "stray-scanner", "folder", "zip", "video"
    pipeline_version: str = PIPELINE_VERSION
    images_total: int = 0
    images_used: list[str] = field(default_factory=list)
    images_rejected: list[Rejected] = field(default_factory=list)
    matching: str = ""
    registered: int = 0
    reprojection_error_px: float | None = None
    sparse_points: int = 0
    dense_points: int = 0
    vertices: int = 0
    triangles: int = 0
    textured_fraction: float = 0.0
    scale_source: str = "none"  # gps, device, none (arbitrary units)
    units: str = "arbitrary"
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    verdict: str = "failed"
    advice: list[Advice] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def reject(self, name: str, reason: str, detail: str = "") -> None:
        self.images_rejected.append(Rejected(name, reason, detail))

    def advise(self, code: str, message: str) -> None:
        if all(a.code != code for a in self.advice):
            self.advice.append(Advice(code, message))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2), "utf-8")


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU time of this process, all threads: unlike wall time it hardly moves with load."""
    return time.process_time()


@contextmanager
def stage(report: Report, name: str) -> Iterator[None]:
    """Time one part of a step (``sfm.match``) into ``report.extra["stages"]``.

    Kept apart from ``timings`` so that the steps' seconds still add up to the run's.
    """
    start, cpu = time.perf_counter(), cpu_seconds()
    try:
        yield
    finally:
        report.extra.setdefault("stages", {})[name] = {
            "seconds": round(time.perf_counter() - start, 3),
            "cpu_seconds": round(cpu_seconds() - cpu, 3),
        }


class Steps:
    """Times each named step and tells the caller how far along the whole run is."""

    def __init__(self, report: Report, names: tuple[str, ...], progress: ProgressFn | None):
        self.report = report
        self.names = names
        self.progress = progress

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress(name, self.names.index(name) / len(self.names))
        start, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.report.timings[name] = {
                "seconds": round(time.perf_counter() - start, 3),
                "cpu_seconds": round(cpu_seconds() - cpu, 3),
                "peak_mb": peak_mb(),
            }

    def done(self) -> None:
        if self.progress:
            self.progress("done", 1.0)


def judge(report: Report) -> None:
    """Set the verdict from what the run measured, and add advice for each weakness."""
    used = len(report.images_used)
    blurry = [r for r in report.images_rejected if r.reason == "blurry"]
    unreg = [r for r in report.images_rejected if r.reason == "not_registered"]
    if blurry:
        report.advise(
            "blurry",
            f"{len(blurry)} photo(s) are too blurry to use ({', '.join(r.name for r in blurry[:5])}"
            f"{'…' if len(blurry) > 5 else ''}): hold the camera still or use more light, "
            "and take them again.",
        )
    if report.kind != "rgbd":
        if used < 8:
            report.advise(
                "too_few_photos",
                f"Only {used} usable photo(s): take at least 20, walking around the object "
                "so that each photo overlaps its neighbours by about two thirds.",
            )
        if unreg:
            report.advise(
                "not_registered",
                f"{len(unreg)} photo(s) could not be placed with the others "
                f"({', '.join(r.name for r in unreg[:5])}{'…' if len(unreg) > 5 else ''}): "
                "add photos between them and their neighbours, with more overlap.",
            )
    cov = report.extra.get("coverage") or {}
    if cov.get("span_deg", 0) > 200 and cov.get("largest_gap_deg", 0) > 60:
        more = max(3, round(cov["largest_gap_deg"] / 15))
        report.advise(
            "coverage_gap",
            f"The photos go around the object but leave a gap of {cov['largest_gap_deg']:.0f}° "
            f"with no photos: take about {more} more from that side, a step apart.",
        )
    if report.triangles == 0:
        report.verdict = "failed"
        if report.kind != "rgbd" and report.registered < 3:
            report.advise(
                "no_overlap",
                "The photos did not overlap enough to find the cameras: take photos that "
                "overlap by about two thirds, of a surface with visible detail (not a plain "
                "wall), from positions a step apart.",
            )
        return
    ratio = report.registered / max(1, used) if report.kind != "rgbd" else 1.0
    textured = report.textured_fraction
    if ratio >= 0.9 and textured >= 0.9 and (report.reprojection_error_px or 0) < 1.5:
        report.verdict = "good"
    elif ratio >= 0.6 and textured >= 0.6:
        report.verdict = "usable"
    else:
        report.verdict = "poor"
    if textured < 0.9:
        report.advise(
            "untextured",
            f"{round((1 - textured) * 100)}% of the surface was seen by no photo clearly: "
            "photograph the parts the model shows grey, from straight on.",
        )

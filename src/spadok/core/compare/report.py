"""The report of one comparison: what was compared, how well it aligned, what changed.

``report.json`` is :meth:`Report.as_dict`; scripts read it, the site stores it
and shows its figures. Lengths are in metres (areas m², volumes m³) when both
captures say their unit, otherwise in the files' own units, and
``scale_known`` says which.
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

from spadok.core.compare.params import METHOD_VERSION

ProgressFn = Callable[[str, float], None]

STEPS = ("load", "sample", "align", "distance", "volume", "heatmap")
VERDICTS = ("changed", "unchanged", "failed")


@dataclass
class Report:
    """Everything ``report.json`` holds."""

    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    method: str = METHOD_VERSION
    verdict: str = "failed"
    error: dict[str, str] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    unit: str | None = None  # "m" when both captures say their unit; None: model units
    scale_known: bool = False
    scale_note: str = ""
    size: float = 0.0  # the before capture's bounding-box diagonal
    alignment: dict[str, Any] = field(default_factory=dict)
    rms: float | None = None  # RMS distance of the unchanged surface after alignment
    overlap: float | None = None
    overlap_before: float | None = None
    overlap_after: float | None = None
    threshold: dict[str, Any] = field(default_factory=dict)
    signed: bool = False
    distances: dict[str, Any] = field(default_factory=dict)
    changed_area: float | None = None  # of the before surface
    changed_area_lost: float | None = None
    changed_area_added: float | None = None
    changed_share: float | None = None  # of the before surface's area
    changed_area_after: dict[str, float] = field(default_factory=dict)
    volume: dict[str, Any] = field(default_factory=dict)
    lost_volume: float | None = None
    added_volume: float | None = None
    legend: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    def fail(self, code: str, message: str) -> None:
        self.verdict = "failed"
        self.error = {"code": code, "message": message}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2), "utf-8")


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Steps:
    """Times each named step and tells the caller how far along the run is."""

    def __init__(self, report: Report, progress: ProgressFn | None) -> None:
        self.report = report
        self.progress = progress

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress(name, STEPS.index(name) / len(STEPS))
        start = time.perf_counter()
        try:
            yield
        finally:
            self.report.timings[name] = {
                "seconds": round(time.perf_counter() - start, 3),
                "peak_mb": peak_mb(),
            }

    def done(self) -> None:
        if self.progress:
            self.progress("done", 1.0)

"""What a comparison is asked to do, checked and written down in one canonical form.

The canonical form is what makes a comparison a derivative: the same two
captures with the same parameters give the same result, so the site keeps one
comparison per (before, after, :func:`Params.key`). Every value a user may set
is bounded here, whether it comes from the command line, a form or the API.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spadok.core.errors import SpadokError

# Version of the method; a better method is a new version, and so a new comparison.
METHOD_VERSION = "spadok-compare/1"

DEFAULT_SAMPLES = 200_000  # surface points per capture for distances, areas and volumes
MAX_SAMPLES = 1_000_000
MIN_SAMPLES = 5_000
DEFAULT_HEATMAP_TRIANGLES = 300_000  # the heat-map model's budget (the web shows it)
MAX_HEATMAP_TRIANGLES = 1_000_000
MAX_OFFSET_DEGREES = 180.0
HEATMAP_ON = ("after", "before")


@dataclass(frozen=True)
class Params:
    """The parameters of one comparison (all optional; the defaults suit most scans).

    ``initial``: a 4x4 transform that takes the after capture into the before
    capture's frame, to start from instead of the automatic global alignment
    (a nudge). ``translate`` (in the comparison's length unit) and ``rotate``
    (degrees about X, Y, Z, applied in that order about the after capture's
    centre) are applied on top of it. ``refine``: run ICP from there (True) or
    take the transform as it is (False). ``threshold``: the distance beyond
    which the surface counts as changed; None derives it from the alignment
    noise.
    """

    threshold: float | None = None
    samples: int = DEFAULT_SAMPLES
    initial: tuple[float, ...] | None = None  # 16 numbers, row-major
    translate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    refine: bool = True
    heatmap_on: str = "after"
    heatmap_triangles: int = DEFAULT_HEATMAP_TRIANGLES
    seed: int = 0

    @property
    def nudged(self) -> bool:
        return (
            self.initial is not None
            or any(v != 0.0 for v in self.translate)
            or any(v != 0.0 for v in self.rotate)
        )

    def initial_matrix(self) -> np.ndarray | None:
        if self.initial is None:
            return None
        return np.array(self.initial, dtype=np.float64).reshape(4, 4)

    def canonical(self) -> dict[str, Any]:
        """The parameters as plain JSON, rounded so that equal requests compare equal."""
        return {
            "version": METHOD_VERSION,
            "threshold": None if self.threshold is None else _round(self.threshold),
            "samples": self.samples,
            "initial": None if self.initial is None else [_round(v) for v in self.initial],
            "translate": [_round(v) for v in self.translate],
            "rotate": [_round(v) for v in self.rotate],
            "refine": self.refine,
            "heatmap_on": self.heatmap_on,
            "heatmap_triangles": self.heatmap_triangles,
            "seed": self.seed,
        }

    def key(self) -> str:
        """sha256 of the canonical JSON: what a comparison is unique on, with its two captures."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _round(value: float) -> float:
    """Twelve significant digits: a value read back from JSON gives the same key."""
    if value == 0:
        return 0.0
    return float(f"{value:.12g}")


def _number(name: str, value: Any, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpadokError("compare.bad_parameters", f"{name} must be a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise SpadokError("compare.bad_parameters", f"{name} must be between {low:g} and {high:g}")
    return number


def _integer(name: str, value: Any, *, low: int, high: int) -> int:
    number = _number(name, value, low=low, high=high)
    if number != int(number):
        raise SpadokError("compare.bad_parameters", f"{name} must be a whole number")
    return int(number)


def _triple(name: str, value: Any, *, limit: float) -> tuple[float, float, float]:
    if value is None:
        return (0.0, 0.0, 0.0)
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise SpadokError("compare.bad_parameters", f"{name} must be three numbers (x, y, z)")
    x, y, z = (_number(name, v, low=-limit, high=limit) for v in value)
    return (x, y, z)


def parse_params(data: dict[str, Any] | None) -> Params:
    """Params from user input (JSON, a form, the command line); bad values are the user's to fix."""
    data = dict(data or {})
    data.pop("version", None)
    known = set(Params.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpadokError("compare.bad_parameters", f"unknown parameter {unknown[0]!r}")
    threshold = data.get("threshold")
    if threshold is not None:
        threshold = _number("threshold", threshold, low=1e-9, high=1e9)
    initial = data.get("initial")
    if initial is not None:
        flat = np.asarray(initial, dtype=object).reshape(-1).tolist()
        if len(flat) != 16:
            raise SpadokError("compare.bad_parameters", "initial must be a 4x4 matrix (16 numbers)")
        values = tuple(_number("initial", v, low=-1e12, high=1e12) for v in flat)
        matrix = np.array(values).reshape(4, 4)
        rotation = matrix[:3, :3]
        if not np.allclose(matrix[3], [0, 0, 0, 1], atol=1e-9) or not np.allclose(
            rotation @ rotation.T, np.eye(3), atol=1e-5
        ):
            raise SpadokError(
                "compare.bad_parameters",
                "initial must be a rigid transform (rotation + translation)",
            )
        initial = values
    heatmap_on = str(data.get("heatmap_on", "after"))
    if heatmap_on not in HEATMAP_ON:
        raise SpadokError("compare.bad_parameters", "heatmap_on must be 'after' or 'before'")
    refine = data.get("refine", True)
    if not isinstance(refine, bool):
        raise SpadokError("compare.bad_parameters", "refine must be true or false")
    return Params(
        threshold=threshold,
        samples=_integer(
            "samples", data.get("samples", DEFAULT_SAMPLES), low=MIN_SAMPLES, high=MAX_SAMPLES
        ),
        initial=initial,
        translate=_triple("translate", data.get("translate"), limit=1e9),
        rotate=_triple("rotate", data.get("rotate"), limit=MAX_OFFSET_DEGREES),
        refine=refine,
        heatmap_on=heatmap_on,
        heatmap_triangles=_integer(
            "heatmap_triangles",
            data.get("heatmap_triangles", DEFAULT_HEATMAP_TRIANGLES),
            low=1_000,
            high=MAX_HEATMAP_TRIANGLES,
        ),
        seed=_integer("seed", data.get("seed", 0), low=0, high=2**31 - 1),
    )

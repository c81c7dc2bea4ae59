"""Captures that are photos, a video or a LiDAR capture: reconstruct, then derive.

The raw inputs stay the capture's master (version 1 of its object, as they
arrived); what :func:`spadok.core.reconstruct.reconstruct` makes of them (the
textured model, the cameras in COLMAP's text format, the report with its
verdict) is stored as derivatives beside the web copies made from that model,
so that a better reconstruction later can be made from the same photos and sit
beside this one. Progress of every step reaches the capture's page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from spadok import __version__
from spadok.core import pipeline
from spadok.core.derive.policy import DerivativeFile
from spadok.core.errors import SpadokError

# Share of the progress bar given to the reconstruction; the web copies take the rest.
RECONSTRUCT_SHARE = 0.85
GLB_MIME = "model/gltf-binary"

# The archive's settings for reconstruction (see spadok.core.reconstruct.reconstruct);
# part of what a derivative's params record.
OPTIONS: dict[str, Any] = {
    "max_image_size": 1600,
    "mvs_size": 1000,
    "texture_size": 4096,
    "rgbd_voxel": 0.01,
}

# Report fields shown on the capture's page and kept in the capture's statistics.
SUMMARY_FIELDS = (
    "kind", "layout", "verdict", "images_total", "registered", "reprojection_error_px",
    "sparse_points", "dense_points", "triangles", "textured_fraction", "scale_source",
    "units", "pipeline_version",
)  # fmt: skip


@dataclass
class Reconstructed:
    summary: dict[str, Any]
    processed: pipeline.Processed | None = None  # None: no model could be made
    # the model, cameras and report, then the web copies of the model
    derivatives: list[DerivativeFile] = field(default_factory=list)

    def error(self) -> SpadokError:
        """Why there is no model, with the report's advice as what to do."""
        advice = " ".join(a["message"] for a in self.summary["advice"])
        return SpadokError("reconstruct.failed", advice or "no surface could be made")


def summary_of(report: Any) -> dict[str, Any]:
    """What the capture's page and the catalogue keep of a reconstruction report."""
    data = report.as_dict()
    out = {k: data.get(k) for k in SUMMARY_FIELDS}
    out["advice"] = [{"code": a["code"], "message": a["message"]} for a in data["advice"]]
    out["rejected"] = len(data["images_rejected"])
    out["seconds"] = round(sum(t.get("seconds", 0.0) for t in data["timings"].values()), 1)
    return out


def _tool() -> str:
    try:
        import pycolmap

        colmap = f" + pycolmap {pycolmap.__version__}"
    except (ImportError, AttributeError):  # pragma: no cover - pinned
        colmap = ""
    return f"spadok {__version__} reconstruct{colmap}"


def reconstruct_capture(
    source: Path, workdir: Path, progress: pipeline.ProgressFn | None = None
) -> Reconstructed:
    """Reconstruct ``source`` (a file, zip or folder) and make the web copies of the model.

    A reconstruction that yields no model comes back without ``processed``; its
    :meth:`Reconstructed.error` carries the report's advice for the volunteer.
    """
    from spadok.core.reconstruct import reconstruct

    def recon_progress(step: str, fraction: float) -> None:
        if progress:
            progress(f"reconstruct.{step}", RECONSTRUCT_SHARE * fraction)

    def web_progress(step: str, fraction: float) -> None:
        if progress:
            progress(step, RECONSTRUCT_SHARE + (1 - RECONSTRUCT_SHARE) * fraction)

    out = workdir / "reconstruction"
    options = dict(OPTIONS)
    work = workdir / "recon-work"
    work.mkdir(parents=True, exist_ok=True)
    report = reconstruct(source, out, progress=recon_progress, workdir=work, **options)
    summary = summary_of(report)
    model = out / "model.glb"
    if report.verdict == "failed" or not model.is_file():
        return Reconstructed(summary)
    processed = pipeline.process(
        model, workdir / "web", root=out, limits=settings.SPADOK.limits, progress=web_progress
    )
    params = {"pipeline_version": report.pipeline_version, "kind": report.kind, **options}
    files = [
        DerivativeFile(
            role="reconstruction",
            path=model,
            mime=GLB_MIME,
            tool=_tool(),
            params=params,
            stats={"triangles": report.triangles, "vertices": report.vertices},
        )
    ]
    sparse = out / "sparse"
    for name, role in (
        ("cameras.txt", "cameras"),
        ("images.txt", "camera-poses"),
        ("points3D.txt", "sparse-points"),
    ):
        if (sparse / name).is_file():
            files.append(DerivativeFile(role, sparse / name, "text/plain", _tool(), params))
    verdict = {"verdict": report.verdict}
    files.append(
        DerivativeFile("report", out / "report.json", "application/json", _tool(), params, verdict)
    )
    return Reconstructed(summary, processed, [*files, *processed.derivatives])

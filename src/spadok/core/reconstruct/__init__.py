"""Capture processing: photos, a video or an RGB-D capture in, a textured model out.

``reconstruct(input_path, out_dir, progress=callback) -> Report`` is the whole
job, Django-free, for the command line and the background worker alike. It
writes ``model.glb`` (textured), ``sparse/`` (COLMAP text: cameras.txt,
images.txt, points3D.txt) and ``report.json`` into ``out_dir``, and returns the
report. A capture that cannot be reconstructed (too few photos, no overlap)
ends with a "failed" verdict and advice in the report, not an exception;
exceptions are kept for inputs that are not captures at all (SpadokError,
``reconstruct.*``).

Steps: inputs (read and prepare) → sfm (cameras) → mvs (depth) → mesh (Poisson)
→ texture (atlas) for photos and video; inputs → rgbd (TSDF) → texture for
RGB-D captures.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from spadok.core.reconstruct.report import ProgressFn, Report, Steps, judge

__all__ = ["Report", "reconstruct"]

log = logging.getLogger(__name__)

PHOTO_STEPS = ("inputs", "sfm", "mvs", "mesh", "texture", "report")
RGBD_STEPS = ("inputs", "rgbd", "texture", "report")


def reconstruct(
    input_path: Path,
    out_dir: Path,
    progress: ProgressFn | None = None,
    *,
    max_image_size: int = 1600,
    mvs_size: int = 1000,
    mvs_planes: int = 128,
    mesh_depth: int = 9,
    max_points: int = 600_000,
    texture_size: int = 4096,
    rgbd_voxel: float = 0.01,
    workdir: Path | None = None,
) -> Report:
    """Reconstruct one capture into ``out_dir``; see the module docstring."""
    from spadok.core.reconstruct import inputs

    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(input=input_path.name)
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="spadok-recon-")) if workdir is None else workdir
    try:
        steps = Steps(report, PHOTO_STEPS, progress)
        with steps.step("inputs"):
            capture = inputs.load(input_path, work, report, max_size=max_image_size)
        report.kind, report.layout = capture.kind, capture.layout
        if capture.kind == "rgbd":
            steps.names = RGBD_STEPS
            _rgbd(capture, out_dir, report, steps, texture_size, rgbd_voxel)
        else:
            _photos(
                capture, work, out_dir, report, steps,
                mvs_size=mvs_size, mvs_planes=mvs_planes, mesh_depth=mesh_depth,
                max_points=max_points, texture_size=texture_size,
            )  # fmt: skip
        with steps.step("report"):
            judge(report)
            report.write(out_dir / "report.json")
            report.outputs["report"] = "report.json"
            report.write(out_dir / "report.json")
        steps.done()
        return report
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def _photos(
    capture,
    work,
    out_dir,
    report,
    steps,
    *,
    mvs_size,
    mvs_planes,
    mesh_depth,
    max_points,
    texture_size,
) -> None:  # type: ignore[no-untyped-def]
    from spadok.core.reconstruct import mesh as meshing
    from spadok.core.reconstruct import mvs, sfm

    with steps.step("sfm"):
        sparse = sfm.run(capture, work, report)
        if sparse is None:
            return
        T = sfm.align(sparse, capture, report)
        sfm.transform_views(sparse, T)
        report.extra["coverage"] = coverage(sparse)
        sparse_dir = out_dir / "sparse"
        sparse_dir.mkdir(exist_ok=True)
        assert sparse.reconstruction is not None
        # name the cameras as the volunteer named the photos (videos: "frame N")
        rec = sparse.reconstruction
        internal = {img.image_id: img.name for img in rec.images.values()}
        source = {v.name: v.source.replace(" ", "_") for v in sparse.views}
        for img in rec.images.values():
            img.name = source.get(img.name, img.name)
        rec.write_text(str(sparse_dir))
        for img in rec.images.values():
            img.name = internal[img.image_id]
        report.outputs["sparse"] = "sparse/"
    with steps.step("mvs"):
        dense = mvs.run(
            sparse, lambda v: str(capture.image_dir / v.name), max_size=mvs_size,
            planes=mvs_planes,
        )  # fmt: skip
        report.dense_points = len(dense.points)
        report.extra.setdefault("stages", {}).update(dense.stages)
    if len(dense.points) < 100:
        report.advise(
            "no_dense",
            "The photos could be placed but their surfaces could not be matched in detail: "
            "the object may be too plain, shiny or dark. Take photos in diffuse light, "
            "closer, with more overlap.",
        )
        return
    with steps.step("mesh"):
        pc = meshing.clean_points(dense.points, dense.normals, dense.colors, max_points)
        mesh = meshing.poisson(pc, depth=mesh_depth)
        vertices = np.asarray(mesh.vertices)
        faces = np.asarray(mesh.triangles)
    if len(faces) == 0:
        return
    with steps.step("texture"):
        _texture(vertices, faces, sparse.views, capture.image_dir, out_dir, report, texture_size)


def _texture(vertices, faces, views, image_dir, out_dir, report, texture_size) -> None:  # type: ignore[no-untyped-def]
    from spadok.core.reconstruct import texture

    def image(view):  # type: ignore[no-untyped-def]
        import cv2

        img = Image.open(image_dir / view.name).convert("RGB")
        if abs(view.k1) > 1e-7:
            arr = cv2.undistort(np.asarray(img), view.K, np.array([view.k1, 0, 0, 0], float))
            img = Image.fromarray(arr)
        return img

    labels = texture.select_views(vertices, faces, views)
    textured = texture.build_atlas(vertices, faces, labels, views, image, max_size=texture_size)
    report.textured_fraction = round(textured.textured_fraction, 4)
    texture.write_glb(textured, out_dir / "model.glb")
    report.vertices = len(textured.vertices)
    report.triangles = len(textured.faces)
    report.outputs["model"] = "model.glb"


def _rgbd(capture, out_dir, report, steps, texture_size, rgbd_voxel) -> None:  # type: ignore[no-untyped-def]
    from spadok.core.reconstruct import rgbd
    from spadok.core.reconstruct.sfm import View

    with steps.step("rgbd"):
        mesh = rgbd.fuse(capture, report, voxel=rgbd_voxel)
        vertices = np.asarray(mesh.vertices)
        faces = np.asarray(mesh.triangles)
        report.scale_source, report.units = "device", "metres"
        views = [
            View(
                name=f.name,
                source=f.source,
                K=f.K,
                R=f.cam_to_world[:3, :3].T,
                t=-f.cam_to_world[:3, :3].T @ f.cam_to_world[:3, 3],
                width=f.width,
                height=f.height,
            )
            for f in capture.frames
            if f.K is not None and f.cam_to_world is not None
        ]
        report.images_used = [f.source for f in capture.frames]
        report.registered = len(views)
        rgbd.write_sparse(views, out_dir / "sparse")
        report.outputs["sparse"] = "sparse/"
    if len(faces) == 0:
        return
    with steps.step("texture"):
        _texture(vertices, faces, views, capture.image_dir, out_dir, report, texture_size)


def coverage(sparse) -> dict:  # type: ignore[no-untyped-def]
    """The largest gap in the cameras' directions around the object.

    Azimuths are measured in the plane that best fits the camera centres (a walk
    around an object is roughly a ring), so it works whatever way "up" is.
    """
    centers = np.array([v.center for v in sparse.views])
    if len(centers) < 3:
        return {"largest_gap_deg": 360.0, "span_deg": 0.0}
    mid = np.median(sparse.points, axis=0) if len(sparse.points) else centers.mean(0)
    _, _, vt = np.linalg.svd(centers - centers.mean(0))
    d = centers - mid
    az = np.sort(np.degrees(np.arctan2(d @ vt[1], d @ vt[0])) % 360)
    gaps = np.diff(np.concatenate([az, [az[0] + 360]]))
    i = int(np.argmax(gaps))
    return {"largest_gap_deg": round(float(gaps[i]), 1), "span_deg": round(360 - float(gaps[i]), 1)}

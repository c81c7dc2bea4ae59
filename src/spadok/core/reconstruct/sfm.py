"""Cameras from photos (structure from motion) with pycolmap, on the CPU.

Matching follows the input: every pair for small sets (the most robust), the
neighbours in time for video, and a vocabulary tree for large sets when one is
installed locally (``SPADOK_VOCAB_TREE``; nothing is downloaded while running),
else neighbours in file order with quadratic overlap. Focal lengths come from
EXIF where present. GPS in the photos sets real-world scale and orientation;
without it the model is oriented by the photographer's "up" and has no scale.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pycolmap

from spadok.core.reconstruct.inputs import Capture
from spadok.core.reconstruct.report import Report, stage

pycolmap.logging.minloglevel = 2  # COLMAP's per-image chatter is not for volunteers

log = logging.getLogger(__name__)

EXHAUSTIVE_MAX = 60
# from this long side (pixels) features come from the photo's own resolution (see run)
NATIVE_OCTAVE_MIN_SIDE = 1200


@dataclass
class View:
    """A registered camera in the model's world: x_cam = R @ x_world + t (OpenCV axes)."""

    name: str
    source: str
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int
    k1: float = 0.0  # radial distortion (COLMAP SIMPLE_RADIAL = OpenCV k1)
    point_ids: set[int] = field(default_factory=set)

    @property
    def center(self) -> np.ndarray:
        return -self.R.T @ self.t

    @property
    def P(self) -> np.ndarray:
        return self.K @ np.hstack([self.R, self.t[:, None]])


@dataclass
class Sparse:
    views: list[View]
    points: np.ndarray  # (N, 3)
    colors: np.ndarray  # (N, 3) uint8
    point_ids: np.ndarray  # (N,)
    reconstruction: pycolmap.Reconstruction | None = None


def _threads() -> int:
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("SPADOK_THREADS", "2"))))


def run(
    capture: Capture,
    workdir: Path,
    report: Report,
    refine_principal_point: bool | None = None,
    camera_model: str | None = None,
) -> Sparse | None:
    """Find the cameras and a sparse cloud; None when fewer than two photos register."""
    frames = capture.frames
    report.images_used = [f.source for f in frames]
    if len(frames) < 2:
        return None
    db_path = workdir / "database.db"
    db_path.unlink(missing_ok=True)
    sizes = {(f.width, f.height) for f in frames}
    focals = {round(f.focal_px or 0) for f in frames}
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = camera_model or "SIMPLE_RADIAL"
    mode = pycolmap.CameraMode.AUTO
    calibrated = len(sizes) == 1 and all(f.K is not None for f in frames) and camera_model is None
    if calibrated:
        # A calibrated camera (K.txt): its intrinsics are known, not estimated.
        K = frames[0].K
        assert K is not None
        mode = pycolmap.CameraMode.SINGLE
        reader.camera_model = "PINHOLE"
        # COLMAP puts the first pixel's centre at (0.5, 0.5), OpenCV at (0, 0).
        reader.camera_params = f"{K[0, 0]},{K[1, 1]},{K[0, 2] + 0.5},{K[1, 2] + 0.5}"
    elif len(sizes) == 1 and len(focals) == 1:
        mode = pycolmap.CameraMode.SINGLE  # one camera, one zoom: share the intrinsics
        f0 = frames[0]
        if f0.focal_px:
            reader.camera_params = f"{f0.focal_px},{f0.width / 2},{f0.height / 2},0"
    report.extra["intrinsics"] = (
        "calibration" if calibrated else "exif" if any(f.focal_px for f in frames) else "estimated"
    )
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = _threads()
    long_side = max(max(f.width, f.height) for f in frames)
    extraction.max_image_size = long_side
    extraction.sift.max_num_features = 8192
    if long_side >= NATIVE_OCTAVE_MIN_SIDE:
        # Large photos: SIFT from the photo's own pixels, not from COLMAP's default 2x
        # upsampling, with a low threshold for low-contrast stone and plaster. On
        # fountain-P11 at 1600 px this took the median rotation error from 0.034° to
        # 0.0297° and the extraction, matching and mapping CPU time from ~58 s to ~24 s:
        # the upsampled octave's many tiny features were slow and the least precise.
        extraction.sift.first_octave = 0
        extraction.sift.peak_threshold = 0.001
    else:
        extraction.sift.peak_threshold = 0.004  # more features on low-contrast surfaces
    report.extra["sift_first_octave"] = extraction.sift.first_octave
    with stage(report, "sfm.extract"):
        pycolmap.extract_features(
            db_path,
            capture.image_dir,
            image_names=[f.name for f in frames],
            camera_mode=mode,
            reader_options=reader,
            extraction_options=extraction,
            device=pycolmap.Device.cpu,
        )
    with stage(report, "sfm.match"):
        _match(db_path, capture, report, len(frames))
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = _threads()
    options.random_seed = 1
    options.min_model_size = 3
    # Heritage photos are often few and of worn, low-contrast surfaces: accept a camera
    # on fewer (still RANSAC-verified) points than COLMAP's default of 30.
    options.mapper.abs_pose_min_num_inliers = 15
    options.mapper.abs_pose_min_inlier_ratio = 0.15
    options.mapper.init_min_num_inliers = 50
    options.mapper.max_reg_trials = 5
    options.structure_less_registration_fallback = True
    # COLMAP keeps the principal point at the image centre (ill-posed with few views), but
    # real lenses are off-centre: on fountain-P11 refining it took the median rotation
    # error from 0.20° to 0.045°. Refine it when ten or more photos share one camera.
    if refine_principal_point is None:
        refine_principal_point = (
            mode == pycolmap.CameraMode.SINGLE and len(frames) >= 10 and not calibrated
        )
    options.ba_refine_principal_point = refine_principal_point
    if calibrated:
        options.ba_refine_focal_length = False
        options.ba_refine_extra_params = False
    report.extra["refine_principal_point"] = refine_principal_point
    out = workdir / "sfm"
    out.mkdir(exist_ok=True)
    with stage(report, "sfm.map"):
        models = pycolmap.incremental_mapping(db_path, capture.image_dir, out, options=options)
    if not models:
        for f in frames:
            report.reject(f.source, "not_registered", "no two photos share enough features")
        return None
    rec = max(models.values(), key=lambda r: r.num_reg_images())
    if refine_principal_point and _principal_point_drifted(rec):
        report.extra["refine_principal_point"] = "rejected: drifted from the centre"
        options.ba_refine_principal_point = False
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        with stage(report, "sfm.map_again"):
            models = pycolmap.incremental_mapping(db_path, capture.image_dir, out, options=options)
        if not models:
            return None
        rec = max(models.values(), key=lambda r: r.num_reg_images())
    by_name = {f.name: f for f in frames}
    registered = {img.name for img in rec.images.values() if img.has_pose}
    inliers = _match_counts(db_path)
    for f in frames:
        if f.name not in registered:
            n = inliers.get(f.name, 0)
            report.reject(
                f.source,
                "not_registered",
                f"{n} verified feature matches with other photos, but too few of them agree "
                "with the cameras already found",
            )
    report.registered = len(registered)
    report.reprojection_error_px = round(float(rec.compute_mean_reprojection_error()), 3)
    report.sparse_points = rec.num_points3D()
    if report.registered < 2:
        return None
    return _to_sparse(rec, by_name)


def _match(db_path: Path, capture: Capture, report: Report, count: int) -> None:
    """Match features between the pairs of photos the capture's kind suggests."""
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = _threads()
    vocab = os.environ.get("SPADOK_VOCAB_TREE", "")
    if capture.kind == "video":
        report.matching = "sequential"
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = 10
        pairing.quadratic_overlap = True
        pycolmap.match_sequential(db_path, matching_options=matching, pairing_options=pairing)
    elif count <= EXHAUSTIVE_MAX:
        report.matching = "exhaustive"
        pycolmap.match_exhaustive(db_path, matching_options=matching)
    elif vocab and Path(vocab).is_file():
        report.matching = "vocabtree"
        vt = pycolmap.VocabTreePairingOptions()
        vt.vocab_tree_path = vocab
        vt.num_images = 30
        pycolmap.match_vocabtree(db_path, matching_options=matching, pairing_options=vt)
    else:
        report.matching = "sequential-quadratic"
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = 20
        pairing.quadratic_overlap = True
        pycolmap.match_sequential(db_path, matching_options=matching, pairing_options=pairing)


def _principal_point_drifted(rec: pycolmap.Reconstruction, limit: float = 0.1) -> bool:
    """A principal point more than 10% of the image away from its centre is not believable."""
    for cam in rec.cameras.values():
        dx = abs(cam.principal_point_x - cam.width / 2) / cam.width
        dy = abs(cam.principal_point_y - cam.height / 2) / cam.height
        if max(dx, dy) > limit:
            return True
    return False


def _match_counts(db_path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with pycolmap.Database.open(db_path) as db:
        names = {img.image_id: img.name for img in db.read_all_images()}
        pair_ids, nums = db.read_two_view_geometry_num_inliers()
        for pair, n in zip(pair_ids, nums, strict=True):
            a, b = _pair_to_ids(int(pair))
            for i in (a, b):
                counts[names.get(i, "")] = counts.get(names.get(i, ""), 0) + int(n)
    return counts


def _pair_to_ids(pair_id: int) -> tuple[int, int]:
    big = 2147483647
    b = pair_id % big
    return (pair_id - b) // big, b


def _to_sparse(rec: pycolmap.Reconstruction, by_name: dict) -> Sparse:
    views = []
    for img in rec.images.values():
        if not img.has_pose:
            continue
        cam = rec.cameras[img.camera_id]
        T = img.cam_from_world().matrix()
        frame = by_name[img.name]
        views.append(
            View(
                name=img.name,
                source=frame.source,
                K=cam.calibration_matrix(),
                R=T[:, :3].copy(),
                t=T[:, 3].copy(),
                width=cam.width,
                height=cam.height,
                k1=float(cam.params[3]) if cam.model_name in ("SIMPLE_RADIAL", "RADIAL") else 0.0,
                point_ids={p.point3D_id for p in img.points2D if p.has_point3D()},
            )
        )
    views.sort(key=lambda v: v.name)
    ids = np.array(list(rec.points3D.keys()), dtype=np.int64)
    pts = np.array([rec.points3D[i].xyz for i in ids]).reshape(-1, 3)
    cols = np.array([rec.points3D[i].color for i in ids], dtype=np.uint8).reshape(-1, 3)
    return Sparse(views, pts, cols, ids, rec)


def align(sparse: Sparse, capture: Capture, report: Report) -> np.ndarray:
    """A 4x4 similarity taking the model to a Y-up world: metric from GPS, else unscaled."""
    views = sparse.views
    centers = np.array([v.center for v in views])
    frames = {f.name: f for f in capture.frames}
    gps = [(v, frames[v.name].gps) for v in views if frames[v.name].gps]
    if len(gps) >= 3:
        enu = _enu(np.array([g for _, g in gps], dtype=float))
        src = np.array([v.center for v, _ in gps])
        if np.ptp(enu[:, :2], axis=0).max() > 5.0:  # phone GPS is ±5 m: need a larger spread
            sim = _umeyama(src, enu)
            if sim is not None:
                report.scale_source = "gps"
                report.units = "metres"
                # ENU is Z-up; glTF is Y-up: (e, n, u) -> (e, u, -n)
                to_yup = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1.0]])
                return to_yup @ sim
    # No scale: centre the model and turn the photographers' average "up" to +Y.
    up = -np.mean([v.R[1] for v in views], axis=0)  # image -y axis in the world
    up /= np.linalg.norm(up) or 1.0
    rot = _rotation_between(up, np.array([0.0, 1.0, 0.0]))
    center = np.median(sparse.points, axis=0) if len(sparse.points) else centers.mean(axis=0)
    T = np.eye(4)
    T[:3, :3] = rot
    T[:3, 3] = -rot @ center
    return T


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1 / (1 + c))


def _enu(geo: np.ndarray) -> np.ndarray:
    """Latitude, longitude, altitude to local east-north-up metres (small areas)."""
    lat0, lon0 = np.radians(geo[0, 0]), np.radians(geo[0, 1])
    r = 6378137.0
    east = np.radians(geo[:, 1] - geo[0, 1]) * r * np.cos(lat0)
    north = np.radians(geo[:, 0] - geo[0, 0]) * r
    _ = lon0
    return np.column_stack([east, north, geo[:, 2] - geo[0, 2]])


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """The similarity (4x4) that best maps src points onto dst points."""
    if len(src) < 3:
        return None
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    var = (a**2).sum() / len(src)
    if var < 1e-12:
        return None
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    s = np.trace(np.diag(S) @ D) / var
    T = np.eye(4)
    T[:3, :3] = s * R
    T[:3, 3] = md - s * R @ ms
    return T


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    return _umeyama(src, dst)


def transform_views(sparse: Sparse, T: np.ndarray) -> None:
    """Apply a similarity to the cameras and points in place (the images stay the same)."""
    s = np.cbrt(np.linalg.det(T[:3, :3]))
    Rw = T[:3, :3] / s
    for v in sparse.views:
        c = T[:3, :3] @ v.center + T[:3, 3]
        v.R = v.R @ Rw.T
        v.t = -v.R @ c
    if len(sparse.points):
        sparse.points = sparse.points @ T[:3, :3].T + T[:3, 3]
    if sparse.reconstruction is not None:
        sim = pycolmap.Sim3d(s, pycolmap.Rotation3d(Rw), T[:3, 3])
        sparse.reconstruction.transform(sim)

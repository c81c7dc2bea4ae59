"""Bring the after capture into the before capture's frame: global, then fine.

Global: FPFH features on voxel-downsampled points, matched by RANSAC (Open3D),
a few seeds, each checked by a short ICP; it needs no initial guess, so two
scans made months apart from different places still meet. Fine: point-to-plane
ICP over three shrinking correspondence distances with a Tukey loss, so the
changed region (which no rigid motion can match) does not pull the result.

A nudge skips the global step: the user's transform (or the previous result)
plus small offsets is where ICP starts, or, with ``refine`` off, the answer.
Normals come from the meshes' faces; a cloud without normals gets them from
its neighbours, turned away from its centre (cheap, and right for objects;
consistent orientation over the whole cloud is slow and not needed here).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spadok.core.compare.params import Params
from spadok.core.compare.sample import Samples

log = logging.getLogger(__name__)

FEATURE_VOXEL_SHARE = 1 / 60  # feature voxel as a share of the model's size
ICP_POINTS = 30_000  # per capture, for the fine alignment (more adds time, not accuracy)
COARSE_SCALES = (3.0, 1.0)  # correspondence distances in feature voxels, on the feature points
FINE_SCALE = 0.3  # the last one, on the full sample
ICP_ITERATIONS = 30
GLOBAL_SEEDS = 3  # RANSAC runs with different seeds, at most
GOOD_FITNESS = 0.6  # stop trying further seeds once this share of points meets the other
FITNESS_SCALE = 1.0  # ... within this many feature voxels


@dataclass
class Alignment:
    transform: np.ndarray  # 4x4: after -> before frame
    method: str  # "global+icp", "nudge+icp", "nudge", "identity+icp"
    fitness: float = 0.0  # share of after points within a feature voxel of a before point
    inlier_rmse: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "transform": [[float(v) for v in row] for row in self.transform],
            "rotation_degrees": rotation_angle(self.transform),
            "translation": [float(v) for v in self.transform[:3, 3]],
            "fitness": self.fitness,
            "icp_inlier_rmse": self.inlier_rmse,
            "attempts": self.attempts,
        }


def rotation_angle(matrix: np.ndarray) -> float:
    """The angle (degrees) of a transform's rotation."""
    cos = (np.trace(matrix[:3, :3]) - 1) / 2
    return float(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))


def euler_matrix(degrees: tuple[float, float, float]) -> np.ndarray:
    """Rotation about X, then Y, then Z (degrees), as a 3x3 matrix."""
    rx, ry, rz = (math.radians(d) for d in degrees)
    cx, sx, cy, sy, cz, sz = (
        math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry), math.cos(rz), math.sin(rz),
    )  # fmt: skip
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return z @ y @ x


def nudge_matrix(params: Params, base: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``base`` followed by the user's offsets: turn about the placed centre, then shift."""
    turn = np.eye(4)
    turn[:3, :3] = euler_matrix(params.rotate)
    placed = base[:3, :3] @ centre + base[:3, 3]
    about = np.eye(4)
    about[:3, 3] = placed
    back = np.eye(4)
    back[:3, 3] = -placed
    shift = np.eye(4)
    shift[:3, 3] = params.translate
    return shift @ about @ turn @ back @ base


def quiet_open3d() -> Any:
    """Open3D, with its warnings (printed on stdout, which scripts read as JSON) silenced."""
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


def _cloud(samples: Samples, limit: int, seed: int) -> Any:
    import open3d as o3d

    part = samples.subset(limit, seed)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(part.points))
    if part.normals is not None:
        cloud.normals = o3d.utility.Vector3dVector(part.normals)
    return cloud


def _ensure_normals(cloud: Any, radius: float) -> None:
    import open3d as o3d

    if cloud.has_normals():
        return
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=30))
    centre = np.asarray(cloud.points).mean(axis=0)
    cloud.orient_normals_towards_camera_location(centre)
    cloud.normals = o3d.utility.Vector3dVector(-np.asarray(cloud.normals))


def _features(cloud: Any, voxel: float) -> tuple[Any, Any]:
    import open3d as o3d

    down = cloud.voxel_down_sample(voxel)
    _ensure_normals(down, 2 * voxel)
    feature = o3d.pipelines.registration.compute_fpfh_feature(
        down, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel, max_nn=100)
    )
    return down, feature


def _icp(
    source: Any, target: Any, start: np.ndarray, voxel: float, scales: tuple[float, ...]
) -> tuple[np.ndarray, Any]:
    import open3d as o3d

    reg = o3d.pipelines.registration
    transform = start
    result = None
    for scale in scales:
        distance = scale * voxel
        estimation = reg.TransformationEstimationPointToPlane(reg.TukeyLoss(k=distance))
        result = reg.registration_icp(
            source,
            target,
            distance,
            transform,
            estimation,
            reg.ICPConvergenceCriteria(
                relative_fitness=1e-7, relative_rmse=1e-7, max_iteration=ICP_ITERATIONS
            ),
        )
        transform = np.asarray(result.transformation)
    return transform, result


def _refine(
    source: Any, target: Any, coarse: tuple[Any, Any], start: np.ndarray, voxel: float
) -> tuple[np.ndarray, Any]:
    """Coarse ICP on the feature points (quick), then the fine scale on the full sample."""
    transform, _ = _icp(coarse[0], coarse[1], start, voxel, COARSE_SCALES)
    return _icp(source, target, transform, voxel, (FINE_SCALE,))


def _fitness(source: Any, target: Any, transform: np.ndarray, voxel: float) -> float:
    import open3d as o3d

    found = o3d.pipelines.registration.evaluate_registration(
        source, target, FITNESS_SCALE * voxel, transform
    )
    return float(found.fitness)


def find_alignment(before: Samples, after: Samples, params: Params, size: float) -> Alignment:
    """The transform that takes ``after`` onto ``before`` (see the module docstring)."""
    o3d = quiet_open3d()

    reg = o3d.pipelines.registration
    voxel = size * FEATURE_VOXEL_SHARE
    target = _cloud(before, ICP_POINTS, params.seed)
    source = _cloud(after, ICP_POINTS, params.seed + 1)
    _ensure_normals(target, 2 * voxel)
    _ensure_normals(source, 2 * voxel)

    if params.nudged:
        base = params.initial_matrix()
        base = np.eye(4) if base is None else base
        start = nudge_matrix(params, base, np.asarray(after.points).mean(axis=0))
        if not params.refine:
            return Alignment(transform=start, method="nudge")
        coarse = (source.voxel_down_sample(voxel), target.voxel_down_sample(voxel))
        _ensure_normals(coarse[0], 2 * voxel)
        _ensure_normals(coarse[1], 2 * voxel)
        transform, result = _refine(source, target, coarse, start, voxel)
        fitness = _fitness(source, target, transform, voxel)
        return Alignment(transform, "nudge+icp", fitness, float(result.inlier_rmse))
    if not params.refine:
        return Alignment(transform=np.eye(4), method="identity")

    src_down, src_feat = _features(source, voxel)
    tgt_down, tgt_feat = _features(target, voxel)
    best: tuple[float, np.ndarray] | None = None
    attempts: list[dict[str, Any]] = []
    for attempt in range(GLOBAL_SEEDS):
        o3d.utility.random.seed(params.seed + attempt)
        found = reg.registration_ransac_based_on_feature_matching(
            src_down,
            tgt_down,
            src_feat,
            tgt_feat,
            True,
            1.5 * voxel,
            reg.TransformationEstimationPointToPoint(False),
            3,
            [
                reg.CorrespondenceCheckerBasedOnEdgeLength(0.9),
                reg.CorrespondenceCheckerBasedOnDistance(1.5 * voxel),
            ],
            reg.RANSACConvergenceCriteria(100_000, 0.999),
        )
        start, _ = _icp(src_down, tgt_down, np.asarray(found.transformation), voxel, COARSE_SCALES)
        fitness = _fitness(src_down, tgt_down, start, voxel)
        info = {
            "seed": params.seed + attempt,
            "ransac_fitness": float(found.fitness),
            "coarse_fitness": fitness,
        }
        log.info("global alignment attempt %s: %s", attempt, info)
        attempts.append(info)
        if best is None or fitness > best[0]:
            best = (fitness, start)
        if best[0] >= GOOD_FITNESS:
            break
    assert best is not None
    transform, result = _icp(source, target, best[1], voxel, (FINE_SCALE,))
    fitness = _fitness(source, target, transform, voxel)
    return Alignment(transform, "global+icp", fitness, float(result.inlier_rmse), attempts)

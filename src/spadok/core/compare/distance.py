"""Distances from points to a capture's surface, signed where the surface allows it.

The sign says on which side of the reference surface a point lies: negative
inside (material that the other capture lacks), positive outside. A closed,
consistently wound mesh gives the sign by ray parity (inside or not), which
is right even at sharp edges; an open but consistently wound mesh by the
normal of the nearest triangle; a point cloud by the normals in its file.
Anything else (a cloud without normals, a mesh whose faces disagree) gives
unsigned distances, and the report says so.

Also here: the noise of the alignment and the threshold derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spadok.core.compare.load import Geometry

# Threshold = NOISE_FACTOR x the robust spread of the unchanged surface's distances...
NOISE_FACTOR = 3.0
# ...but never below this share of the model's size (sampling and float noise).
THRESHOLD_FLOOR = 1e-3
# The noise is measured on points nearer than this share of the size...
NOISE_WINDOW_SHARE = 0.0125
# ...and points nearer than this share "overlap": the surfaces meet there. It does not grow
# with the noise (two unrelated shapes have "noise" as large as their distances), only with
# a threshold the user sets.
OVERLAP_SHARE = 0.005
QUERY_BLOCK = 500_000  # points per closest-point call: bounds the temporaries


class Surface:
    """What distances are measured to; ``signed`` says whether they carry a sign."""

    signed: bool = False

    def distances(self, points: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def occupancy(self, points: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class MeshSurface(Surface):
    """A triangle mesh in Open3D's ray-casting scene (BVH): closest points and inside tests."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, *, closed: bool, oriented: bool):
        import open3d as o3d

        self.closed = closed
        self.signed = closed or oriented
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
        )

    def distances(self, points: np.ndarray) -> np.ndarray:
        out = np.empty(len(points))
        for start in range(0, len(points), QUERY_BLOCK):
            out[start : start + QUERY_BLOCK] = self._block(points[start : start + QUERY_BLOCK])
        return out

    def _block(self, points: np.ndarray) -> np.ndarray:
        import open3d as o3d

        query = o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
        found = self.scene.compute_closest_points(query)
        nearest = found["points"].numpy().astype(np.float64)
        offset = points - nearest
        dist = np.linalg.norm(offset, axis=1)
        if self.closed:
            inside = self.scene.compute_occupancy(query).numpy() > 0.5
            return np.where(inside, -dist, dist)
        if self.signed:
            normals = found["primitive_normals"].numpy().astype(np.float64)
            side = np.einsum("ij,ij->i", offset, normals)
            return np.where(side < 0, -dist, dist)
        return dist

    def occupancy(self, points: np.ndarray) -> np.ndarray:
        import open3d as o3d

        out = np.empty(len(points), dtype=bool)
        for start in range(0, len(points), QUERY_BLOCK):
            block = np.ascontiguousarray(points[start : start + QUERY_BLOCK], dtype=np.float32)
            occ = self.scene.compute_occupancy(o3d.core.Tensor(block)).numpy()
            out[start : start + QUERY_BLOCK] = occ > 0.5
        return out


class PointSurface(Surface):
    """A point cloud: nearest point, measured along its normal when that is meaningful."""

    def __init__(self, points: np.ndarray, normals: np.ndarray | None, *, signed: bool):
        from scipy.spatial import cKDTree

        self.points = points
        self.tree = cKDTree(points)
        if normals is None:
            normals = estimate_normals(points)
        self.normals = normals
        self.signed = signed
        spacing, _ = self.tree.query(points[:: max(1, len(points) // 20_000)], k=2, workers=-1)
        self.spacing = float(np.median(spacing[:, 1])) if len(points) > 1 else 0.0

    def distances(self, points: np.ndarray) -> np.ndarray:
        dist, index = self.tree.query(points, k=1, workers=-1)
        offset = points - self.points[index]
        along = np.einsum("ij,ij->i", offset, self.normals[index])
        # Near the cloud, the distance along the normal (the points are a sampled surface);
        # farther than a few spacings, the plain distance (past the cloud's edge, say).
        near = dist <= 3 * self.spacing
        value = np.where(near, np.abs(along), dist)
        if self.signed:
            value = np.where(along < 0, -value, value)
        return value


def estimate_normals(points: np.ndarray) -> np.ndarray:
    """Normals from the nearest neighbours (their direction along the normal is arbitrary)."""
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=16))
    return np.asarray(cloud.normals)


def surface_of(geometry: Geometry, vertices: np.ndarray | None = None) -> Surface:
    """The surface to measure against; ``vertices`` (already moved) replace the geometry's."""
    v = geometry.vertices if vertices is None else vertices
    if geometry.faces is not None:
        return MeshSurface(
            v, geometry.faces, closed=geometry.watertight, oriented=geometry.oriented
        )
    return PointSurface(v, geometry.normals, signed=geometry.normals is not None)


@dataclass
class Noise:
    """How well the unchanged surface agrees after alignment, and the threshold it gives."""

    sigma: float
    rms: float
    threshold: float
    source: str  # "noise" (derived) or "user"
    overlap_distance: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "sigma": self.sigma,
            "rms": self.rms,
            "threshold": self.threshold,
            "source": self.source,
            "overlap_distance": self.overlap_distance,
            "factor": NOISE_FACTOR,
        }


def estimate_noise(
    changes: list[np.ndarray], size: float, user_threshold: float | None = None
) -> Noise:
    """Robust spread (1.4826 x median |d|) of distances where the surfaces meet.

    Only points within the overlap distance take part, so the changed region
    (often a large share of the surface) does not inflate the noise.
    """
    window = NOISE_WINDOW_SHARE * size
    pooled = np.concatenate([np.abs(c) for c in changes]) if changes else np.zeros(0)
    meeting = pooled[pooled <= window]
    sigma = float(1.4826 * np.median(meeting)) if len(meeting) else window
    floor = THRESHOLD_FLOOR * size
    if user_threshold is not None:
        threshold, source = float(user_threshold), "user"
    else:
        threshold, source = max(NOISE_FACTOR * sigma, floor), "noise"
    unchanged = pooled[pooled <= threshold]
    rms = float(np.sqrt(np.mean(unchanged**2))) if len(unchanged) else float("nan")
    near = OVERLAP_SHARE * size
    if user_threshold is not None:
        near = max(near, 2 * threshold)
    return Noise(sigma=sigma, rms=rms, threshold=threshold, source=source, overlap_distance=near)

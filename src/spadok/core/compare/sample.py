"""Points spread evenly over a capture's surface, each standing for a piece of its area.

Every measure of a comparison (distances, changed area, the surface estimate
of volume) is a sum over these samples, so their number bounds the work
whatever the size of the master: a mesh is sampled uniformly by area, a point
cloud is subsampled, and each sample carries the area it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spadok.core.compare.load import Geometry

# Neighbours used to estimate the area a point of a cloud stands for.
AREA_NEIGHBOURS = 8


@dataclass
class Samples:
    points: np.ndarray  # (n, 3) float64
    normals: np.ndarray | None  # (n, 3) unit normals (outwards for oriented meshes)
    areas: np.ndarray  # (n,) the surface area each sample stands for
    total_area: float

    def __len__(self) -> int:
        return len(self.points)

    def transformed(self, matrix: np.ndarray) -> Samples:
        rotation, shift = matrix[:3, :3], matrix[:3, 3]
        normals = None if self.normals is None else self.normals @ rotation.T
        return Samples(self.points @ rotation.T + shift, normals, self.areas, self.total_area)

    def subset(self, n: int, seed: int) -> Samples:
        """At most ``n`` of the samples, chosen at random (each then stands for more area)."""
        if len(self) <= n:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False))
        normals = None if self.normals is None else self.normals[keep]
        scale = len(self) / n
        return Samples(self.points[keep], normals, self.areas[keep] * scale, self.total_area)


def face_areas_normals(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area and unit normal (by the winding) of each triangle; degenerate ones get area 0."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    double = np.linalg.norm(cross, axis=1)
    normals = np.zeros_like(cross)
    nonzero = double > 0
    normals[nonzero] = cross[nonzero] / double[nonzero, None]
    return double / 2.0, normals


def sample_surface(geometry: Geometry, n: int, seed: int = 0) -> Samples:
    """``n`` samples: uniform by area on a mesh, a random subset of a cloud."""
    rng = np.random.default_rng(seed)
    if geometry.faces is not None:
        return _sample_mesh(geometry.vertices, geometry.faces, n, rng)
    return _sample_points(geometry, n, rng)


def _sample_mesh(
    vertices: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator
) -> Samples:
    areas, normals = face_areas_normals(vertices, faces)
    total = float(areas.sum())
    if total <= 0:
        from spadok.core.errors import SpadokError

        raise SpadokError("geometry.invalid", "every triangle has zero area")
    cumulative = np.cumsum(areas)
    chosen = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    chosen = np.minimum(chosen, len(faces) - 1)
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    tri = faces[chosen]
    a, b, c = vertices[tri[:, 0]], vertices[tri[:, 1]], vertices[tri[:, 2]]
    points = a + (b - a) * u[:, None] + (c - a) * v[:, None]
    return Samples(points, normals[chosen], np.full(n, total / n), total)


def _sample_points(geometry: Geometry, n: int, rng: np.random.Generator) -> Samples:
    """A subset of the cloud; each point's area from the spacing of its neighbours."""
    from scipy.spatial import cKDTree

    cloud = geometry.vertices
    tree = cKDTree(cloud)
    if len(cloud) > n:
        keep = np.sort(rng.choice(len(cloud), n, replace=False))
    else:
        keep = np.arange(len(cloud))
    k = min(AREA_NEIGHBOURS + 1, len(cloud))
    dist, _ = tree.query(cloud[keep], k=k, workers=-1)
    radius = np.atleast_2d(dist)[:, -1]
    # k neighbours within radius r share the disc pi r^2; each sample stands for len/n points.
    per_point = np.pi * radius**2 / max(k - 1, 1)
    areas = per_point * (len(cloud) / len(keep))
    normals = None if geometry.normals is None else geometry.normals[keep]
    return Samples(cloud[keep], normals, areas, float(areas.sum()))

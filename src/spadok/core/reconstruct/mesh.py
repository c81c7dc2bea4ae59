"""A closed surface from the fused points: screened Poisson (Open3D), then cleaning.

Poisson fills small holes plausibly but also invents surface where no point
supports it; vertices with low sample density are removed (those are the
invented parts), then all but the large connected pieces, then anything far
outside the points' bounding box.
"""

from __future__ import annotations

import logging

import numpy as np
import open3d as o3d

log = logging.getLogger(__name__)


def point_cloud(points: np.ndarray, normals: np.ndarray, colors: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    pc.normals = o3d.utility.Vector3dVector(normals.astype(np.float64))
    if colors is not None and len(colors):
        pc.colors = o3d.utility.Vector3dVector(colors.astype(np.float64) / 255.0)
    return pc


def spacing(points: np.ndarray) -> float:
    """The typical distance between neighbouring points (median over a sample)."""
    pc = o3d.geometry.PointCloud(
        o3d.utility.Vector3dVector(points[:: max(1, len(points) // 20000)])
    )
    d = np.asarray(pc.compute_nearest_neighbor_distance())
    return float(np.median(d)) if len(d) else 0.0


def clean_points(points: np.ndarray, normals: np.ndarray, colors: np.ndarray, max_points: int):  # type: ignore[no-untyped-def]
    """Even out the density (voxel averaging) and drop isolated points."""
    pc = point_cloud(points, normals, colors)
    extent = np.ptp(points, axis=0).max() if len(points) else 1.0
    voxel = max(extent / 2000, spacing(points))
    pc = pc.voxel_down_sample(voxel)
    while len(pc.points) > max_points:
        voxel *= 1.3
        pc = pc.voxel_down_sample(voxel)
    if len(pc.points) > 50:
        pc, _ = pc.remove_statistical_outlier(nb_neighbors=16, std_ratio=2.5)
    normals = np.asarray(pc.normals)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    pc.normals = o3d.utility.Vector3dVector(normals / np.maximum(norm, 1e-12))
    return pc


def poisson(
    pc: o3d.geometry.PointCloud,
    depth: int = 9,
    density_quantile: float = 0.08,
    min_component_fraction: float = 0.02,
) -> o3d.geometry.TriangleMesh:
    """Screened Poisson surface, trimmed to where the points support it."""
    mesh, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
        pc, depth=depth, scale=1.1, linear_fit=False, n_threads=2
    )
    densities = np.asarray(densities)
    if len(densities):
        mesh.remove_vertices_by_mask(densities < np.quantile(densities, density_quantile))
    # Keep the surface near the points: Poisson balloons beyond the data.
    pts = np.asarray(pc.points)
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.02 * (hi - lo)
    box = o3d.geometry.AxisAlignedBoundingBox(lo - pad, hi + pad)
    mesh = mesh.crop(box)
    # distance to the nearest point: cut triangles far from any sample
    if len(mesh.vertices):
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(pts).query(np.asarray(mesh.vertices), k=1, workers=2)
        mesh.remove_vertices_by_mask(dist > 6 * spacing(pts))
    mesh = remove_small_components(mesh, min_component_fraction)
    mesh.remove_unreferenced_vertices()
    mesh.remove_degenerate_triangles()
    mesh.compute_vertex_normals()
    return mesh


def remove_small_components(
    mesh: o3d.geometry.TriangleMesh, min_fraction: float
) -> o3d.geometry.TriangleMesh:
    if len(mesh.triangles) == 0:
        return mesh
    clusters, counts, _ = mesh.cluster_connected_triangles()
    clusters = np.asarray(clusters)
    counts = np.asarray(counts)
    small = counts[clusters] < max(10, min_fraction * counts.max())
    mesh.remove_triangles_by_mask(small)
    mesh.remove_unreferenced_vertices()
    return mesh

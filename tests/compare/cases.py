"""Real scans with known damage: the "after" copies that the comparison tests measure.

Each case starts from a real scan (tests/testdata.py), removes or dents a known
part of it, and moves it by a rigid motion. The ground truth is computed here,
independently of the method under test: the removed volume by an exact mesh
boolean (manifold3d) and the divergence theorem (trimesh), the dent's volume
from the closed meshes before and after the vertices were pushed in, and the
altered region as the vertex indices this module changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from tests.testdata import data

GARGOYLE = ("scans", "3dhop_cnr_heritage", "gargo.ply")  # closed, 50k faces, no unit
BUNNY = ("scans", "stanford_via_pyvista", "bunny.ply")  # open (holes underneath), 69k faces
LAURANA = ("scans", "3dhop_cnr_heritage", "laurana.ply")  # another object altogether


@dataclass
class Case:
    before: Path
    after: Path
    motion: np.ndarray  # 4x4 that moved the altered copy: the comparison must undo it
    altered: np.ndarray  # bool per vertex of the before mesh: what was removed or pushed in
    lost_volume: float
    size: float  # bounding-box diagonal of the before mesh


def load(parts: tuple[str, ...]) -> trimesh.Trimesh:
    mesh = trimesh.load(data(*parts), process=False)
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def motion(seed: int, shift: tuple[float, float, float]) -> np.ndarray:
    """A rigid motion well away from the identity (a random rotation and a shift)."""
    rng = np.random.default_rng(seed)
    matrix = trimesh.transformations.random_rotation_matrix(rng.random(3))
    matrix[:3, 3] = shift
    return matrix


def _write_moved(mesh: trimesh.Trimesh, matrix: np.ndarray, path: Path) -> Path:
    moved = mesh.copy()
    moved.apply_transform(matrix)
    moved.export(path)
    return path


def cut_case(tmp: Path) -> Case:
    """The gargoyle with a cap sawn off by a plane (the break closed flat, as a scan shows it)."""
    before = load(GARGOYLE)
    normal = np.array([0.3, 1.0, 0.2])
    normal /= np.linalg.norm(normal)
    point = before.centroid + normal * 30.0
    box = trimesh.creation.box(extents=[400.0, 400.0, 400.0])
    place = trimesh.geometry.align_vectors([0, 0, 1], normal)
    place[:3, 3] = point + normal * 200.0
    box.apply_transform(place)
    after = trimesh.boolean.difference([before, box], engine="manifold")
    assert before.is_watertight and after.is_watertight
    matrix = motion(3, (12.0, -40.0, 7.0))
    return Case(
        before=data(*GARGOYLE),
        after=_write_moved(after, matrix, tmp / "gargoyle-cut.ply"),
        motion=matrix,
        altered=(before.vertices - point) @ normal > 0,
        lost_volume=float(before.volume - after.volume),
        size=float(np.linalg.norm(before.extents)),
    )


def _area_normals(mesh: trimesh.Trimesh) -> np.ndarray:
    """Vertex normals from the faces' winding (the file's own normals may point anywhere)."""
    normals = np.zeros_like(mesh.vertices)
    weighted = mesh.face_normals * mesh.area_faces[:, None]
    for corner in range(3):
        np.add.at(normals, mesh.faces[:, corner], weighted)
    length = np.linalg.norm(normals, axis=1)
    return normals / np.maximum(length, 1e-12)[:, None]


def _flattest(mesh: trimesh.Trimesh, normals: np.ndarray, radius: float) -> int:
    """The vertex whose neighbourhood is flattest (a dent there does not fold the surface)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(mesh.vertices)
    best, best_index = -1.0, 0
    for i in range(0, len(mesh.vertices), 37):
        near = tree.query_ball_point(mesh.vertices[i], radius * 1.5)
        if len(near) < 20:
            continue
        flatness = float(np.linalg.norm(normals[near].mean(axis=0)))
        if flatness > best:
            best, best_index = flatness, i
    return best_index


def dent(mesh: trimesh.Trimesh, radius: float, depth: float) -> tuple[trimesh.Trimesh, np.ndarray]:
    """Push the vertices around the flattest spot inwards: ``depth`` in the middle half,
    falling linearly to nothing at ``radius``, all along the spot's mean inward normal."""
    normals = _area_normals(mesh)
    centre = mesh.vertices[_flattest(mesh, normals, radius)]
    distance = np.linalg.norm(mesh.vertices - centre, axis=1)
    inside = distance < radius
    direction = normals[inside].mean(axis=0)
    direction /= np.linalg.norm(direction)
    profile = depth * np.minimum(1.0, 2.0 * np.clip(1.0 - distance / radius, 0.0, None))
    vertices = mesh.vertices - direction[None, :] * profile[:, None]
    return trimesh.Trimesh(vertices, mesh.faces, process=False), profile > 0


def dent_case(tmp: Path) -> Case:
    """The gargoyle, closed, dented 4 units deep over a 15-unit radius (a shell strike)."""
    before = load(GARGOYLE)
    after, altered = dent(before, radius=15.0, depth=4.0)
    assert after.is_watertight
    matrix = motion(11, (-5.0, 25.0, 60.0))
    return Case(
        before=data(*GARGOYLE),
        after=_write_moved(after, matrix, tmp / "gargoyle-dent.ply"),
        motion=matrix,
        altered=altered,
        lost_volume=float(before.volume - after.volume),
        size=float(np.linalg.norm(before.extents)),
    )


def open_dent_case(tmp: Path) -> Case:
    """The bunny (an open scan: no inside to voxelise), dented 1.5 mm over 2 cm.

    Only the dent's vertices moved and the holes' rims did not, so the difference of
    the two meshes' signed volumes (divergence theorem) is exactly the dent's volume.
    """
    before = load(BUNNY)
    after, altered = dent(before, radius=0.02, depth=0.0015)
    matrix = motion(5, (0.3, -0.1, 0.05))
    return Case(
        before=data(*BUNNY),
        after=_write_moved(after, matrix, tmp / "bunny-dent.ply"),
        motion=matrix,
        altered=altered,
        lost_volume=float(_signed_volume(before) - _signed_volume(after)),
        size=float(np.linalg.norm(before.extents)),
    )


def _signed_volume(mesh: trimesh.Trimesh) -> float:
    tri = mesh.vertices[mesh.faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)


def unrelated_case(tmp: Path) -> tuple[Path, Path]:
    """The gargoyle and the Laurana bust scaled to the gargoyle's size: nothing to align."""
    gargoyle, bust = load(GARGOYLE), load(LAURANA)
    bust.apply_scale(np.linalg.norm(gargoyle.extents) / np.linalg.norm(bust.extents))
    path = tmp / "laurana-scaled.ply"
    bust.export(path)
    return data(*GARGOYLE), path


def rotation_error_degrees(found: np.ndarray, case: Case) -> float:
    """Angle of the residual rotation once the found transform undoes the case's motion."""
    residual = np.asarray(found) @ case.motion
    cos = (np.trace(residual[:3, :3]) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def translation_error(found: np.ndarray, case: Case) -> float:
    residual = np.asarray(found) @ case.motion
    return float(np.linalg.norm(residual[:3, 3]))

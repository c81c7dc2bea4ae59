"""Read a capture's master geometry for a comparison: vertices, faces, unit, up axis.

The format registry reads the file exactly as ingest does (the same loaders
and limits); this module flattens what it read into one array of world-space
vertices and one of triangles, in the file's own unit, and says whether the
surface is closed and consistently wound, because that decides which volume
method applies and whether distances can be signed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.formats import registry
from spadok.core.limits import DEFAULT_LIMITS, Limits
from spadok.core.stats import UNIT_METRES, _edge_facts, _geometry_instances, _merge_positions

log = logging.getLogger(__name__)

# A comparison holds both captures at once, with their search structures: far
# below ingest's limits, so that two of them fit beside each other.
MAX_VERTICES = 10_000_000
MAX_POINTS = 20_000_000  # a larger cloud is sampled down to this many points
FIX_WINDING_MAX_FACES = 2_000_000  # re-winding builds a face graph: only below this


@dataclass
class Geometry:
    """One capture's surface, in its file's unit (see :attr:`metres_per_unit`)."""

    name: str
    format: str
    kind: str  # "mesh" or "points"
    vertices: np.ndarray  # (n, 3) float64
    faces: np.ndarray | None  # (m, 3) int64, positions merged across seams; None for points
    normals: np.ndarray | None  # (n, 3) for points that carry normals
    unit: str | None
    up_axis: str
    watertight: bool = False
    oriented: bool = False  # faces wound consistently, outwards when closed
    points_in_file: int = 0

    @property
    def metres_per_unit(self) -> float | None:
        return UNIT_METRES.get(self.unit) if self.unit else None

    @property
    def triangles(self) -> int:
        return 0 if self.faces is None else len(self.faces)

    def scaled(self, factor: float) -> Geometry:
        """The same geometry with lengths multiplied by ``factor`` (into metres)."""
        if factor == 1.0:
            return self
        return replace(self, vertices=self.vertices * factor)

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "format": self.format,
            "kind": self.kind,
            "unit": self.unit,
            "vertices": len(self.vertices),
        }
        if self.faces is not None:
            out.update(triangles=self.triangles, watertight=self.watertight, oriented=self.oriented)
        else:
            out.update(points=self.points_in_file, normals=self.normals is not None)
        return out


def load_geometry(
    path: Path, *, root: Path | None = None, limits: Limits = DEFAULT_LIMITS, seed: int = 0
) -> Geometry:
    """Read one master; :class:`SpadokError` for anything the user can fix."""
    from spadok.core.pipeline import up_axis

    bounded = replace(limits, max_vertices=min(limits.max_vertices, MAX_VERTICES))
    asset = registry.load(path, root=root, limits=bounded)
    if asset.stored_only:
        raise SpadokError("compare.unsupported", f"{path.name} ({asset.format})")
    if asset.scene is not None:
        vertices, faces, _geoms = _geometry_instances(asset.scene)
        if len(faces):
            if len(vertices) > MAX_VERTICES:
                raise SpadokError(
                    "limit.vertices",
                    f"{len(vertices):,} vertices, a comparison takes {MAX_VERTICES:,}",
                )
            faces = np.asarray(_merge_positions(vertices, faces), dtype=np.int64)
            bounds = vertices.min(axis=0), vertices.max(axis=0)
            geometry = Geometry(
                name=path.name,
                format=asset.format,
                kind="mesh",
                vertices=np.asarray(vertices, dtype=np.float64),
                faces=faces,
                normals=None,
                unit=asset.unit,
                up_axis=up_axis(asset, (bounds[1] - bounds[0]).tolist()),
                points_in_file=len(vertices),
            )
            _orient(geometry)
            return geometry
        # a scene of points only (e.g. a glTF point cloud)
        points, normals = _scene_points(asset.scene)
    elif asset.points is not None:
        points = np.asarray(asset.points.positions, dtype=np.float64)
        normals = asset.points.attributes.get("normals")
    else:
        raise SpadokError("geometry.empty", path.name)
    if len(points) == 0:
        raise SpadokError("geometry.empty", path.name)
    count = asset.points.count if asset.points is not None else len(points)
    if len(points) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(points), MAX_POINTS, replace=False))
        points = points[keep]
        normals = None if normals is None else normals[keep]
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float64)
        length = np.linalg.norm(normals, axis=1)
        if normals.shape != points.shape or not np.all(np.isfinite(normals)) or np.any(length == 0):
            normals = None
        else:
            normals = normals / length[:, None]
    size = (points.max(axis=0) - points.min(axis=0)).tolist()
    return Geometry(
        name=path.name,
        format=asset.format,
        kind="points",
        vertices=points,
        faces=None,
        normals=normals,
        unit=asset.unit,
        up_axis=up_axis(asset, size),
        points_in_file=count,
    )


def _scene_points(scene: object) -> tuple[np.ndarray, np.ndarray | None]:
    import trimesh

    parts = []
    for node in scene.graph.nodes_geometry:  # type: ignore[attr-defined]
        transform, name = scene.graph[node]  # type: ignore[attr-defined]
        geom = scene.geometry.get(name)  # type: ignore[attr-defined]
        if isinstance(geom, trimesh.PointCloud) and len(geom.vertices):
            v = np.asarray(geom.vertices, dtype=np.float64)
            parts.append(v @ transform[:3, :3].T + transform[:3, 3])
    if not parts:
        return np.zeros((0, 3)), None
    return np.concatenate(parts), None


def consistently_wound(faces: np.ndarray, n_vertices: int) -> bool:
    """True when no directed edge appears twice: neighbouring faces agree on their order."""
    if len(faces) == 0:
        return False
    f = faces.astype(np.int64, copy=False)
    keys = np.concatenate([f[:, i] * n_vertices + f[:, (i + 1) % 3] for i in range(3)])
    keys.sort()
    return not bool(np.any(keys[1:] == keys[:-1]))


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume by the divergence theorem; exact for a closed surface, negative if inside out."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    centre = vertices.mean(axis=0)
    a, b, c = a - centre, b - centre, c - centre
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _orient(geometry: Geometry) -> None:
    """Decide ``watertight`` and ``oriented``; re-wind or turn outwards when that is cheap."""
    faces = geometry.faces
    assert faces is not None
    n = len(geometry.vertices)
    facts = _edge_facts(faces, n)
    oriented = consistently_wound(faces, n)
    if not oriented and len(faces) <= FIX_WINDING_MAX_FACES:
        import trimesh

        mesh = trimesh.Trimesh(geometry.vertices, faces, process=False, validate=False)
        trimesh.repair.fix_winding(mesh)
        if consistently_wound(np.asarray(mesh.faces), n):
            geometry.faces = faces = np.asarray(mesh.faces, dtype=np.int64)
            oriented = True
            facts = _edge_facts(faces, n)
            log.info("%s: faces re-wound consistently", geometry.name)
    geometry.oriented = oriented
    geometry.watertight = bool(facts["watertight"]) and oriented
    if geometry.watertight and signed_volume(geometry.vertices, faces) < 0:
        geometry.faces = faces[:, ::-1].copy()  # inside out: turn every face

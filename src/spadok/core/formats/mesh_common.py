"""Helpers shared by the mesh format modules (gltf, obj, ply, stl, off, 3mf, vtp).

They turn what trimesh reads into an :class:`Asset` in one way, so that every
mesh family reports empty files, point-only files and missing side files the
same way, and let trimesh's loaders find side files through our
:class:`Resolver` (which knows about odd names and remembers what was used).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, PointSet, Resolver


class TrimeshResolver:
    """Adapts our :class:`Resolver` to trimesh's resolver interface.

    trimesh swallows a missing MTL or texture; we remember the names so that
    the asset can carry a warning the volunteer sees.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.missing: list[str] = []

    def get(self, name: str) -> bytes:
        path = self.resolver.find(name)
        if path is None:
            if name not in self.missing:
                self.missing.append(name)
            raise FileNotFoundError(name)
        return path.read_bytes()

    def __getitem__(self, name: str) -> bytes:
        return self.get(name)

    def get_base(self) -> str:
        return str(self.resolver.base)

    def namespaced(self, namespace: str) -> TrimeshResolver:
        return self

    def write(self, name: str, data: Any) -> None:  # trimesh calls this only when exporting
        raise PermissionError("read-only resolver")


def as_scene(loaded: Any) -> trimesh.Scene:
    """Whatever trimesh returned (mesh, point cloud, path, scene) as a Scene."""
    if isinstance(loaded, trimesh.Scene):
        return loaded
    if isinstance(loaded, list):
        scene = trimesh.Scene()
        for geom in loaded:
            scene.add_geometry(geom)
        return scene
    return trimesh.Scene(loaded)


def scene_asset(
    scene: trimesh.Scene,
    *,
    fmt: str,
    mime: str,
    path: Path,
    unit: str | None = None,
    up_axis: str | None = None,
    extra: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> Asset:
    """Classify a loaded scene: a mesh, points only (a point cloud) or nothing.

    Lines and empty meshes are not a scan, so a file with only those is
    ``geometry.empty`` rather than an asset nobody can view. Every mesh family
    ends here, so this is also where vertices and faces are checked for shape
    and range: a damaged file must fail as ``geometry.invalid`` now, not as an
    IndexError in the statistics or the web copies later.
    """
    check_shapes(scene, path)
    forget_sources(scene)
    meshes = [g for g in scene.geometry.values() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    clouds = [
        g
        for g in scene.geometry.values()
        if (isinstance(g, trimesh.PointCloud) and len(g.vertices))
        or (isinstance(g, trimesh.Trimesh) and len(g.faces) == 0 and len(g.vertices))
    ]
    extra = dict(extra or {})
    warnings = list(warnings or [])
    if meshes:
        # Drop point-only and line geometry so statistics count surfaces only.
        for name, geom in list(scene.geometry.items()):
            if not (isinstance(geom, trimesh.Trimesh) and len(geom.faces)):
                scene.delete_geometry(name)
                warnings.append(f"ignored non-surface geometry {name!r}")
        return Asset(
            kind="mesh",
            format=fmt,
            mime=mime,
            primary=path,
            scene=scene,
            unit=unit,
            up_axis=up_axis,
            extra=extra,
            warnings=warnings,
        )
    if clouds:
        points = points_from_geometries(clouds)
        return Asset(
            kind="pointcloud",
            format=fmt,
            mime=mime,
            primary=path,
            points=points,
            unit=unit,
            up_axis=up_axis,
            extra=extra,
            warnings=warnings,
        )
    raise SpadokError("geometry.empty", f"{path.name} has no faces or points")


def forget_sources(scene: trimesh.Scene) -> None:
    """Let go of the file objects trimesh keeps with what it loaded.

    trimesh records where each object came from, file object included; for a
    model read from memory (a rebuilt GLB, a PLY or OBJ read whole) that is
    the file's every byte, held as long as the scene lives: through the
    statistics and the levels of detail, where memory peaks.
    """
    for obj in (scene, *scene.geometry.values()):
        source = getattr(obj, "_source", None)
        if source is not None and hasattr(source, "file_obj"):
            source.file_obj = None


def points_from_geometries(geoms: list[Any]) -> PointSet:
    """Concatenate vertices (and colours when every part has them) into a PointSet."""
    positions = np.concatenate([np.asarray(g.vertices, dtype=np.float64) for g in geoms])
    colors = None
    parts: list[np.ndarray] = []
    for g in geoms:
        c = None
        if isinstance(g, trimesh.PointCloud):
            c = g.colors if len(g.colors) == len(g.vertices) else None
        elif g.visual.kind == "vertex":
            c = g.visual.vertex_colors
        if c is None:
            parts = []
            break
        parts.append(np.asarray(c, dtype=np.uint8)[:, :3])
    if parts:
        colors = np.concatenate(parts)
    return PointSet(positions=positions, colors=colors)


def check_finite(scene: trimesh.Scene, path: Path) -> None:
    """Non-finite vertices break every derivative, so refuse them clearly."""
    for name, geom in scene.geometry.items():
        v = np.asarray(getattr(geom, "vertices", np.zeros((0, 3))))
        if len(v) and not np.isfinite(v).all():
            raise SpadokError(
                "geometry.invalid", f"{path.name}: {name} has NaN or infinite vertices"
            )


def check_shapes(scene: trimesh.Scene, path: Path) -> None:
    """Vertices are (n, 3) numbers; faces are (m, 3) indices of existing vertices;
    every instance's place in the node hierarchy resolves to a finite transform
    (a damaged glTF can make the hierarchy a loop, which trimesh only finds later)."""
    try:
        transforms = [scene.graph[node][0] for node in scene.graph.nodes_geometry]
    except Exception as exc:  # trimesh and networkx raise several kinds on a broken graph
        raise SpadokError(
            "geometry.invalid", f"{path.name}: the scene's node hierarchy is broken ({exc})"
        ) from exc
    if not all(np.isfinite(np.asarray(t, dtype=np.float64)).all() for t in transforms):
        raise SpadokError(
            "geometry.invalid", f"{path.name}: a node has a NaN or infinite transform"
        )
    for name, geom in scene.geometry.items():
        vertices = getattr(geom, "vertices", None)
        if vertices is None:
            continue
        v = np.asarray(vertices)
        if len(v) and (v.ndim != 2 or v.shape[1] != 3 or v.dtype.kind not in "fiu"):
            raise SpadokError(
                "geometry.invalid",
                f"{path.name}: {name} has vertices of shape {v.shape}, not three coordinates each",
            )
        if not isinstance(geom, trimesh.Trimesh):
            continue
        f = np.asarray(geom.faces)
        if not len(f):
            continue
        if f.ndim != 2 or f.shape[1] != 3 or f.dtype.kind not in "iu":
            raise SpadokError(
                "geometry.invalid", f"{path.name}: {name} has faces of shape {f.shape}"
            )
        low, high = int(f.min()), int(f.max())
        if low < 0 or high >= len(v):
            bad = low if low < 0 else high
            raise SpadokError(
                "geometry.invalid",
                f"{path.name}: {name} has a face that refers to vertex {bad:,}, "
                f"and the mesh has {len(v):,} vertices",
            )

"""Facts about a model for the catalogue: counts, size, area, volume, closedness.

Everything is computed with numpy on concatenated arrays rather than with
trimesh's cached properties, because ingest of a 1.3 M-triangle scan has a
budget of seconds and several trimesh properties (``is_watertight``,
``body_count``) build graphs that cost far more. The results are plain
ints/floats/lists so they can be stored as JSON as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from spadok.core.formats.base import Asset, PointSet

# Metres per unit, for real-world sizes.
UNIT_METRES: dict[str, float] = {
    "m": 1.0,
    "mm": 0.001,
    "cm": 0.01,
    "um": 1e-6,
    "km": 1000.0,
    "in": 0.0254,
    "ft": 0.3048,
    "yd": 0.9144,
}


def _geometry_instances(scene: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """World-space vertices and offset faces of every mesh instance in the scene."""
    import trimesh

    nodes = scene.graph.nodes_geometry
    if len(nodes) == 1:
        transform, name = scene.graph[nodes[0]]
        geom = scene.geometry.get(name)
        if (
            isinstance(geom, trimesh.Trimesh)
            and len(geom.faces)
            and np.allclose(transform, np.eye(4))
        ):
            # The common case (one scan): no copies.
            return np.asarray(geom.vertices, dtype=np.float64), np.asarray(geom.faces), [geom]
    verts: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    geoms: list[Any] = []
    offset = 0
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geom = scene.geometry.get(name)
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        v = np.asarray(geom.vertices, dtype=np.float64)
        if not np.allclose(transform, np.eye(4)):
            v = v @ transform[:3, :3].T + transform[:3, 3]
        verts.append(v)
        faces.append(np.asarray(geom.faces, dtype=np.int64) + offset)
        geoms.append(geom)
        offset += len(v)
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), []
    return np.concatenate(verts), np.concatenate(faces), geoms


def _merge_positions(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces re-indexed so that vertices at the same position are one vertex.

    Exporters split vertices at UV and normal seams; a closed surface is closed
    in space, not in the index buffer. Positions are matched by a 64-bit hash of
    their exact bits (sorting 8-byte keys is far cheaper than 24-byte rows).
    """
    v = np.asarray(vertices, dtype=np.float64)
    h = np.zeros(len(v), np.uint64)
    column = np.empty(len(v), np.float64)  # one column at a time: no full copy
    with np.errstate(over="ignore"):
        for axis in range(3):
            np.add(v[:, axis], 0.0, out=column)  # -0.0 and 0.0 are one place
            h ^= column.view(np.uint64)
            h = _mix64(h)
    del column
    unique, inverse = np.unique(h, return_inverse=True)
    if len(unique) == len(vertices):
        return faces
    return inverse.reshape(-1).astype(_index_dtype(len(unique)))[faces]


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: every input bit reaches every output bit."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n < 2**31 - 1 else np.int64


def _edge_facts(faces: np.ndarray, n_vertices: int) -> dict[str, Any]:
    """Watertight / manifold / component facts from one sort of the edges.

    Each edge becomes ``(undirected key << 1) | direction``; after sorting, a
    closed, consistently wound surface has every undirected key exactly twice,
    once in each direction. Built in place to keep the temporaries small.
    """
    if len(faces) == 0:
        return {"watertight": False, "manifold": True, "components": 0}
    f = faces.astype(_index_dtype(n_vertices), copy=False)
    n_faces = len(f)
    keys = np.empty(3 * n_faces, np.int64)
    for corner in range(3):  # the edge from each corner to the next, one side at a time
        a, b = f[:, corner], f[:, (corner + 1) % 3]
        part = keys[corner * n_faces : (corner + 1) * n_faces]
        np.minimum(a, b, out=part)
        part *= np.int64(max(n_vertices, 1))
        part += np.maximum(a, b)
        part <<= 1
        part |= a > b
    del a, b, part  # ``part`` is a view: it would keep ``keys`` alive below
    keys.sort()
    direction_ok = len(keys) % 2 == 0 and _pairs_differ_by_one(keys)
    keys >>= 1  # now undirected keys, sorted
    manifold = not bool(np.any(keys[2:] == keys[:-2]))
    watertight = (
        len(keys) % 2 == 0
        and bool(np.all(keys[0::2] == keys[1::2]))
        and bool(np.all(keys[2::2] != keys[1:-1:2]))
        and direction_ok
    )
    del keys
    return {
        "watertight": watertight,
        "manifold": manifold,
        "components": _components(f, n_vertices),
    }


def _pairs_differ_by_one(keys: np.ndarray) -> bool:
    """``keys[2i] ^ keys[2i+1] == 1`` for every pair, in blocks (no full temporaries)."""
    block = 1 << 20
    for start in range(0, len(keys), block):
        part = keys[start : start + block]
        if not bool(np.all((part[0::2] ^ part[1::2]) == 1)):
            return False
    return True


def _components(faces: np.ndarray, n_vertices: int) -> int:
    """Connected pieces of the surface (two edges per face connect all three corners).

    The graph is built straight as CSR with float64 weights (what csgraph works
    in, so it is not converted again) and read as weakly connected: the same
    pieces as the undirected graph, for less memory than a COO round trip.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    rows = np.concatenate([faces[:, 0], faces[:, 1]])
    cols = np.concatenate([faces[:, 1], faces[:, 2]])
    graph = csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_vertices, n_vertices)
    )
    del rows, cols
    _, labels = connected_components(graph, directed=True, connection="weak")
    del graph
    return len(np.unique(labels[faces[:, 0]]))


# Faces per block when summing areas and volumes: bounds the temporaries.
AREA_BLOCK = 1 << 17


def _area_and_signed_volume(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    """Surface area and the signed volume (sum of tetrahedra from the origin)."""
    area = 0.0
    six_volume = 0.0
    for start in range(0, len(faces), AREA_BLOCK):
        f = faces[start : start + AREA_BLOCK]
        p0 = vertices[f[:, 0]]
        c = np.cross(vertices[f[:, 1]] - p0, vertices[f[:, 2]] - p0)
        area += 0.5 * float(np.sqrt(np.einsum("ij,ij->i", c, c)).sum())
        six_volume += float(np.einsum("ij,ij->", p0, c))
    return area, six_volume / 6.0


def _textures(geoms: list[Any]) -> tuple[list[dict[str, Any]], int, bool]:
    """Texture images, the number of distinct materials and whether UVs exist."""
    textures: list[dict[str, Any]] = []
    seen_images: set[int] = set()
    materials: set[int] = set()
    has_uv = False
    for geom in geoms:
        visual = geom.visual
        if getattr(visual, "kind", None) != "texture":
            continue
        uv = getattr(visual, "uv", None)
        has_uv = has_uv or (uv is not None and len(uv) > 0)
        material = getattr(visual, "material", None)
        if material is None:
            continue
        materials.add(id(material))
        for attr in ("image", "baseColorTexture", "normalTexture", "emissiveTexture",
                     "metallicRoughnessTexture", "occlusionTexture"):  # fmt: skip
            image = getattr(material, attr, None)
            if image is None or not hasattr(image, "size") or id(image) in seen_images:
                continue
            seen_images.add(id(image))
            name = image.info.get("file_path") if hasattr(image, "info") else None
            textures.append(
                {
                    "name": name or getattr(material, "name", None) or attr,
                    "width": int(image.size[0]),
                    "height": int(image.size[1]),
                    "format": (getattr(image, "format", None) or "raw").lower(),
                    "role": attr,
                }
            )
    return textures, len(materials), has_uv


def _bbox(points: np.ndarray) -> dict[str, Any]:
    finite = points
    if len(points) and not np.isfinite(points).all():  # a copy only when something is not
        finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) == 0:
        return {"bbox": None, "size": None}
    lo = finite.min(axis=0)
    hi = finite.max(axis=0)
    return {"bbox": {"min": lo.tolist(), "max": hi.tolist()}, "size": (hi - lo).tolist()}


def _metres(unit: str | None) -> float | None:
    return UNIT_METRES.get(unit) if unit else None


EdgeFacts = Callable[[], dict[str, Any]]


def mesh_stats(scene: Any, unit: str | None) -> dict[str, Any]:
    """Counts, size, area, volume and closedness of every mesh in a trimesh scene."""
    out, edges = mesh_stats_split(scene, unit)
    out.update(edges())
    return out


def mesh_stats_split(scene: Any, unit: str | None) -> tuple[dict[str, Any], EdgeFacts]:
    """The cheap statistics now, and a function for the edge facts to run later.

    The edge facts (watertight, manifold, components, and so the volume) sort
    every edge: about half the time and most of the memory of the statistics.
    The function holds only the merged face indices (int32), not the scene, so
    the caller can let the master go and run it once the simplifier, whose peak
    it would otherwise stack on, is done.
    """
    vertices, faces, geoms = _geometry_instances(scene)
    out: dict[str, Any] = {"vertices": len(vertices), "triangles": len(faces)}
    out.update(_bbox(vertices))
    factor = _metres(unit)
    out["unit"] = unit
    out["dimensions_m"] = [s * factor for s in out["size"]] if factor and out["size"] else None
    n_vertices = len(vertices)
    if len(faces):
        area, signed = _area_and_signed_volume(vertices, faces)
        merged = _merge_positions(vertices, faces)
        dtype = _index_dtype(n_vertices)
        # A copy of its own when the merge left the master's array as it was.
        merged = merged.astype(dtype, copy=merged is faces or merged.dtype != dtype)
    else:
        area, signed, merged = 0.0, 0.0, None
    out["surface_area"] = area
    out["surface_area_m2"] = area * factor**2 if factor else None
    textures, n_materials, has_uv = _textures(geoms)
    out["textures"] = textures
    out["materials"] = n_materials
    out["has_uv"] = has_uv
    out["has_vertex_colors"] = any(getattr(g.visual, "kind", None) == "vertex" for g in geoms)
    out["has_normals"] = any("vertex_normals" in g._cache.cache for g in geoms)
    out["meshes"] = len(geoms)
    del vertices, faces, geoms

    def edges() -> dict[str, Any]:
        nonlocal merged
        if merged is None:
            facts: dict[str, Any] = {"watertight": False, "manifold": True, "components": 0}
        else:
            facts = _edge_facts(merged, n_vertices)
            merged = None
        volume = abs(signed) if facts["watertight"] else None
        facts["volume"] = volume
        facts["volume_m3"] = volume * factor**3 if factor and volume is not None else None
        return facts

    return out, edges


def point_stats(
    points: PointSet,
    unit: str | None,
    crs: str | None,
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Count, size, colours, attributes and classes of a point cloud or splat.

    ``facts`` are what a streaming reader measured over every point (see
    :func:`spadok.core.pointstream.scan`); they win over the in-memory sample.
    """
    out: dict[str, Any] = {
        "points": int(points.count),
        "sampled": len(points.positions) < points.count,
    }
    if facts is not None:
        bounds = facts.get("bounds")
        out["points"] = int(facts["points"])
        out["sampled"] = bool(facts["sampled"])
        if bounds is None:
            out.update({"bbox": None, "size": None})
        else:
            lo, hi = np.asarray(bounds[0], np.float64), np.asarray(bounds[1], np.float64)
            out.update(
                {"bbox": {"min": lo.tolist(), "max": hi.tolist()}, "size": (hi - lo).tolist()}
            )
    else:
        out.update(_bbox(np.asarray(points.positions, dtype=np.float64)))
    factor = _metres(unit)
    out["unit"] = unit
    out["dimensions_m"] = [s * factor for s in out["size"]] if factor and out["size"] else None
    out["has_colors"] = bool(facts["has_colors"]) if facts else points.colors is not None
    out["attributes"] = sorted(points.attributes)
    if facts is not None:
        classes = facts.get("classes")
    else:
        found = points.attributes.get("classification")
        classes = None
        if found is not None and len(found) == len(points.positions):
            counts = np.bincount(np.asarray(found, np.uint8), minlength=256)
            classes = {str(c): int(counts[c]) for c in np.flatnonzero(counts)}
    if classes is not None:
        out["classes"] = classes
    out["crs"] = crs
    return out


def asset_stats(asset: Asset) -> dict[str, Any]:
    """Statistics of any asset, by kind, always JSON-serialisable."""
    out, edges = asset_stats_split(asset)
    if edges is not None:
        out.update(jsonable(edges()))
    return out


def asset_stats_split(asset: Asset) -> tuple[dict[str, Any], EdgeFacts | None]:
    """:func:`asset_stats` in two parts for meshes (see :func:`mesh_stats_split`)."""
    edges: EdgeFacts | None = None
    out: dict[str, Any] = {
        "format": asset.format,
        "kind": asset.kind,
        "stored_only": asset.stored_only,
        "warnings": list(asset.warnings),
    }
    if asset.scene is not None and asset.kind in ("mesh", "scene"):
        mesh, edges = mesh_stats_split(asset.scene, asset.unit)
        out.update(mesh)
        # Textures the loader could not decode (KTX2) are still part of the model.
        for tex in asset.extra.get("textures", []):
            if not tex.get("decoded", True):
                out["textures"].append(
                    {k: tex.get(k) for k in ("name", "width", "height", "format")}
                )
    elif asset.points is not None:
        out.update(point_stats(asset.points, asset.unit, asset.crs, asset.point_facts))
    else:
        out["unit"] = asset.unit
    out["extra"] = jsonable(asset.extra)
    return jsonable(out), edges


def jsonable(value: Any) -> Any:
    """Numpy scalars and arrays, tuples and paths as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)

"""PLY: meshes, point clouds and 3D Gaussian splats, ASCII and binary.

The header is parsed here first, so that the counts are checked against the
limits before anything is allocated and the file is routed to the reader that
handles it best: trimesh for ordinary meshes (fast, reads ``TextureFile``
textures), plyfile for point clouds, triangle strips and splats (it reads
odd layouts but leaves strips untriangulated, so we triangulate them).
Scanner-specific per-vertex values (confidence, intensity, ...) are kept.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import (
    Asset,
    FormatSpec,
    PointSet,
    Resolver,
    check_points_in_memory,
    check_vertex_limit,
)
from spadok.core.formats.mesh_common import TrimeshResolver, as_scene, check_finite, scene_asset
from spadok.core.limits import DEFAULT_LIMITS, Limits

# Spherical-harmonics degree-0 constant: colour = 0.5 + SH_C0 * f_dc.
SH_C0 = 0.28209479177387814
MAX_HEADER_BYTES = 1024 * 1024

# Vertex properties every reader understands; anything else is "extra" and kept.
STANDARD_VERTEX = {
    "x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "alpha",
    "r", "g", "b", "a", "diffuse_red", "diffuse_green", "diffuse_blue",
    "u", "v", "s", "t", "texture_u", "texture_v",
}  # fmt: skip
SPLAT_MARKERS = {"f_dc_0", "opacity", "scale_0", "rot_0"}


@dataclass
class PlyElement:
    name: str
    count: int
    properties: list[tuple[str, str, bool]] = field(default_factory=list)  # name, type, is_list

    def names(self) -> list[str]:
        return [p[0] for p in self.properties]


@dataclass
class PlyHeader:
    encoding: str  # "ascii", "binary_little_endian", "binary_big_endian"
    version: str
    elements: list[PlyElement]
    comments: list[str]
    obj_info: list[str]
    size: int  # bytes up to and including end_header's newline

    def element(self, name: str) -> PlyElement | None:
        for el in self.elements:
            if el.name == name:
                return el
        return None


def sniff_ply(head: bytes, path: Path) -> int:
    if re.match(rb"ply\r?\n", head[:5]) and b"format" in head[:200]:
        return 2
    return 0


def read_header(path: Path) -> PlyHeader:
    """Parse the header; a header without ``end_header`` is a truncated file."""
    with path.open("rb") as fh:
        raw = fh.read(MAX_HEADER_BYTES)
    end = re.search(rb"end_header[ \t]*\r?\n", raw)
    if end is None:
        raise SpadokError("format.corrupt", f"{path.name}: the PLY header has no end_header")
    lines = raw[: end.start()].decode("latin-1").splitlines()
    encoding, version = "", ""
    elements: list[PlyElement] = []
    comments: list[str] = []
    obj_info: list[str] = []
    for line in lines[1:]:
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key == "format" and len(parts) >= 2:
            encoding = parts[1]
            version = parts[2] if len(parts) > 2 else ""
        elif key == "comment":
            comments.append(line[len("comment") :].strip())
        elif key == "obj_info":
            obj_info.append(line[len("obj_info") :].strip())
        elif key == "element" and len(parts) >= 3:
            try:
                elements.append(PlyElement(parts[1], int(parts[2])))
            except ValueError as exc:
                raise SpadokError("format.corrupt", f"{path.name}: bad element line") from exc
        elif key == "property" and elements:
            if len(parts) >= 5 and parts[1] == "list":
                elements[-1].properties.append((parts[4], parts[3], True))
            elif len(parts) >= 3:
                elements[-1].properties.append((parts[2], parts[1], False))
    if encoding not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise SpadokError("format.corrupt", f"{path.name}: unknown PLY format {encoding!r}")
    return PlyHeader(encoding, version, elements, comments, obj_info, end.end())


def load_ply(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read a PLY as a mesh, a point cloud or a Gaussian splat."""
    header = read_header(path)
    vertex = header.element("vertex")
    if vertex is None or vertex.count == 0:
        raise SpadokError("geometry.empty", f"{path.name} has no vertices")
    check_vertex_limit(vertex.count, limits, "vertices")
    names = vertex.names()
    extra: dict[str, Any] = {
        "encoding": header.encoding,
        "elements": {el.name: el.count for el in header.elements},
        "vertex_properties": [n for n in names if n not in STANDARD_VERTEX],
    }
    if header.comments:
        extra["comments"] = header.comments[:20]
    if header.obj_info:
        extra["obj_info"] = header.obj_info[:20]
    _check_size(path, header)
    if SPLAT_MARKERS.issubset(names) or {"f_dc_0", "opacity"}.issubset(names):
        check_points_in_memory(vertex.count, limits, "a PLY splat")
        return _load_splat(path, header, extra)
    face = header.element("face")
    strips = header.element("tristrips")
    if strips is not None and strips.count > 0:
        return _load_strips(path, header, extra)
    if face is None or face.count == 0:
        check_points_in_memory(vertex.count, limits, "a PLY point cloud")
        return _load_points(path, header, extra)
    return _load_mesh(path, resolver, header, extra)


_SIZES = {
    "char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2,
    "uint16": 2, "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4,
    "double": 8, "float64": 8,
}  # fmt: skip


def _check_size(path: Path, header: PlyHeader) -> None:
    """A PLY shorter than its header promises is truncated: say so before reading.

    The readers allocate what the header counts (plyfile makes one array of
    ``count`` rows up front), so a four-billion count in a small file must
    stop here. In ASCII every value takes at least two bytes (a digit and a
    separator), and a list at least its length.
    """
    have = path.stat().st_size - header.size
    if header.encoding == "ascii":
        need_ascii = sum(el.count * len(el.properties) * 2 for el in header.elements) - 1
        if have < need_ascii:
            raise SpadokError(
                "format.corrupt",
                f"{path.name} is truncated ({have:,} bytes of text, the header counts "
                f"at least {need_ascii:,})",
            )
        return
    need = 0
    for el in header.elements:
        if any(is_list for _n, _t, is_list in el.properties):
            # Lists have variable length: the lower bound counts one length byte each.
            need += el.count * sum(
                _SIZES.get(t, 4) if not is_list else 1 for _n, t, is_list in el.properties
            )
            continue
        need += el.count * sum(_SIZES.get(t, 4) for _n, t, _l in el.properties)
    if have < need:
        raise SpadokError(
            "format.corrupt", f"{path.name} is truncated ({have:,} of at least {need:,} data bytes)"
        )


def _plydata(path: Path) -> Any:
    import plyfile

    try:
        return plyfile.PlyData.read(str(path))
    except (plyfile.PlyParseError, ValueError, EOFError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc


def _positions(vertex: Any) -> np.ndarray:
    return np.column_stack([vertex["x"], vertex["y"], vertex["z"]]).astype(np.float64)


def _colors(vertex: Any, names: list[str]) -> np.ndarray | None:
    for keys in (
        ("red", "green", "blue"),
        ("r", "g", "b"),
        ("diffuse_red", "diffuse_green", "diffuse_blue"),
    ):
        if all(k in names for k in keys):
            cols = np.column_stack([np.asarray(vertex[k]) for k in keys])
            if cols.dtype.kind == "f":
                scale = 255.0 if cols.size and np.nanmax(cols) <= 1.0 else 1.0
                cols = np.clip(np.nan_to_num(cols) * scale, 0, 255)
            return cols.astype(np.uint8)
    return None


def _load_points(path: Path, header: PlyHeader, extra: dict[str, Any]) -> Asset:
    data = _plydata(path)
    vertex = data["vertex"].data
    names = list(vertex.dtype.names or ())
    positions = _positions(vertex)
    attributes = {
        n: np.asarray(vertex[n]) for n in names if n not in ("x", "y", "z", "red", "green", "blue")
    }
    if {"nx", "ny", "nz"}.issubset(names):
        attributes["normals"] = np.column_stack([vertex["nx"], vertex["ny"], vertex["nz"]])
        for n in ("nx", "ny", "nz"):
            attributes.pop(n)
    points = PointSet(positions=positions, colors=_colors(vertex, names), attributes=attributes)
    if not np.isfinite(positions).all():
        raise SpadokError("geometry.invalid", f"{path.name} has NaN or infinite points")
    return Asset(
        kind="pointcloud",
        format="ply",
        mime="application/x-ply",
        primary=path,
        points=points,
        extra=extra,
    )


def _load_splat(path: Path, header: PlyHeader, extra: dict[str, Any]) -> Asset:
    """A 3D Gaussian splat: keep centres, base colours and every splat attribute."""
    data = _plydata(path)
    vertex = data["vertex"].data
    names = list(vertex.dtype.names or ())
    positions = _positions(vertex)
    colors = None
    if {"f_dc_0", "f_dc_1", "f_dc_2"}.issubset(names):
        dc = np.column_stack([vertex["f_dc_0"], vertex["f_dc_1"], vertex["f_dc_2"]])
        colors = (np.clip(0.5 + SH_C0 * dc, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    attributes = {n: vertex[n] for n in names if n not in ("x", "y", "z")}
    extra["splat_count"] = len(positions)
    extra["sh_rest"] = sum(1 for n in names if n.startswith("f_rest_"))
    return Asset(
        kind="splat",
        format="ply",
        mime="application/x-ply",
        primary=path,
        points=PointSet(positions=positions, colors=colors, attributes=attributes),
        extra=extra,
    )


def triangulate_strips(strips: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Triangles from triangle strips (``-1`` restarts a strip), winding kept."""
    tris: list[np.ndarray] = []
    for strip in strips:
        strip = np.asarray(strip, dtype=np.int64)
        cuts = np.flatnonzero(strip < 0)
        for run in np.split(strip, cuts):
            run = run[run >= 0]
            if len(run) < 3:
                continue
            a, b, c = run[:-2], run[1:-1], run[2:]
            t = np.column_stack([a, b, c])
            t[1::2] = t[1::2][:, [1, 0, 2]]  # every other triangle flips
            tris.append(t)
    if not tris:
        return np.zeros((0, 3), dtype=np.int64)
    out = np.concatenate(tris)
    degenerate = (out[:, 0] == out[:, 1]) | (out[:, 1] == out[:, 2]) | (out[:, 0] == out[:, 2])
    return out[~degenerate]


def _load_strips(path: Path, header: PlyHeader, extra: dict[str, Any]) -> Asset:
    data = _plydata(path)
    vertex = data["vertex"].data
    names = list(vertex.dtype.names or ())
    positions = _positions(vertex)
    el = data["tristrips"]
    prop = el.properties[0].name
    faces = triangulate_strips(list(el.data[prop]))
    if "face" in data and len(data["face"].data):
        faces = np.concatenate([faces, _polygon_faces(data["face"])])
    if faces.size and (faces.max() >= len(positions)):
        raise SpadokError("format.corrupt", f"{path.name}: strip index beyond the vertices")
    colors = _colors(vertex, names)
    mesh = trimesh.Trimesh(
        vertices=positions, faces=faces, vertex_colors=colors, process=False, validate=False
    )
    _keep_vertex_attributes(mesh, vertex, names)
    extra["triangulated_strips"] = True
    scene = trimesh.Scene(mesh)
    check_finite(scene, path)
    return scene_asset(scene, fmt="ply", mime="application/x-ply", path=path, extra=extra)


def _polygon_faces(face_el: Any) -> np.ndarray:
    """Fan-triangulate polygon faces of any size."""
    prop = next(
        (p.name for p in face_el.properties if p.name in ("vertex_indices", "vertex_index")),
        face_el.properties[0].name,
    )
    tris = []
    for poly in face_el.data[prop]:
        poly = np.asarray(poly, dtype=np.int64)
        for k in range(1, len(poly) - 1):
            tris.append((poly[0], poly[k], poly[k + 1]))
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def _keep_vertex_attributes(mesh: trimesh.Trimesh, vertex: Any, names: list[str]) -> None:
    for n in names:
        if n not in STANDARD_VERTEX:
            mesh.vertex_attributes[n] = np.asarray(vertex[n])


def _load_mesh(path: Path, resolver: Resolver, header: PlyHeader, extra: dict[str, Any]) -> Asset:
    tresolver = TrimeshResolver(resolver)
    with path.open("rb") as fh:
        loaded = trimesh.load(
            io.BytesIO(fh.read()),
            file_type="ply",
            resolver=tresolver,  # type: ignore[arg-type]  # duck-typed resolver
            process=False,
        )
    scene = as_scene(loaded)
    for geom in scene.geometry.values():
        raw = geom.metadata.pop("_ply_raw", None) or {}
        columns = raw.get("vertex", {}).get("data", {})
        if isinstance(columns, dict):
            for name, values in columns.items():
                if name not in STANDARD_VERTEX and len(values) == len(geom.vertices):
                    geom.vertex_attributes[name] = np.asarray(values).reshape(-1)
    warnings = [
        f"texture {n!r} is missing; the model is kept without it" for n in tresolver.missing
    ]
    texture = _texture_name(header)
    if texture and not tresolver.missing and resolver.find(texture) is None:
        warnings.append(f"texture {texture!r} is missing; the model is kept without it")
    if texture:
        extra["texture_file"] = texture
    check_finite(scene, path)
    return scene_asset(
        scene, fmt="ply", mime="application/x-ply", path=path, extra=extra, warnings=warnings
    )


def _texture_name(header: PlyHeader) -> str | None:
    for comment in header.comments:
        if comment.lower().startswith("texturefile"):
            return comment[len("texturefile") :].strip() or None
    return None


def save_ply(asset: Asset, path: Path) -> None:
    """Write a binary PLY: the mesh via trimesh, or points with their attributes."""
    if asset.scene is not None:
        geoms = list(asset.scene.geometry.values())
        mesh = geoms[0] if len(geoms) == 1 else asset.scene.to_mesh()
        path.write_bytes(mesh.export(file_type="ply", encoding="binary"))
        return
    if asset.points is None:
        raise SpadokError("geometry.empty", "nothing to write")
    import plyfile

    pts = asset.points
    fields: list[tuple[str, Any]] = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    columns: dict[str, np.ndarray] = {
        "x": pts.positions[:, 0],
        "y": pts.positions[:, 1],
        "z": pts.positions[:, 2],
    }
    if pts.colors is not None:
        for i, n in enumerate(("red", "green", "blue")):
            fields.append((n, "u1"))
            columns[n] = pts.colors[:, i]
    for name, values in pts.attributes.items():
        values = np.asarray(values)
        if values.ndim == 1:
            fields.append((name, values.dtype.str))
            columns[name] = values
        elif values.ndim == 2 and name == "normals":
            for i, n in enumerate(("nx", "ny", "nz")):
                fields.append((n, values.dtype.str))
                columns[n] = values[:, i]
    arr = np.empty(len(pts.positions), dtype=fields)
    for name, values in columns.items():
        arr[name] = values
    plyfile.PlyData([plyfile.PlyElement.describe(arr, "vertex")]).write(str(path))


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="ply",
        family="ply",
        mime="application/x-ply",
        extensions=(".ply",),
        sniff=sniff_ply,
        load=load_ply,
        save=save_ply,
        description="Polygon File Format (meshes, point clouds, Gaussian splats)",
    ),
]

"""VTK XML PolyData (.vtp), read and written without VTK.

VTK itself is a very large dependency for one format. The XML layout is
small: arrays are ASCII, inline base64 (optionally zlib/lzma-compressed in
blocks behind a UInt32/UInt64 header) or raw bytes appended after the XML.
Polygons and triangle strips become triangles, vertex cells become points,
and point data (normals, colours, scalars) is kept on the mesh.
"""

from __future__ import annotations

import base64
import lzma
import re
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import (
    Asset,
    FormatSpec,
    PointSet,
    Resolver,
    check_vertex_limit,
)
from spadok.core.formats.mesh_common import check_finite, scene_asset
from spadok.core.formats.ply import triangulate_strips
from spadok.core.limits import DEFAULT_LIMITS, Limits

_TYPES = {
    "Int8": "i1", "UInt8": "u1", "Int16": "i2", "UInt16": "u2", "Int32": "i4",
    "UInt32": "u4", "Int64": "i8", "UInt64": "u8", "Float32": "f4", "Float64": "f8",
    "Char": "i1", "UChar": "u1", "Short": "i2", "UShort": "u2", "Int": "i4",
    "UInt": "u4", "Long": "i8", "ULong": "u8", "Float": "f4", "Double": "f8",
}  # fmt: skip
_COLOR_NAMES = {"rgb", "rgba", "colors", "colours", "color", "colour", "scalars_rgb"}


def sniff_vtp(head: bytes, path: Path) -> int:
    if b"<VTKFile" in head and re.search(rb'type\s*=\s*"PolyData"', head):
        return 2
    return 0


class _Context:
    """What every array decoder needs: byte order, header size, compressor, appended data."""

    def __init__(self, root: ET.Element, appended: bytes | None, path: Path) -> None:
        self.path = path
        self.order = ">" if root.get("byte_order", "LittleEndian") == "BigEndian" else "<"
        self.header = np.dtype(self.order + ("u8" if root.get("header_type") == "UInt64" else "u4"))
        comp = root.get("compressor", "")
        if comp in ("", "vtkZLibDataCompressor", "vtkLZMADataCompressor"):
            self.compressor = comp
        else:
            raise SpadokError("format.compression_unsupported", f"{path.name}: {comp}")
        self.appended = appended
        self.appended_encoding = "raw"

    def decompress(self, blob: bytes) -> bytes:
        if self.compressor == "vtkZLibDataCompressor":
            return zlib.decompress(blob)
        return lzma.decompress(blob)


def _b64(text: str | bytes) -> bytes:
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.b64decode(re.sub(rb"\s+", b"", text))


def _decode_binary(ctx: _Context, text: bytes) -> bytes:
    """Inline base64: the header and the data are usually encoded separately."""
    text = re.sub(rb"\s+", b"", text)
    hs = ctx.header.itemsize
    if ctx.compressor:
        first = _b64(text[: 4 * -(-hs * 3 // 3)])
        nblocks = int(np.frombuffer(first[:hs], ctx.header)[0])
        hlen = hs * (3 + nblocks)
        hchars = 4 * -(-hlen // 3)
        header = np.frombuffer(_b64(text[:hchars])[:hlen], ctx.header)
        body = _b64(text[hchars:])
        return _blocks(ctx, header, body)
    hchars = 4 * -(-hs // 3)
    nbytes = int(np.frombuffer(_b64(text[:hchars])[:hs], ctx.header)[0])
    body = _b64(text[hchars:])
    if len(body) >= nbytes:
        return body[:nbytes]
    joint = _b64(text)  # some writers encode header and data as one stream
    return joint[hs : hs + nbytes]


def _blocks(ctx: _Context, header: np.ndarray, body: bytes) -> bytes:
    nblocks = int(header[0])
    sizes = header[3 : 3 + nblocks].astype(np.int64)
    out = []
    pos = 0
    for size in sizes:
        out.append(ctx.decompress(body[pos : pos + int(size)]))
        pos += int(size)
    return b"".join(out)


def _decode_appended(ctx: _Context, offset: int) -> bytes:
    if ctx.appended is None:
        raise SpadokError("format.corrupt", f"{ctx.path.name}: appended data is missing")
    hs = ctx.header.itemsize
    if ctx.appended_encoding == "base64":
        raise SpadokError("format.unsupported", f"{ctx.path.name}: base64 appended data")
    data = ctx.appended
    if ctx.compressor:
        nblocks = int(np.frombuffer(data, ctx.header, 1, offset)[0])
        header = np.frombuffer(data, ctx.header, 3 + nblocks, offset)
        start = offset + hs * (3 + nblocks)
        return _blocks(ctx, header, data[start : start + int(header[3:].sum())])
    nbytes = int(np.frombuffer(data, ctx.header, 1, offset)[0])
    blob = data[offset + hs : offset + hs + nbytes]
    if len(blob) != nbytes:
        raise SpadokError("format.corrupt", f"{ctx.path.name}: appended data is truncated")
    return blob


def _array(ctx: _Context, el: ET.Element) -> np.ndarray:
    """One DataArray as an (n,) or (n, components) array."""
    vtype = el.get("type", "Float32")
    if vtype not in _TYPES:
        raise SpadokError("format.unsupported", f"{ctx.path.name}: array type {vtype}")
    dtype = np.dtype(ctx.order + _TYPES[vtype])
    ncomp = int(el.get("NumberOfComponents", "1"))
    fmt = el.get("format", "ascii")
    if fmt == "ascii":
        arr = np.array((el.text or "").split(), dtype=dtype.newbyteorder("="))
    elif fmt == "binary":
        raw = _decode_binary(ctx, (el.text or "").encode("ascii"))
        arr = np.frombuffer(raw[: len(raw) - len(raw) % dtype.itemsize], dtype)
    elif fmt == "appended":
        raw = _decode_appended(ctx, int(el.get("offset", "0")))
        arr = np.frombuffer(raw[: len(raw) - len(raw) % dtype.itemsize], dtype)
    else:
        raise SpadokError("format.unsupported", f"{ctx.path.name}: array format {fmt}")
    arr = arr.astype(dtype.newbyteorder("="), copy=False)
    if ncomp > 1:
        arr = arr[: len(arr) - len(arr) % ncomp].reshape(-1, ncomp)
    return arr


def _cells(ctx: _Context, section: ET.Element | None, count: int) -> list[np.ndarray]:
    """Cells of a Verts/Polys/Strips section as lists of index arrays (old and new layouts)."""
    if section is None or count == 0:
        return []
    arrays = {a.get("Name"): a for a in section.findall("DataArray")}
    if "connectivity" not in arrays or "offsets" not in arrays:
        raise SpadokError("format.corrupt", f"{ctx.path.name}: cells without connectivity")
    conn = _array(ctx, arrays["connectivity"]).astype(np.int64).reshape(-1)
    offsets = _array(ctx, arrays["offsets"]).astype(np.int64).reshape(-1)
    if not (len(offsets) == count + 1 and offsets[0] == 0):
        offsets = np.concatenate([[0], offsets])  # VTK < 2.2 stores only the ends
    if offsets[-1] > len(conn) or np.any(np.diff(offsets) < 0):
        raise SpadokError("format.corrupt", f"{ctx.path.name}: cell offsets are inconsistent")
    return [conn, offsets]  # type: ignore[list-item]


def _triangles_from_polys(conn: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    sizes = np.diff(offsets)
    if len(sizes) and np.all(sizes == 3):
        return conn[: offsets[-1]].reshape(-1, 3)
    tris = []
    for start, size in zip(offsets[:-1], sizes, strict=True):
        poly = conn[start : start + size]
        k = np.arange(1, size - 1)
        if len(k):
            tris.append(np.column_stack([np.full(len(k), poly[0]), poly[k], poly[k + 1]]))
    return np.concatenate(tris) if tris else np.zeros((0, 3), dtype=np.int64)


def _split_appended(data: bytes, path: Path) -> tuple[bytes, bytes | None, str]:
    """Separate the XML from raw appended bytes (which are not valid XML)."""
    m = re.search(rb"<AppendedData\b([^>]*)>", data)
    if m is None:
        return data, None, "raw"
    enc = re.search(rb'encoding\s*=\s*"(\w+)"', m.group(1))
    encoding = enc.group(1).decode() if enc else "raw"
    underscore = data.find(b"_", m.end())
    if underscore < 0:
        raise SpadokError("format.corrupt", f"{path.name}: appended data has no start mark")
    xml = data[: m.start()] + b"</VTKFile>"
    appended = data[underscore + 1 :]
    if encoding == "base64":
        end = appended.find(b"</AppendedData>")
        appended = appended[:end].strip()
    return xml, appended, encoding


def load_vtp(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read a .vtp: triangles from Polys and Strips, points from Verts, point data kept."""
    data = path.read_bytes()
    xml, appended, encoding = _split_appended(data, path)
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise SpadokError("format.corrupt", f"{path.name}: XML: {exc}") from exc
    if root.get("type") != "PolyData":
        raise SpadokError("format.unsupported", f"{path.name}: VTK {root.get('type')} data")
    ctx = _Context(root, appended, path)
    ctx.appended_encoding = encoding
    if encoding == "base64" and appended is not None:
        ctx.appended = appended  # decoded per array below
    pieces = root.findall("./PolyData/Piece")
    if not pieces:
        raise SpadokError("geometry.empty", f"{path.name} has no pieces")
    total = sum(int(p.get("NumberOfPoints", "0")) for p in pieces)
    check_vertex_limit(total, limits)
    if total == 0:
        raise SpadokError("geometry.empty", f"{path.name} has no points")

    all_pos, all_tris, all_verts = [], [], []
    point_data: dict[str, list[np.ndarray]] = {}
    base = 0
    for piece in pieces:
        n = int(piece.get("NumberOfPoints", "0"))
        if n == 0:
            continue
        points_el = piece.find("./Points/DataArray")
        if points_el is None:
            raise SpadokError("format.corrupt", f"{path.name}: a piece has no Points")
        pos = _array(ctx, points_el).astype(np.float64).reshape(-1, 3)
        if len(pos) != n:
            raise SpadokError("format.corrupt", f"{path.name}: {len(pos)} points, expected {n}")
        tris = []
        polys = _cells(ctx, piece.find("Polys"), int(piece.get("NumberOfPolys", "0")))
        if polys:
            tris.append(_triangles_from_polys(*polys))
        strips = _cells(ctx, piece.find("Strips"), int(piece.get("NumberOfStrips", "0")))
        if strips:
            conn, offs = strips
            tris.append(triangulate_strips(np.split(conn[: offs[-1]], offs[1:-1])))
        verts = _cells(ctx, piece.find("Verts"), int(piece.get("NumberOfVerts", "0")))
        if verts:
            all_verts.append(verts[0][: verts[1][-1]] + base)
        if tris:
            t = np.concatenate(tris)
            if t.size and (t.max() >= n or t.min() < 0):
                raise SpadokError("format.corrupt", f"{path.name}: a cell index is out of range")
            all_tris.append(t + base)
        pd = piece.find("PointData")
        for el in pd.findall("DataArray") if pd is not None else []:
            name = el.get("Name") or "array"
            arr = _array(ctx, el)
            if len(arr) == n:
                point_data.setdefault(name, []).append(arr)
        all_pos.append(pos)
        base += n

    positions = np.concatenate(all_pos)
    arrays = {k: np.concatenate(v) for k, v in point_data.items() if len(v) == len(all_pos)}
    extra: dict[str, Any] = {
        "vtk_version": root.get("version"),
        "compressor": root.get("compressor") or None,
        "point_arrays": sorted(arrays),
        "pieces": len(pieces),
    }
    if all_tris:
        faces = np.concatenate(all_tris)
        mesh = trimesh.Trimesh(vertices=positions, faces=faces, process=False, validate=False)
        _apply_point_data(mesh, arrays)
        scene = trimesh.Scene(mesh)
        check_finite(scene, path)
        return scene_asset(
            scene, fmt="vtp", mime="application/vnd.vtk.vtp+xml", path=path, extra=extra
        )
    used = np.unique(np.concatenate(all_verts)) if all_verts else np.arange(len(positions))
    colors, attrs = _point_attributes(arrays)
    points = PointSet(
        positions=positions[used],
        colors=colors[used] if colors is not None else None,
        attributes={k: v[used] for k, v in attrs.items()},
    )
    if not np.isfinite(points.positions).all():
        raise SpadokError("geometry.invalid", f"{path.name} has NaN or infinite points")
    return Asset(
        kind="pointcloud",
        format="vtp",
        mime="application/vnd.vtk.vtp+xml",
        primary=path,
        points=points,
        extra=extra,
    )


def _is_color(name: str, arr: np.ndarray) -> bool:
    return (
        arr.ndim == 2
        and arr.shape[1] in (3, 4)
        and (arr.dtype == np.uint8 or name.lower() in _COLOR_NAMES)
    )


def _as_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "f":
        scale = 255.0 if arr.size and np.nanmax(arr) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(arr) * scale, 0, 255).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _point_attributes(
    arrays: dict[str, np.ndarray],
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    colors = None
    attrs = {}
    for name, arr in arrays.items():
        if colors is None and _is_color(name, arr):
            colors = _as_uint8(arr)
        else:
            attrs["normals" if name.lower() == "normals" else name] = arr
    return colors, attrs


def _apply_point_data(mesh: trimesh.Trimesh, arrays: dict[str, np.ndarray]) -> None:
    colors, attrs = _point_attributes(arrays)
    if colors is not None:
        mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colors)
    for name, arr in attrs.items():
        if name == "normals" and arr.ndim == 2 and arr.shape[1] == 3:
            mesh.vertex_normals = arr.astype(np.float64)  # type: ignore[method-assign]
        else:
            mesh.vertex_attributes[name] = arr


# --- writing ---------------------------------------------------------------------------------


def write_vtp(
    mesh: trimesh.Trimesh,
    path: Path,
    *,
    mode: str = "binary",
    compress: bool = True,
    header_type: str = "UInt64",
) -> None:
    """Write a mesh as .vtp; ``mode`` is "ascii", "binary" (inline) or "appended" (raw)."""
    hdt = np.dtype("<u8" if header_type == "UInt64" else "<u4")
    offsets = np.arange(1, len(mesh.faces) + 1, dtype=np.int64) * 3
    arrays: list[tuple[str, str, np.ndarray, int]] = [
        ("Points", "Float32", np.asarray(mesh.vertices, dtype="<f4"), 3),
        ("connectivity", "Int64", np.asarray(mesh.faces, dtype="<i8").reshape(-1), 1),
        ("offsets", "Int64", offsets, 1),
    ]
    normals = None
    if "vertex_normals" in mesh._cache.cache:
        normals = np.asarray(mesh.vertex_normals, dtype="<f4")
    visual = mesh.visual
    colors = None
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        colors = visual.vertex_colors[:, :3]
    appended = bytearray()

    def encode(arr: np.ndarray) -> tuple[str, str]:
        raw = arr.tobytes()
        if compress:
            comp = zlib.compress(raw)
            head = np.array([1, len(raw), len(raw), len(comp)], dtype=hdt).tobytes()
            payload = comp
        else:
            head = np.array([len(raw)], dtype=hdt).tobytes()
            payload = raw
        if mode == "appended":
            offset = len(appended)
            appended.extend(head + payload)
            return "appended", f' offset="{offset}"'
        text = base64.b64encode(head).decode() + base64.b64encode(payload).decode()
        return "binary", text

    def data_array(name: str, vtype: str, arr: np.ndarray, ncomp: int) -> str:
        attrs = f'type="{vtype}" Name="{name}" NumberOfComponents="{ncomp}"'
        if mode == "ascii":
            body = " ".join(repr(x) for x in arr.reshape(-1).tolist())
            return f'<DataArray {attrs} format="ascii">{body}</DataArray>'
        fmt, rest = encode(arr)
        if fmt == "appended":
            return f'<DataArray {attrs} format="appended"{rest}/>'
        return f'<DataArray {attrs} format="binary">{rest}</DataArray>'

    point_data = ""
    if normals is not None:
        point_data += data_array("Normals", "Float32", normals, 3)
    if colors is not None:
        point_data += data_array("RGB", "UInt8", np.asarray(colors, dtype=np.uint8), 3)
    for name, arr in mesh.vertex_attributes.items():
        a = np.asarray(arr)
        if a.ndim == 1 and a.dtype.kind in "fiu" and len(a) == len(mesh.vertices):
            vtype = {"f": "Float64", "i": "Int64", "u": "UInt64"}[a.dtype.kind]
            point_data += data_array(name, vtype, a.astype(_TYPES[vtype]), 1)
    comp_attr = ' compressor="vtkZLibDataCompressor"' if compress and mode != "ascii" else ""
    xml = (
        f'<?xml version="1.0"?>\n<VTKFile type="PolyData" version="1.0" '
        f'byte_order="LittleEndian" header_type="{header_type}"{comp_attr}>\n<PolyData>\n'
        f'<Piece NumberOfPoints="{len(mesh.vertices)}" NumberOfVerts="0" NumberOfLines="0" '
        f'NumberOfStrips="0" NumberOfPolys="{len(mesh.faces)}">\n'
        f"<PointData>{point_data}</PointData>\n"
        f"<Points>{data_array(*arrays[0])}</Points>\n"
        f"<Polys>{data_array(*arrays[1])}{data_array(*arrays[2])}</Polys>\n"
        "</Piece>\n</PolyData>\n"
    )
    out = xml.encode("utf-8")
    if mode == "appended":
        out += b'<AppendedData encoding="raw">\n_' + bytes(appended) + b"\n</AppendedData>\n"
    out += b"</VTKFile>\n"
    path.write_bytes(out)


def save_vtp(asset: Asset, path: Path) -> None:
    """Write the scene as one zlib-compressed binary .vtp."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    geoms = list(asset.scene.geometry.values())
    mesh = geoms[0] if len(geoms) == 1 else asset.scene.to_mesh()
    write_vtp(mesh, path)


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="vtp",
        family="vtp",
        mime="application/vnd.vtk.vtp+xml",
        extensions=(".vtp",),
        sniff=sniff_vtp,
        load=load_vtp,
        save=save_vtp,
        description="VTK XML PolyData",
    ),
]

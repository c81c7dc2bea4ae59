"""STL, ASCII and binary, read through trimesh.

Binary STL has no signature, and many binary files start with "solid" in
their 80-byte header; the only reliable test is the size, 84 + 50 n bytes for
n triangles, which is checked before anything is parsed.
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, Resolver, check_vertex_limit, is_text
from spadok.core.formats.mesh_common import as_scene, check_finite, scene_asset
from spadok.core.limits import DEFAULT_LIMITS, Limits


def binary_triangle_count(head: bytes, size: int) -> int | None:
    """The triangle count when the file size matches a binary STL exactly."""
    if len(head) < 84:
        return None
    (n,) = struct.unpack_from("<I", head, 80)
    return n if size == 84 + 50 * n else None


def sniff_stl(head: bytes, path: Path) -> int:
    size = path.stat().st_size
    if binary_triangle_count(head, size) is not None:
        return 2
    if is_text(head) and re.match(rb"\s*solid\b", head[:100], re.I):
        return 2 if re.search(rb"\bfacet\b", head, re.I) else 1
    return 0


def load_stl(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read one STL; several ``solid`` blocks become one mesh each."""
    size = path.stat().st_size
    data = path.read_bytes()
    n = binary_triangle_count(data[:84], size)
    if n is not None:
        check_vertex_limit(3 * n, limits)
        if n == 0:
            raise SpadokError("geometry.empty", f"{path.name} has no triangles")
        extra: dict[str, Any] = {
            "encoding": "binary",
            "header": data[:80].rstrip(b"\0 ").decode("latin-1"),
        }
        loaded = trimesh.Trimesh(
            **trimesh.exchange.stl.load_stl_binary(io.BytesIO(data)), process=False
        )
        scene = as_scene(loaded)
    else:
        if not is_text(data[:4096]):
            raise SpadokError(
                "format.corrupt", f"{path.name}: binary STL whose size does not match its count"
            )
        if not re.search(rb"\bfacet\b", data, re.I):
            raise SpadokError("geometry.empty", f"{path.name} has no facets")
        check_vertex_limit(len(re.findall(rb"\bvertex\b", data, re.I)), limits)
        extra = {"encoding": "ascii", "solids": len(re.findall(rb"^\s*solid\b", data, re.I | re.M))}
        scene = _load_ascii(data, path)
    check_finite(scene, path)
    return scene_asset(scene, fmt="stl", mime="model/stl", path=path, extra=extra)


def _load_ascii(data: bytes, path: Path) -> trimesh.Scene:
    """Parse ASCII STL, one mesh per solid, tolerating odd case and spacing."""
    scene = trimesh.Scene()
    blocks = re.split(rb"^\s*solid\b", data, flags=re.I | re.M)[1:] or [data]
    for k, block in enumerate(blocks):
        first = block.split(b"\n", 1)[0].strip().decode("utf-8", errors="replace")
        nums = re.findall(rb"^\s*vertex\s+(\S+)\s+(\S+)\s+(\S+)", block, re.I | re.M)
        if not nums:
            continue
        try:
            verts = np.array(nums, dtype=np.float64)
        except ValueError as exc:
            raise SpadokError("format.corrupt", f"{path.name}: bad vertex value") from exc
        if len(verts) % 3:
            raise SpadokError("format.corrupt", f"{path.name}: a facet does not have 3 vertices")
        faces = np.arange(len(verts)).reshape(-1, 3)
        mesh = trimesh.Trimesh(vertices=verts, faces=faces, process=False)
        mesh.merge_vertices()
        scene.add_geometry(mesh, geom_name=first or f"solid{k}")
    if not scene.geometry:
        raise SpadokError("geometry.empty", f"{path.name} has no facets")
    return scene


def save_stl(asset: Asset, path: Path) -> None:
    """Write a binary STL of the whole scene (STL holds one mesh, no colours)."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    path.write_bytes(asset.scene.to_mesh().export(file_type="stl"))


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="stl",
        family="stl",
        mime="model/stl",
        extensions=(".stl",),
        sniff=sniff_stl,
        load=load_stl,
        save=save_stl,
        description="Stereolithography (ASCII and binary)",
    ),
]

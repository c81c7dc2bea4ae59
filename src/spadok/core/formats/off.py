"""Object File Format (OFF, COFF, NOFF, STOFF, ...), ASCII.

Parsed here rather than by trimesh, to accept what real exporters write:
comments anywhere, counts on the header line, blank lines, per-vertex
normals and colours, per-face colours, polygons.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, Resolver, check_vertex_limit, is_text
from spadok.core.formats.mesh_common import check_finite, scene_asset
from spadok.core.limits import DEFAULT_LIMITS, Limits

# Some exporters glue the counts to the keyword ("OFF8 6 12").
_HEADER = re.compile(r"^(ST)?(C)?(N)?(4)?(n)?OFF(?=$|[\d-])")


def sniff_off(head: bytes, path: Path) -> int:
    if not is_text(head):
        return 0
    for line in head.decode("utf-8", errors="ignore").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            word = line.split()[0]
            return 2 if _HEADER.match(word) else 0
    return 0


def load_off(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read an ASCII OFF file into one mesh (or points when it has no faces)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = [ln.split("#", 1)[0].split() for ln in text.splitlines()]
    rows = [ln for ln in lines if ln]
    if not rows:
        raise SpadokError("geometry.empty", path.name)
    m = _HEADER.match(rows[0][0])
    if m is None:
        raise SpadokError("format.corrupt", f"{path.name}: no OFF header")
    _st, color, normal, four, ndim = m.groups()
    glued = rows[0][0][m.end() :]
    if glued:
        rows[0] = [rows[0][0][: m.end()], glued, *rows[0][1:]]
    if four or ndim:
        raise SpadokError("format.unsupported", f"{path.name}: {rows[0][0]} (not 3D) OFF")
    if len(rows[0]) > 1 and rows[0][1].upper() == "BINARY":
        raise SpadokError("format.unsupported", f"{path.name}: binary OFF")
    rest = rows[0][1:]
    body = rows[1:]
    if len(rest) < 2:
        rest, body = body[0], body[1:]
    try:
        nv, nf = int(rest[0]), int(rest[1])
    except (ValueError, IndexError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: bad counts line") from exc
    check_vertex_limit(nv, limits)
    if nv == 0:
        raise SpadokError("geometry.empty", f"{path.name} has no vertices")
    if len(body) < nv + nf:
        raise SpadokError("format.corrupt", f"{path.name}: fewer lines than the counts promise")
    try:
        vrows = body[:nv]
        vertices = np.array([r[:3] for r in vrows], dtype=np.float64)
        col = 3 + (3 if normal else 0)
        vertex_colors = None
        if color:
            vc = [r[col : col + 4] for r in vrows]
            if all(len(c) >= 3 for c in vc):
                width = min(len(c) for c in vc)
                arr = np.array([c[:width] for c in vc], dtype=np.float64)
                vertex_colors = _to_uint8(arr)
        faces: list[tuple[int, int, int]] = []
        face_colors: list[np.ndarray] = []
        for r in body[nv : nv + nf]:
            k = int(r[0])
            idx = [int(x) for x in r[1 : 1 + k]]
            extra_vals = r[1 + k :]
            for j in range(1, k - 1):
                faces.append((idx[0], idx[j], idx[j + 1]))
                if len(extra_vals) >= 3:
                    face_colors.append(np.array(extra_vals[:4], dtype=np.float64))
    except (ValueError, IndexError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
    f = np.array(faces, dtype=np.int64).reshape(-1, 3)
    if f.size and (f.max() >= nv or f.min() < 0):
        raise SpadokError("format.corrupt", f"{path.name}: a face index is out of range")
    kwargs: dict = {}
    if vertex_colors is not None:
        kwargs["vertex_colors"] = vertex_colors
    elif len(face_colors) == len(f) and len(f) and len({len(c) for c in face_colors}) == 1:
        kwargs["face_colors"] = _to_uint8(np.array(face_colors))
    if len(f) == 0:
        geom: trimesh.Trimesh | trimesh.PointCloud = trimesh.PointCloud(vertices)
    else:
        geom = trimesh.Trimesh(vertices=vertices, faces=f, process=False, **kwargs)
    scene = trimesh.Scene(geom)
    check_finite(scene, path)
    return scene_asset(
        scene,
        fmt="off",
        mime="application/x-off",
        path=path,
        extra={"variant": rows[0][0], "vertices": nv, "faces": nf},
    )


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """OFF colours are 0-1 floats or 0-255 integers."""
    if arr.size and arr.max() <= 1.0:
        arr = arr * 255.0
    return np.clip(arr, 0, 255).astype(np.uint8)


def save_off(asset: Asset, path: Path) -> None:
    """Write an ASCII OFF of the whole scene."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    text = asset.scene.to_mesh().export(file_type="off")
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="off",
        family="off",
        mime="application/x-off",
        extensions=(".off",),
        sniff=sniff_off,
        load=load_off,
        save=save_off,
        description="Object File Format (OFF, COFF, NOFF)",
    ),
]

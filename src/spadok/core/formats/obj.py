"""Wavefront OBJ with its MTL materials and textures, and the MTL sidecar.

trimesh parses the OBJ; our resolver finds the MTL and the textures under the
names exporters really write (spaces, backslashes, other case, non-ASCII). A
missing MTL or texture is a warning, not a failure: the geometry is the scan.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, Resolver, is_text
from spadok.core.formats.mesh_common import TrimeshResolver, as_scene, check_finite, scene_asset
from spadok.core.limits import DEFAULT_LIMITS, Limits

OBJ_KEYWORDS = {
    "v", "vt", "vn", "vp", "f", "l", "p", "o", "g", "s", "mtllib", "usemtl",
    "cstype", "deg", "curv", "surf",
}  # fmt: skip


def sniff_obj(head: bytes, path: Path) -> int:
    """2 for a vertex line among OBJ keywords, 1 for OBJ keywords or an .obj of comments."""
    if not is_text(head):
        return 0
    lines = head.decode("utf-8", errors="ignore").splitlines()[:-1] or [""]
    seen = 0
    for line in lines:
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] not in OBJ_KEYWORDS:
            return 0
        if parts[0] == "v" and len(parts) >= 4:
            try:
                [float(x) for x in parts[1:4]]
            except ValueError:
                return 0
            return 2
        seen += 1
        if seen > 20:
            break
    if seen:
        return 1
    # Only comments: an OBJ exported with nothing in it; claim it so it reports as empty.
    return 1 if path.suffix.lower() == ".obj" and head.lstrip().startswith(b"#") else 0


def _count_vertices(path: Path) -> int:
    """Vertex lines, counted cheaply, to refuse huge files before parsing them."""
    count = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"v "):
                count += 1
    return count


def load_obj(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read an OBJ and whatever MTL and textures it names."""
    from spadok.core.formats.base import check_vertex_limit

    if path.stat().st_size > 256 * 1024**2:
        check_vertex_limit(_count_vertices(path), limits)
    text = path.read_bytes()
    has_faces = _NEG_FACE.search(text) is not None or _FACE.search(text) is not None
    if not has_faces and _LINE.search(text) is not None:
        raise SpadokError("geometry.empty", f"{path.name} has only lines, no faces")
    if _NEG_FACE.search(text):
        text = _absolute_indices(text)
    tresolver = TrimeshResolver(resolver)
    loaded = trimesh.load(
        io.BytesIO(text),
        file_type="obj",
        resolver=tresolver,  # type: ignore[arg-type]  # duck-typed resolver
        process=False,
        maintain_order=True,
    )
    scene = as_scene(loaded)
    warnings = [f"{name!r} is missing; the model is kept without it" for name in tresolver.missing]
    if _NAN_VERTEX.search(text):
        warnings.append("some vertex colours are NaN; they were replaced")
    check_finite(scene, path)
    textures = []
    for geom in scene.geometry.values():
        material = getattr(geom.visual, "material", None)
        image = getattr(material, "image", None)
        if material is None or image is None:
            continue
        if "file_path" not in image.info:
            # trimesh invents a 2x2 image for UVs without a texture; it is not the scan's.
            material.image = None
            continue
        textures.append(image.info["file_path"])
    return scene_asset(
        scene,
        fmt="obj",
        mime="model/obj",
        path=path,
        extra={"mtllib": _mtllibs(text), "texture_files": sorted(set(textures))},
        warnings=warnings,
    )


_FACE = re.compile(rb"^f\s", re.M)
_NEG_FACE = re.compile(rb"^f\s[^\n]*?(?:^|[\s/])-\d", re.M)
_NAN_VERTEX = re.compile(rb"^v\s[^\n]*nan", re.M | re.I)
_LINE = re.compile(rb"^l\s", re.M)


def _absolute_indices(text: bytes) -> bytes:
    """Rewrite negative (relative) face indices as absolute ones.

    trimesh's fast OBJ parser fails on them; they are rare, so a plain line
    loop is fast enough.
    """
    counts = {b"v": 0, b"vt": 0, b"vn": 0}
    kinds = (b"v", b"vt", b"vn")
    out = []
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in counts:
            counts[parts[0]] += 1
        elif parts and parts[0] == b"f":
            fixed = [b"f"]
            for corner in parts[1:]:
                refs = corner.split(b"/")
                for k, ref in enumerate(refs):
                    if ref.startswith(b"-") and k < 3:
                        refs[k] = str(counts[kinds[k]] + 1 + int(ref)).encode()
                fixed.append(b"/".join(refs))
            line = b" ".join(fixed)
        out.append(line)
    return b"\n".join(out) + b"\n"


def _mtllibs(text: bytes) -> list[str]:
    out = []
    for line in text.splitlines():
        if line.startswith(b"mtllib"):
            out.append(line[6:].strip().decode("utf-8", errors="replace"))
    return out


def save_obj(asset: Asset, path: Path) -> None:
    """Write an OBJ; an MTL and textures are written next to it when present."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    from trimesh.exchange.obj import export_obj

    text, files = export_obj(
        asset.scene.to_mesh() if len(asset.scene.geometry) > 1 else asset.scene,
        return_texture=True,
        mtl_name=path.with_suffix(".mtl").name,
    )
    path.write_text(text, encoding="utf-8")
    for name, blob in files.items():
        (path.parent / name).write_bytes(blob)


# --- MTL sidecar -------------------------------------------------------------------------------


def sniff_mtl(head: bytes, path: Path) -> int:
    if not is_text(head):
        return 0
    for line in head.decode("utf-8", errors="ignore").splitlines():
        if line.strip().startswith("newmtl"):
            return 1
    return 0


def load_mtl(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    raise SpadokError("input.no_model", f"{path.name} (a material file; upload it with its OBJ)")


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="obj",
        family="obj",
        mime="model/obj",
        extensions=(".obj",),
        sniff=sniff_obj,
        load=load_obj,
        save=save_obj,
        description="Wavefront OBJ with MTL materials and textures",
    ),
    FormatSpec(
        name="mtl",
        family="sidecar",
        mime="model/mtl",
        extensions=(".mtl",),
        sniff=sniff_mtl,
        load=load_mtl,
        description="Wavefront material file (belongs to an OBJ)",
    ),
]

"""Web GLB levels of detail for meshes, per the derivative policy.

Each tier is simplified from the one above it (meshoptimizer, fast and
seam-preserving), its textures are resized and re-encoded with Pillow, it is
written as a plain GLB by a small writer here (trimesh's exporter re-encodes
textures as PNG and computes what we already have, both slow on big scans),
and gltfpack then quantises and meshopt-compresses it. gltfpack runs in the
background while the next tier is simplified, one tier at a time (each run is a
node process of its own, and their memory would add up).

The master is never touched: derivatives always start from the loaded scene.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from spadok import __version__ as SPADOK_VERSION
from spadok.core.derive.policy import (
    MESH_TIERS,
    POINT_WEB_MAX_POINTS,
    TIER_MIN_RATIO,
    DerivativeFile,
    MeshTier,
)
from spadok.core.derive.scrub import scrub_glb_json, scrub_image, scrub_name
from spadok.core.errors import SpadokError

if TYPE_CHECKING:
    import trimesh
    from PIL import Image

log = logging.getLogger(__name__)

GLB_MIME = "model/gltf-binary"
GENERATOR = f"spadok {SPADOK_VERSION}"  # the only generator string a web copy carries
JPEG_QUALITY = 88
# Relative error meshoptimizer may reach while meeting a tier's budget; the
# budget wins, the sloppy simplifier is the last resort when topology blocks it.
SIMPLIFY_MAX_ERROR = 0.25
GLTFPACK_ARGS = ("-cc",)
# A 512 px thumbnail looks the same from this many triangles as from millions.
THUMBNAIL_SOURCE_TRIANGLES = 300_000  # textures are kept as encoded here; no -tc/-tw

# ---------------------------------------------------------------- tools


@cache
def node_modules_dir() -> Path:
    """The project's node_modules: SPADOK_NODE_MODULES, else beside the source tree."""
    env = os.environ.get("SPADOK_NODE_MODULES")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "node_modules" for p in here.parents]
    for cand in candidates:
        if (cand / "gltfpack").is_dir() or (cand / "gltf-validator").is_dir():
            return cand
    raise SpadokError(
        "processing.failed",
        "node_modules with gltfpack not found; run `npm install` or set SPADOK_NODE_MODULES",
    )


def node_binary() -> str:
    """The node executable used for the npm tools."""
    node = os.environ.get("SPADOK_NODE") or shutil.which("node")
    if not node:
        raise SpadokError("processing.failed", "node (Node.js) is not installed")
    return node


def gltfpack_command() -> list[str]:
    """How to run gltfpack: node + the npm package's CLI (the WASM build)."""
    return [node_binary(), str(node_modules_dir() / "gltfpack" / "cli.js")]


@cache
def gltfpack_version() -> str:
    pkg = node_modules_dir() / "gltfpack" / "package.json"
    return str(json.loads(pkg.read_text())["version"])


@cache
def meshoptimizer_version() -> str:
    try:
        return metadata.version("meshoptimizer")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def tool_string() -> str:
    """What made a mesh derivative, for the record."""
    return (
        f"spadok {SPADOK_VERSION} meshoptimizer {meshoptimizer_version()}"
        f" + gltfpack {gltfpack_version()}"
    )


def start_gltfpack(src: Path, dst: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """Start gltfpack in the background; finish with :func:`finish_gltfpack`."""
    cmd = [*gltfpack_command(), "-i", str(src), "-o", str(dst), *GLTFPACK_ARGS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_gltfpack(proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    """Wait for gltfpack; a failure is ours (the input was written by us)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise SpadokError("processing.failed", "gltfpack timed out") from None
    if proc.returncode != 0:
        msg = (err or out).decode("utf-8", "replace").strip()[:500]
        raise SpadokError("processing.failed", f"gltfpack: {msg}")


# ---------------------------------------------------------------- geometry


@dataclass
class Material:
    """The part of a material a web copy keeps: colour, texture, alpha."""

    name: str = ""
    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    image: Image.Image | None = None
    metallic: float = 0.0
    roughness: float = 1.0
    alpha_mode: str = "OPAQUE"
    unlit: bool = False


@dataclass
class Primitive:
    """One draw call: float32 positions (recentred), optional attributes, indices.

    ``indices`` is a flat uint32 triangle list, or None for points.
    """

    positions: np.ndarray
    indices: np.ndarray | None
    normals: np.ndarray | None = None
    uv: np.ndarray | None = None  # glTF convention: v down
    colors: np.ndarray | None = None  # (n, 4) uint8
    material: Material = field(default_factory=Material)

    @property
    def triangles(self) -> int:
        return 0 if self.indices is None else len(self.indices) // 3

    @property
    def is_points(self) -> bool:
        return self.indices is None


# Faces per block when summing vertex normals: bounds the temporaries (about
# 60 bytes a face) to a few tens of MB on a scan of millions of triangles.
NORMAL_BLOCK = 1 << 18


def vertex_normals(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, with bincount (several times faster than trimesh)."""
    n = len(positions)
    tri = indices.reshape(-1, 3)
    acc = np.zeros((3, n), np.float64)
    a, b = (1, 2, 0), (2, 0, 1)
    for start in range(0, len(tri), NORMAL_BLOCK):
        block = tri[start : start + NORMAL_BLOCK]
        p0 = positions[block[:, 0]]
        e1 = positions[block[:, 1]] - p0
        e2 = positions[block[:, 2]] - p0
        del p0
        for axis in range(3):
            fn = e1[:, a[axis]] * e2[:, b[axis]] - e1[:, b[axis]] * e2[:, a[axis]]
            for corner in range(3):
                acc[axis] += np.bincount(block[:, corner], weights=fn, minlength=n)
    out = np.empty((n, 3), np.float32)
    out[:] = acc.T
    return unit_rows(out)


def unit_rows(v: np.ndarray) -> np.ndarray:
    """Normalise rows in place; zero rows (unused vertices) become +Z: glTF needs unit normals."""
    norm = np.sqrt(np.einsum("ij,ij->i", v, v))
    zero = ~(norm > 1e-20)
    norm[zero] = 1.0
    v /= norm[:, None]
    if zero.any():
        v[zero] = (0.0, 0.0, 1.0)
    return v


def _is_identity(m: np.ndarray) -> bool:
    return bool(np.allclose(m, np.eye(4)))


def _material_from_visual(visual: Any) -> Material:
    mat = getattr(visual, "material", None)
    if mat is None:
        return Material()
    name = scrub_name(getattr(mat, "name", "") or "")
    image = getattr(mat, "baseColorTexture", None)
    if image is None:
        image = getattr(mat, "image", None)
    color: Any = getattr(mat, "baseColorFactor", None)
    if color is None:
        color = getattr(mat, "diffuse", None)
    if color is None:
        rgba = (1.0, 1.0, 1.0, 1.0)
    else:
        arr = np.asarray(color, dtype=np.float64).ravel()
        if arr.dtype.kind in "ui" or arr.max() > 1.0:
            arr = arr / 255.0
        if len(arr) == 3:
            arr = np.append(arr, 1.0)
        rgba = tuple(float(x) for x in np.clip(arr[:4], 0, 1))  # type: ignore[assignment]
    # glTF's defaults (metallic 1) apply to PBR materials; others are matte.
    is_pbr = hasattr(mat, "metallicFactor")
    metallic = getattr(mat, "metallicFactor", None)
    if metallic is None:
        metallic = 1.0 if is_pbr else 0.0
    roughness = getattr(mat, "roughnessFactor", None)
    alpha_mode = str(getattr(mat, "alphaMode", None) or "OPAQUE").upper()
    if alpha_mode not in ("OPAQUE", "MASK", "BLEND"):
        alpha_mode = "OPAQUE"
    if image is not None and alpha_mode == "OPAQUE" and _has_alpha(image):
        alpha_mode = "BLEND"
    return Material(
        name=name,
        color=rgba,  # type: ignore[arg-type]
        image=image,
        metallic=float(metallic),
        roughness=1.0 if roughness is None else float(roughness),
        alpha_mode=alpha_mode,
    )


def _has_alpha(image: Image.Image) -> bool:
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return False
    alpha = image.convert("RGBA").getchannel("A")
    low = alpha.getextrema()[0]  # a single band: (min, max), never per-band tuples
    return isinstance(low, int | float) and low < 255


def scene_primitives(
    scene: trimesh.Scene, defer_normals: bool = False
) -> tuple[list[Primitive], np.ndarray]:
    """Flatten a trimesh scene to world-space primitives around a float64 centre.

    With ``defer_normals``, normals the file lacks are left None for the
    caller to compute (e.g. beside the simplifier, which does not need them).

    The centre is subtracted before the float32 cast, so georeferenced
    coordinates keep their precision; it goes back in as a node translation.
    """
    import trimesh

    items: list[tuple[Any, np.ndarray]] = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geom = scene.geometry.get(name)
        if geom is not None:
            items.append((geom, np.asarray(transform, dtype=np.float64)))
    if not items:
        raise SpadokError("geometry.empty", "the scene has no meshes or points")

    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for geom, tf in items:
        verts = np.asarray(geom.vertices)
        if len(verts) == 0:
            continue
        b = np.array([verts.min(axis=0), verts.max(axis=0)])
        if not _is_identity(tf):
            corners = np.array(
                [[b[i, 0], b[j, 1], b[k, 2]] for i in (0, 1) for j in (0, 1) for k in (0, 1)]
            )
            b = trimesh.transform_points(corners, tf)
        lo = np.minimum(lo, b.min(axis=0))
        hi = np.maximum(hi, b.max(axis=0))
    if not np.all(np.isfinite(lo)):
        raise SpadokError("geometry.empty", "the scene has no vertices")
    centre = (lo + hi) / 2.0

    prims: list[Primitive] = []
    for geom, tf in items:
        prim = _geometry_primitive(geom, tf, centre, defer_normals)
        if prim is not None:
            prims.append(prim)
    if not prims:
        raise SpadokError("geometry.empty", "the scene has no triangles or points")
    return prims, centre


def _geometry_primitive(
    geom: Any, tf: np.ndarray, centre: np.ndarray, defer_normals: bool = False
) -> Primitive | None:
    import trimesh

    verts = np.asarray(geom.vertices, dtype=np.float64)
    if len(verts) == 0:
        return None
    identity = _is_identity(tf)
    if identity:
        positions = (verts - centre).astype(np.float32)
    else:
        positions = (verts @ tf[:3, :3].T + (tf[:3, 3] - centre)).astype(np.float32)

    if isinstance(geom, trimesh.PointCloud):
        colors = None
        vc = getattr(geom, "colors", None)
        if vc is not None and len(vc) == len(verts):
            colors = _rgba8(vc)
        return Primitive(positions, None, colors=colors, material=Material(unlit=True))
    if not isinstance(geom, trimesh.Trimesh):
        return None
    faces = np.asarray(geom.faces)
    if len(faces) == 0:
        return Primitive(positions, None, material=Material(unlit=True))
    if faces.min() < 0 or faces.max() >= len(verts):
        raise SpadokError("geometry.invalid", "face indices point outside the vertex list")
    indices = faces.astype(np.uint32).reshape(-1)
    if not identity and np.linalg.det(tf[:3, :3]) < 0:
        indices = indices.reshape(-1, 3)[:, ::-1].reshape(-1).copy()

    normals = None
    cached = getattr(getattr(geom, "_cache", None), "cache", {}).get("vertex_normals")
    if cached is not None and len(cached) == len(verts):
        normals = np.array(cached, dtype=np.float32)
        if not identity:
            normals = normals @ np.linalg.inv(tf[:3, :3]).T.astype(np.float32)
        # Files carry unnormalised normals (fuze.obj: length 2*pi); glTF requires unit length.
        normals = unit_rows(normals)
        if not np.isfinite(normals).all():
            normals = None
    if normals is None and not defer_normals:
        normals = vertex_normals(positions, indices)

    uv = None
    colors = None
    material = Material()
    visual = geom.visual
    kind = getattr(visual, "kind", None)
    if kind == "texture":
        material = _material_from_visual(visual)
        raw = getattr(visual, "uv", None)
        if raw is not None and len(raw) == len(verts):
            uv = np.empty((len(raw), 2), np.float32)
            uv[:, 0] = raw[:, 0]
            uv[:, 1] = 1.0 - np.asarray(raw[:, 1])  # trimesh keeps OpenGL v-up
            if not np.isfinite(uv).all():
                uv = None
        if uv is None:
            material = replace(material, image=None)
    elif kind == "vertex" and isinstance(visual, trimesh.visual.ColorVisuals):
        colors = _rgba8(visual.vertex_colors)
    elif kind == "face" and isinstance(visual, trimesh.visual.ColorVisuals):
        fc = _rgba8(visual.face_colors).astype(np.float64)
        if (fc == fc[0]).all():
            material = Material(color=tuple(float(c) / 255 for c in fc[0]))  # type: ignore[arg-type]
        else:
            counts = np.bincount(indices, minlength=len(verts)).astype(np.float64)
            counts[counts == 0] = 1
            acc = np.empty((len(verts), 4), np.float64)
            for c in range(4):
                acc[:, c] = np.bincount(
                    indices, weights=np.repeat(fc[:, c], 3), minlength=len(verts)
                )
            colors = np.clip(np.rint(acc / counts[:, None]), 0, 255).astype(np.uint8)
    if colors is not None and material.alpha_mode == "OPAQUE" and colors[:, 3].min() < 255:
        material = replace(material, alpha_mode="BLEND")
    return Primitive(positions, indices, normals=normals, uv=uv, colors=colors, material=material)


def _rgba8(colors: Any) -> np.ndarray:
    arr = np.asarray(colors)
    if arr.dtype.kind == "f":
        arr = np.clip(np.nan_to_num(arr) * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255)
    arr = arr.astype(np.uint8)
    if arr.shape[1] == 3:
        arr = np.concatenate([arr, np.full((len(arr), 1), 255, np.uint8)], axis=1)
    return np.ascontiguousarray(arr[:, :4])


# ---------------------------------------------------------------- simplification


def compact(prim: Primitive, indices: np.ndarray) -> Primitive:
    """Keep only the vertices ``indices`` use (new arrays, master untouched)."""
    n = len(prim.positions)
    used = np.zeros(n, bool)
    used[indices] = True
    if used.all():
        return replace(prim, indices=indices)
    remap = np.cumsum(used, dtype=np.int64) - 1
    new_idx = remap[indices].astype(np.uint32)

    def take(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[used]

    return Primitive(
        positions=prim.positions[used],
        indices=new_idx,
        normals=take(prim.normals),
        uv=take(prim.uv),
        colors=take(prim.colors),
        material=prim.material,
    )


def simplify_primitive(
    prim: Primitive,
    target_triangles: int,
    sloppy: bool = False,
    normals: Future[np.ndarray] | None = None,
) -> tuple[Primitive, float]:
    """Simplify to at most ``target_triangles``; returns the primitive and the relative error.

    meshoptimizer keeps split vertices (UV/colour seams) as seams. When the
    topology (e.g. an unwelded triangle soup) stops it short of the budget,
    the sloppy simplifier finishes the job. ``normals``, when given, are the
    primitive's normals still being computed: the simplifier reads positions
    only, so they are waited for just before the kept vertices are taken.
    """
    import meshoptimizer as mo

    if normals is not None:
        pending = normals

        def with_normals(p: Primitive) -> Primitive:
            return replace(p, normals=pending.result())
    else:

        def with_normals(p: Primitive) -> Primitive:
            return p

    if prim.indices is None:
        return _subsample_points(with_normals(prim), target_triangles), 0.0
    tris = len(prim.indices) // 3
    if tris <= target_triangles:
        return with_normals(prim), 0.0
    target_triangles = max(target_triangles, 1)
    idx = np.ascontiguousarray(prim.indices, dtype=np.uint32)
    pos = np.ascontiguousarray(prim.positions, dtype=np.float32)
    dest = np.empty(len(idx), np.uint32)
    target = target_triangles * 3
    count, error = (0, 0.0) if sloppy else _run(mo.simplify, dest, idx, pos, target, options=0)
    if sloppy or count // 3 > target_triangles:
        count, sloppy_error = _run(mo.simplify_sloppy, dest, idx, pos, target, max_error=1.0)
        error = max(error, sloppy_error)
    if count == 0:  # collapsed entirely: keep a sloppy, tiny version rather than nothing
        return with_normals(prim), 0.0
    out = compact(with_normals(prim), dest[:count].copy())
    del dest
    return out, error


def _run(
    simplifier: Any,
    dest: np.ndarray,
    idx: np.ndarray,
    pos: np.ndarray,
    target_indices: int,
    max_error: float = SIMPLIFY_MAX_ERROR,
    **options: int,
) -> tuple[int, float]:
    """One call of a meshoptimizer simplifier; returns the index count and the error."""
    err = np.zeros(1, np.float32)
    # The wrapper takes len(indices) as the index count: always pass a flat array.
    count = simplifier(
        dest,
        idx,
        pos,
        index_count=len(idx),
        vertex_count=len(pos),
        vertex_positions_stride=12,
        target_index_count=target_indices,
        target_error=max_error,
        result_error=err,
        **options,
    )
    return int(count), float(err[0])


def _subsample_points(prim: Primitive, target: int) -> Primitive:
    n = len(prim.positions)
    if n <= target:
        return prim
    keep = np.linspace(0, n - 1, target).astype(np.int64)

    def take(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[keep]

    return replace(
        prim, positions=prim.positions[keep], normals=take(prim.normals), colors=take(prim.colors)
    )


def plan_tiers(
    triangles: int, tiers: tuple[MeshTier, ...] = MESH_TIERS
) -> list[tuple[MeshTier, int]]:
    """Which tiers to make, with their triangle targets.

    The first tier is always made (uncut when the model fits); each further
    tier only when it is at most ``TIER_MIN_RATIO`` of the last one made.
    """
    plan: list[tuple[MeshTier, int]] = []
    for tier in tiers:
        target = min(triangles, tier.max_triangles)
        smaller = bool(plan) and target < min(plan[-1][1], TIER_MIN_RATIO * plan[-1][1] + 1)
        if not plan or smaller:
            plan.append((tier, target))
    return plan


# ---------------------------------------------------------------- textures


class TextureCache:
    """Resized and encoded textures per (image, max edge), shared across tiers.

    :meth:`prefetch` starts the work in a background thread (Pillow releases
    the GIL), so textures are encoded while meshoptimizer simplifies.
    """

    def __init__(self, executor: Executor | None = None) -> None:
        self._futures: dict[tuple[int, int], Future[tuple[bytes, str, tuple[int, int]]]] = {}
        self._keep: list[Any] = []  # keep images alive so their id() stays unique
        self._stand_ins: dict[int, Image.Image] = {}  # by id() of the image replaced
        self._pool: Executor | None = executor
        self._own_pool = executor is None

    def prefetch(self, image: Image.Image, edges: list[int]) -> None:
        """Encode ``image`` at each max edge (largest first) in the background."""
        edges = sorted({e for e in edges if (id(image), e) not in self._futures}, reverse=True)
        if not edges:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spadok-tex")
        self._keep.append(image)
        state: dict[str, Image.Image] = {"src": image}

        def job(edge: int) -> tuple[bytes, str, tuple[int, int]]:
            # Each size starts from the previous (smaller) one: cheap reductions.
            img = _fit(state["src"], edge)
            state["src"] = img
            return encode_texture(img)

        for edge in edges:
            self._futures[(id(image), edge)] = self._pool.submit(job, edge)

    def prefetch_textures(self, prims: list[Primitive], edges: list[int]) -> None:
        """:meth:`prefetch` every texture the primitives draw with (no reference kept here)."""
        for prim in prims:
            if prim.material.image is not None and prim.uv is not None:
                self.prefetch(prim.material.image, edges)

    def encoded(self, image: Image.Image, max_edge: int) -> tuple[bytes, str, tuple[int, int]]:
        key = (id(image), max_edge)
        if key not in self._futures:
            self.prefetch(image, [max_edge])
        return self._futures[key].result()

    def settle(self, prims: list[Primitive]) -> list[Primitive]:
        """The primitives with each texture replaced by its stand-in, once all its sizes are done.

        A decoded 4096² texture is 48-64 MB; once every size the tiers need
        is encoded, only the thumbnail still reads pixels, and it reads them
        at :data:`~spadok.core.derive.thumbnail.MAX_TEXTURE_EDGE`. The stand-in
        is exactly what the thumbnail would make of the full image, and takes
        over its encodings, so later tiers and the thumbnail are unchanged
        while the full image can be freed.
        """
        from spadok.core.derive.thumbnail import MAX_TEXTURE_EDGE

        out = []
        for prim in prims:
            image = prim.material.image
            if image is not None and id(image) not in self._stand_ins:
                self._stand_ins[id(image)] = self._stand_in(image, MAX_TEXTURE_EDGE)
            if image is not None and self._stand_ins[id(image)] is not image:
                material = replace(prim.material, image=self._stand_ins[id(image)])
                prim = replace(prim, material=material)
            out.append(prim)
        return out

    def _stand_in(self, image: Image.Image, edge: int) -> Image.Image:
        mine = [key for key in self._futures if key[0] == id(image)]
        for key in mine:
            self._futures[key].result()
        stand_in = _fit(image, edge)
        if stand_in is image:
            return image
        for key in mine:
            self._futures[(id(stand_in), key[1])] = self._futures.pop(key)
        self._keep = [kept for kept in self._keep if kept is not image] + [stand_in]
        return stand_in

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        if self._pool is not None and self._own_pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        else:  # a borrowed executor: wait for our running job, leave the executor be
            for future in self._futures.values():
                if not future.cancelled():
                    future.exception()
        self._pool = None


def _fit(image: Image.Image, max_edge: int) -> Image.Image:
    """The image scaled down so its longest edge is at most ``max_edge``."""
    from PIL import Image as PILImage

    w, h = image.size
    if max(w, h) <= max_edge:
        return image
    img = image
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if _has_alpha(img) else "RGB")
    factor = max(w, h) / max_edge
    if factor == int(factor) and w % int(factor) == 0 and h % int(factor) == 0:
        return img.reduce(int(factor))  # box filter, exact for power-of-two textures
    scale = max_edge / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, PILImage.Resampling.LANCZOS, reducing_gap=3.0)


def encode_texture(image: Image.Image) -> tuple[bytes, str, tuple[int, int]]:
    """JPEG for opaque colour, PNG when the alpha channel is used; no metadata in either.

    The image goes through :func:`scrub_image` (no EXIF, XMP, IPTC, ICC,
    comment or text chunk survives), and the encoders are told so as well.
    """
    buf = io.BytesIO()
    image = scrub_image(image)
    if _has_alpha(image):
        img = image if image.mode in ("RGBA", "LA") else image.convert("RGBA")
        img.save(buf, format="PNG", compress_level=6, pnginfo=None, exif=b"")
        mime = "image/png"
    else:
        img = image if image.mode in ("RGB", "L") else image.convert("RGB")
        img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, exif=b"", comment=b"")
        mime = "image/jpeg"
    return buf.getvalue(), mime, image.size


# ---------------------------------------------------------------- GLB writer


class _Bin:
    """The binary chunk, written straight from the numpy arrays (no join)."""

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []
        self.size = 0
        self.views: list[dict[str, Any]] = []

    def add(self, data: bytes | memoryview, target: int | None = None) -> int:
        pad = (-self.size) % 4
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self.size, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.parts.append(data)
        self.size += len(data)
        self.views.append(view)
        return len(self.views) - 1


def write_glb(
    path: Path,
    prims: list[Primitive],
    translation: np.ndarray | None = None,
    texture_size: int | None = None,
    textures: TextureCache | None = None,
) -> dict[str, Any]:
    """Write primitives as one mesh in a plain (uncompressed) GLB; returns texture facts."""
    textures = textures or TextureCache()
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "model"}],
        "meshes": [{"primitives": []}],
        "accessors": [],
        "materials": [],
    }
    if translation is not None and np.any(translation != 0):
        gltf["nodes"][0]["translation"] = [float(x) for x in translation]
    binbuf = _Bin()
    images: list[dict[str, Any]] = []
    image_index: dict[int, int] = {}
    texture_facts: list[dict[str, Any]] = []
    material_index: dict[int, int] = {}
    unlit_used = False

    def accessor(arr: np.ndarray, ctype: int, atype: str, target: int | None, **kw: Any) -> int:
        arr = np.ascontiguousarray(arr)
        view = binbuf.add(arr.data.cast("B"), target)
        acc: dict[str, Any] = {
            "bufferView": view,
            "componentType": ctype,
            "count": len(arr),
            "type": atype,
        }
        acc.update(kw)
        gltf["accessors"].append(acc)
        return len(gltf["accessors"]) - 1

    for prim in prims:
        if len(prim.positions) == 0:
            continue
        mat = prim.material
        if id(mat) not in material_index:
            m: dict[str, Any] = {
                "pbrMetallicRoughness": {
                    "baseColorFactor": [float(c) for c in mat.color],
                    "metallicFactor": float(mat.metallic),
                    "roughnessFactor": float(mat.roughness),
                },
                "doubleSided": True,
            }
            if mat.name:
                m["name"] = mat.name
            if mat.alpha_mode != "OPAQUE":
                m["alphaMode"] = mat.alpha_mode
            if mat.unlit or prim.is_points:
                m["extensions"] = {"KHR_materials_unlit": {}}
                unlit_used = True
            if mat.image is not None and prim.uv is not None:
                key = id(mat.image)
                if key not in image_index:
                    data, mime, size = textures.encoded(mat.image, texture_size or 1 << 30)
                    view = binbuf.add(data)
                    images.append({"bufferView": view, "mimeType": mime})
                    image_index[key] = len(images) - 1
                    texture_facts.append(
                        {"width": size[0], "height": size[1], "mime": mime, "bytes": len(data)}
                    )
                m["pbrMetallicRoughness"]["baseColorTexture"] = {"index": image_index[key]}
            gltf["materials"].append(m)
            material_index[id(mat)] = len(gltf["materials"]) - 1

        pos = prim.positions
        attrs: dict[str, int] = {
            "POSITION": accessor(
                pos, 5126, "VEC3", 34962, min=pos.min(axis=0).tolist(), max=pos.max(axis=0).tolist()
            )
        }
        if prim.normals is not None and not prim.is_points:
            attrs["NORMAL"] = accessor(
                prim.normals.astype(np.float32, copy=False), 5126, "VEC3", 34962
            )
        if prim.uv is not None and mat.image is not None:
            attrs["TEXCOORD_0"] = accessor(prim.uv, 5126, "VEC2", 34962)
        if prim.colors is not None:
            attrs["COLOR_0"] = accessor(prim.colors, 5121, "VEC4", 34962, normalized=True)
        p: dict[str, Any] = {"attributes": attrs, "material": material_index[id(mat)]}
        if prim.is_points:
            p["mode"] = 0
        else:
            idx = prim.indices
            assert idx is not None
            if len(pos) < 65535:
                p["indices"] = accessor(idx.astype(np.uint16), 5123, "SCALAR", 34963)
            else:
                p["indices"] = accessor(idx, 5125, "SCALAR", 34963)
        gltf["meshes"][0]["primitives"].append(p)

    if not gltf["meshes"][0]["primitives"]:
        raise SpadokError("geometry.empty", "nothing left to write")
    if images:
        gltf["images"] = images
        gltf["textures"] = [{"source": i, "sampler": 0} for i in range(len(images))]
        gltf["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
    if unlit_used:
        gltf["extensionsUsed"] = ["KHR_materials_unlit"]
    gltf["bufferViews"] = binbuf.views
    gltf["buffers"] = [{"byteLength": binbuf.size}]
    _write_glb_file(path, gltf, binbuf.parts, binbuf.size)
    return {"textures": texture_facts}


def _write_glb_file(
    path: Path, gltf: dict[str, Any], parts: list[bytes | memoryview], size: int
) -> None:
    scrub_glb_json(gltf, GENERATOR)
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * ((-len(js)) % 4)
    bin_pad = (-size) % 4
    total = 12 + 8 + len(js) + 8 + size + bin_pad
    with path.open("wb") as fh:
        fh.write(struct.pack("<III", 0x46546C67, 2, total))
        fh.write(struct.pack("<II", len(js), 0x4E4F534A))
        fh.write(js)
        fh.write(struct.pack("<II", size + bin_pad, 0x004E4942))
        for part in parts:
            fh.write(part)
        fh.write(b"\0" * bin_pad)


def read_glb_json(path: Path) -> tuple[dict[str, Any], bytes]:
    """The JSON and BIN chunks of a GLB (for post-processing and tests)."""
    data = path.read_bytes()
    magic, _version, _length = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67:
        raise SpadokError("format.corrupt", f"{path.name} is not a GLB")
    jlen, _ = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20 : 20 + jlen])
    rest = 20 + jlen
    binary = b""
    if rest + 8 <= len(data):
        blen, _ = struct.unpack_from("<II", data, rest)
        binary = data[rest + 8 : rest + 8 + blen]
    return gltf, binary


def add_root_translation(path: Path, translation: np.ndarray) -> None:
    """Wrap a GLB's scene in a node carrying a float64 offset; scrub its JSON.

    gltfpack stores transforms as float32, which would cost georeferenced
    coordinates their precision; the offset is added after it, in JSON. The
    file is rewritten even without an offset, so that gltfpack's output also
    goes through :func:`scrub_glb_json` (its generator becomes spadok's).
    """
    gltf, binary = read_glb_json(path)
    if not np.any(translation != 0):
        _write_glb_file(path, gltf, [binary], len(binary))
        return
    scene = gltf["scenes"][gltf.get("scene", 0)]
    gltf.setdefault("nodes", []).append(
        {
            "name": "offset",
            "translation": [float(x) for x in translation],
            "children": scene.get("nodes", []),
        }
    )
    scene["nodes"] = [len(gltf["nodes"]) - 1]
    _write_glb_file(path, gltf, [binary], len(binary))


# ---------------------------------------------------------------- LODs


@dataclass
class _Pending:
    tier: MeshTier
    raw: Path
    out: Path
    job: Future[None]
    stats: dict[str, Any]
    params: dict[str, Any]


class _GltfpackQueue:
    """gltfpack runs one at a time, in the background, in the order submitted.

    Each run is a node process of up to a few hundred MB (the WASM heap grows
    with the tier); running the tiers side by side would add those up, on
    top of the simplifier's own peak. One at a time, they still overlap the
    simplification of the next tier and the thumbnail.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spadok-gltfpack")
        self._procs: list[subprocess.Popen[bytes]] = []
        self._closed = False

    def submit(self, src: Path, dst: Path) -> Future[None]:
        return self._pool.submit(self._run, src, dst)

    def _run(self, src: Path, dst: Path) -> None:
        if self._closed:
            raise SpadokError("processing.failed", "gltfpack was cancelled")
        proc = start_gltfpack(src, dst)
        self._procs.append(proc)
        finish_gltfpack(proc)

    def close(self) -> None:
        """Cancel what has not started and stop what runs (after a failure)."""
        self._closed = True
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _simplify_tier(
    prims: list[Primitive], ratio: float, target: int, normals: dict[int, Future[np.ndarray]]
) -> tuple[list[Primitive], list[float]]:
    """The next tier down: each primitive simplified to its share of ``target``.

    A function of its own so that nothing of the tier above outlives the call
    (loop variables would hold the master's arrays through the next peaks).
    """
    nxt: list[Primitive] = []
    errors: list[float] = []
    budget_left = target
    tri_prims = [p for p in prims if not p.is_points]
    for prim in prims:
        if prim.is_points:
            nxt.append(_subsample_points(prim, max(1, int(len(prim.positions) * ratio))))
            continue
        # Proportional budgets; the last triangle primitive takes what is left.
        is_last = prim is tri_prims[-1]
        share = budget_left if is_last else int(prim.triangles * ratio)
        share = max(0, min(share, budget_left))
        simp, err = simplify_primitive(prim, max(share, 1), normals=normals.pop(id(prim), None))
        budget_left -= simp.triangles
        nxt.append(simp)
        errors.append(err)
    return [p for p in nxt if len(p.positions)], errors


def make_mesh_lods(
    scene: trimesh.Scene,
    out_dir: Path,
    thumbnail: Path | None = None,
    up: Literal["Y", "Z"] = "Y",
    texture_executor: Executor | None = None,
    extracted: Callable[[], None] | None = None,
    after_first_tier: Callable[[], None] | None = None,
    before_simplify: Callable[[], None] | None = None,
) -> list[DerivativeFile]:
    """Make the web GLB tiers for a mesh scene into ``out_dir``.

    Cascades high -> medium -> low (each simplified from the previous), so
    the total cost is about one simplification of the master. With
    ``thumbnail``, the thumbnail is rendered too (last in the list, role
    "thumbnail") from a tier of at most ``THUMBNAIL_SOURCE_TRIANGLES``, while
    gltfpack still runs: the same picture as from the master, for less time.

    ``texture_executor`` runs the texture work (by default a thread of its
    own, beside the statistics and the normals). Every size is encoded before
    the first simplification, so that the full-size pixels are let go before
    the simplifier's peak (see :meth:`TextureCache.settle`).
    ``extracted`` is called once the scene has been read into web arrays,
    after which this function no longer touches ``scene``; ``after_first_tier``
    once the first (largest) simplification is written, when the memory peak
    of the simplifier is over; ``before_simplify`` just before the first
    simplification (normals and textures have started by then), so the caller
    can hold it back until the master has been let go.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prims, centre = scene_primitives(scene, defer_normals=True)
    del scene
    if extracted is not None:
        extracted()
    timings["extract"] = time.perf_counter() - t0
    total_tris = sum(p.triangles for p in prims)
    total_points = sum(len(p.positions) for p in prims if p.is_points)
    plan = plan_tiers(total_tris)
    # Normals the file lacks are computed beside the first simplification
    # (which reads positions only) rather than before it.
    normals_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spadok-normals")
    normals: dict[int, Future[np.ndarray]] = {
        id(p): normals_pool.submit(vertex_normals, p.positions, p.indices)
        for p in prims
        if p.indices is not None and p.normals is None
    }
    if plan[0][1] >= total_tris:  # nothing to simplify first: wait for them now
        prims = [
            replace(p, normals=normals.pop(id(p)).result()) if id(p) in normals else p
            for p in prims
        ]
    if total_points > POINT_WEB_MAX_POINTS:  # loose points follow the point-cloud limit
        keep = POINT_WEB_MAX_POINTS / total_points
        prims = [
            _subsample_points(p, int(len(p.positions) * keep)) if p.is_points else p for p in prims
        ]
    textures = TextureCache(texture_executor)
    textures.prefetch_textures(prims, [tier.max_texture for tier, _ in plan])
    if before_simplify is not None:
        before_simplify()
    # Every size of every texture is encoded (beside the statistics and the
    # normals): the full-size pixels go before the simplifier's peak, and a
    # smaller copy stands in for them in the thumbnail.
    settled = textures.settle(prims)
    normals = {
        id(new): normals[id(old)]
        for old, new in zip(prims, settled, strict=True)
        if id(old) in normals
    }
    prims = settled
    del settled
    pending: list[_Pending] = []
    packer = _GltfpackQueue()
    thumb_prims = prims if total_tris <= THUMBNAIL_SOURCE_TRIANGLES else None
    current = prims
    del prims  # the master copy goes as soon as the first tier replaces it
    previous = total_tris
    try:
        for tier, target in plan:
            t = time.perf_counter()
            errors: list[float] = []
            if target < previous:
                current, errors = _simplify_tier(current, target / previous, target, normals)
            timings[f"{tier.role}.simplify"] = time.perf_counter() - t
            t = time.perf_counter()
            raw = out_dir / f".{tier.role}.raw.glb"
            out = out_dir / f"{tier.role}.glb"
            facts = write_glb(raw, current, None, tier.max_texture, textures)
            timings[f"{tier.role}.write"] = time.perf_counter() - t
            tris = sum(p.triangles for p in current)
            stats = {
                "triangles": tris,
                "vertices": sum(len(p.positions) for p in current if not p.is_points),
                "points": sum(len(p.positions) for p in current if p.is_points),
                "primitives": len(current),
                "textures": facts["textures"],
                "source_triangles": total_tris,
                "simplify_error": max(errors) if errors else 0.0,
                "offset": [float(x) for x in centre],
            }
            params = {
                "max_triangles": tier.max_triangles,
                "max_texture": tier.max_texture,
                "target_triangles": target,
                "simplifier": "meshoptimizer.simplify (sloppy fallback)",
                "max_error": SIMPLIFY_MAX_ERROR,
                "jpeg_quality": JPEG_QUALITY,
                "gltfpack": list(GLTFPACK_ARGS),
            }
            pending.append(_Pending(tier, raw, out, packer.submit(raw, out), stats, params))
            if after_first_tier is not None and len(pending) == 1:
                after_first_tier()
            previous = tris
            if thumb_prims is None and tris <= THUMBNAIL_SOURCE_TRIANGLES:
                thumb_prims = current
        thumb_file = None
        if thumbnail is not None:
            from spadok.core.derive.thumbnail import render_thumbnail

            t = time.perf_counter()
            thumb_file = render_thumbnail(thumb_prims or current, thumbnail, up=up)
            thumb_file.stats["source_triangles"] = total_tris
            timings["thumbnail"] = time.perf_counter() - t
        del current, thumb_prims
        results: list[DerivativeFile] = []
        for job in pending:
            t = time.perf_counter()
            job.job.result()
            add_root_translation(job.out, centre)
            timings[f"{job.tier.role}.gltfpack_wait"] = time.perf_counter() - t
            job.raw.unlink(missing_ok=True)
            job.stats["bytes"] = job.out.stat().st_size
            results.append(
                DerivativeFile(
                    role=job.tier.role,
                    path=job.out,
                    mime=GLB_MIME,
                    tool=tool_string(),
                    params=job.params,
                    stats=job.stats,
                )
            )
        if thumb_file is not None:
            results.append(thumb_file)
    finally:
        textures.close()
        packer.close()
        normals_pool.shutdown(wait=True, cancel_futures=True)
        for job in pending:
            job.raw.unlink(missing_ok=True)
    timings["total"] = time.perf_counter() - t0
    log.info("mesh LODs: %s triangles, %s points -> %s", total_tris, total_points, timings)
    for r in results[: len(pending)]:
        r.stats["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return results

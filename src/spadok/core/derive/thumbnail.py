"""Thumbnails: a 3/4 view PNG rendered headless on the CPU.

moderngl on Mesa's llvmpipe (EGL) renders in well under a second with our own
small shaders; when no GL stack can be created a numpy z-buffer rasteriser
takes over, slower but with the same camera and shading, so a missing GPU
stack never costs a capture its thumbnail.

glTF is Y-up, but many scans (LAS, E57, STL, often PLY) are Z-up: the caller
chooses ``up``; :func:`default_up` is the suggestion.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from spadok import __version__ as SPADOK_VERSION
from spadok.core.derive.policy import THUMBNAIL_SIZE, DerivativeFile
from spadok.core.derive.scrub import scrub_image
from spadok.core.derive.webglb import Primitive, _fit, scene_primitives
from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, PointSet

if TYPE_CHECKING:
    import trimesh

log = logging.getLogger(__name__)

Up = Literal["Y", "Z"]
BACKGROUND = (245, 245, 242)
CLAY = (0.74, 0.71, 0.66)
AZIMUTH_DEG = 35.0
ELEVATION_DEG = 22.0
MARGIN = 0.06
SUPERSAMPLE = 2
# Beyond these, a sloppy copy is drawn (the difference is invisible at 512 px).
MAX_RENDER_TRIANGLES = 2_000_000
MAX_NUMPY_TRIANGLES = 300_000
MAX_RENDER_POINTS = 2_000_000
MAX_TEXTURE_EDGE = 2048
# Formats whose files are conventionally Z-up.
Z_UP_FORMATS = frozenset({"las", "laz", "copc", "e57", "pcd", "xyz", "pts", "stl", "3mf"})


def default_up(asset: Asset) -> Up:
    """Z for georeferenced data and Z-up formats, else Y (glTF's convention)."""
    if asset.crs or asset.format.lower() in Z_UP_FORMATS:
        return "Z"
    if asset.kind in ("pointcloud",) and asset.format.lower() not in ("ply", "glb", "gltf"):
        return "Z"
    return "Y"


# ---------------------------------------------------------------- inputs


def point_primitive(
    points: PointSet, up: Up = "Z", limit: int = MAX_RENDER_POINTS
) -> tuple[Primitive, np.ndarray]:
    """A recentred point primitive with colours (own, intensity, or by height)."""
    from spadok.core.derive.pointweb import point_colors, subsample_indices

    pos = np.asarray(points.positions)
    if len(pos) == 0:
        raise SpadokError("geometry.empty", "the point cloud has no points")
    keep = subsample_indices(len(pos), limit)
    sel = pos if keep is None else pos[keep]
    lo, hi = sel.min(axis=0), sel.max(axis=0)
    centre = (lo + hi) / 2.0
    colors = point_colors(points, up, keep)
    prim = Primitive((sel - centre).astype(np.float32), None, colors=colors)
    return prim, centre


def _primitives(source: Any, up: Up | None) -> tuple[list[Primitive], Up]:
    import trimesh

    if isinstance(source, Asset):
        up = up or default_up(source)
        if source.scene is not None:
            source = source.scene
        elif source.points is not None:
            source = source.points
        else:
            raise SpadokError("geometry.empty", f"{source.primary.name} has nothing to draw")
    up = up or "Y"
    if isinstance(source, PointSet):
        return [point_primitive(source, up)[0]], up
    if isinstance(source, trimesh.Trimesh | trimesh.PointCloud):
        source = trimesh.Scene(source)
    if isinstance(source, trimesh.Scene):
        return scene_primitives(source)[0], up
    if isinstance(source, list) and all(isinstance(p, Primitive) for p in source):
        return source, up
    raise TypeError(f"cannot draw a {type(source).__name__}")


def _reduce_for_render(prims: list[Primitive], limit: int) -> list[Primitive]:
    from spadok.core.derive.webglb import simplify_primitive

    tris = sum(p.triangles for p in prims)
    if tris <= limit:
        return prims
    ratio = limit / tris
    return [
        p if p.is_points else simplify_primitive(p, int(p.triangles * ratio) + 1, sloppy=True)[0]
        for p in prims
    ]


# ---------------------------------------------------------------- camera


def camera(prims: list[Primitive], up: Up) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic 3/4 view framing the geometry: (4x4 clip matrix, 3x3 view rotation)."""
    u = np.array([0.0, 1.0, 0.0]) if up == "Y" else np.array([0.0, 0.0, 1.0])
    front = np.array([0.0, 0.0, 1.0]) if up == "Y" else np.array([0.0, -1.0, 0.0])
    right = np.cross(u, front)
    az, el = math.radians(AZIMUTH_DEG), math.radians(ELEVATION_DEG)
    d = math.cos(el) * (math.cos(az) * front + math.sin(az) * right) + math.sin(el) * u
    d /= np.linalg.norm(d)
    cam_x = np.cross(u, d)
    cam_x /= np.linalg.norm(cam_x)
    cam_y = np.cross(d, cam_x)
    rot = np.stack([cam_x, cam_y, d]).astype(np.float64)  # rows: view axes

    # Tight extents in view space from (a sample of) the vertices.
    samples = []
    for p in prims:
        pos = p.positions
        step = max(1, len(pos) // 200_000)
        samples.append(pos[::step].astype(np.float64) @ rot.T)
    view = np.concatenate(samples)
    lo, hi = view.min(axis=0), view.max(axis=0)
    size = max(hi[0] - lo[0], hi[1] - lo[1])
    if not np.isfinite(size) or size <= 0:
        size = max(float(np.max(hi - lo)), 1e-6)
    scale = 2.0 * (1.0 - MARGIN) / size
    centre = (lo + hi) / 2.0
    depth = max(hi[2] - lo[2], 1e-9) * 1.02
    m = np.eye(4)
    m[0, :3] = rot[0] * scale
    m[1, :3] = rot[1] * scale
    m[2, :3] = -rot[2] * (2.0 / depth)  # nearer (larger view z) -> smaller depth
    m[0, 3] = -centre[0] * scale
    m[1, 3] = -centre[1] * scale
    m[2, 3] = centre[2] * (2.0 / depth)
    return m, rot


# ---------------------------------------------------------------- GL renderer

_VERT = """
#version 330
uniform mat4 mvp;
uniform mat3 view_rot;
uniform float point_size;
in vec3 in_pos;
#ifdef HAS_NORMAL
in vec3 in_normal;
out vec3 v_normal;
#endif
#ifdef HAS_UV
in vec2 in_uv;
out vec2 v_uv;
#endif
#ifdef HAS_COLOR
in vec4 in_color;
out vec4 v_color;
#endif
void main() {
    gl_Position = mvp * vec4(in_pos, 1.0);
    gl_PointSize = point_size;
#ifdef HAS_NORMAL
    v_normal = view_rot * in_normal;
#endif
#ifdef HAS_UV
    v_uv = in_uv;
#endif
#ifdef HAS_COLOR
    v_color = in_color;
#endif
}
"""

_FRAG = """
#version 330
uniform vec4 base_color;
#ifdef HAS_UV
uniform sampler2D tex;
in vec2 v_uv;
#endif
#ifdef HAS_NORMAL
in vec3 v_normal;
#endif
#ifdef HAS_COLOR
in vec4 v_color;
#endif
out vec4 f_color;
void main() {
    vec4 c = base_color;
#ifdef HAS_UV
    c *= texture(tex, v_uv);
#endif
#ifdef HAS_COLOR
    c *= v_color;
#endif
#ifdef HAS_NORMAL
    vec3 n = normalize(v_normal);
    if (n.z < 0.0) n = -n;  // two-sided, whatever the winding of the scan
    float key = max(dot(n, normalize(vec3(-0.45, 0.6, 0.66))), 0.0);
    float fill = max(dot(n, normalize(vec3(0.7, 0.1, 0.5))), 0.0);
    float light = 0.28 + 0.62 * key + 0.22 * fill;
    c.rgb *= light;
#endif
    f_color = vec4(c.rgb, c.a);
}
"""


def _render_gl(prims: list[Primitive], mvp: np.ndarray, rot: np.ndarray, px: int) -> np.ndarray:
    import moderngl
    from PIL import Image

    # moderngl's stub types **settings as dict values; backend is a plain str.
    ctx = moderngl.create_standalone_context(backend="egl")  # type: ignore[arg-type]
    try:
        fbo = ctx.simple_framebuffer((px, px), components=4)
        fbo.use()
        red, green, blue = (c / 255.0 for c in BACKGROUND)
        fbo.clear(red, green, blue, 1.0)
        ctx.enable(moderngl.DEPTH_TEST | moderngl.PROGRAM_POINT_SIZE)
        n_points = sum(len(p.positions) for p in prims if p.is_points)
        point_size = float(np.clip(px * 1.3 / math.sqrt(max(n_points, 1)), 2.0, 10.0))
        programs: dict[tuple[bool, bool, bool], Any] = {}
        for prim in prims:
            has_n = prim.normals is not None and not prim.is_points
            has_uv = prim.uv is not None and prim.material.image is not None
            has_c = prim.colors is not None
            key = (has_n, has_uv, has_c)
            if key not in programs:
                defs = "".join(
                    f"#define {name}\n"
                    for name, on in (
                        ("HAS_NORMAL", has_n),
                        ("HAS_UV", has_uv),
                        ("HAS_COLOR", has_c),
                    )
                    if on
                )
                programs[key] = ctx.program(
                    vertex_shader=_VERT.replace("#version 330\n", "#version 330\n" + defs, 1),
                    fragment_shader=_FRAG.replace("#version 330\n", "#version 330\n" + defs, 1),
                )
            prog = programs[key]
            prog["mvp"].write(mvp.T.astype("f4").tobytes())
            if "view_rot" in prog:
                prog["view_rot"].write(rot.T.astype("f4").tobytes())
            if "point_size" in prog:
                prog["point_size"].value = point_size
            color = prim.material.color
            if not has_uv and not has_c and prim.material.color == (1.0, 1.0, 1.0, 1.0):
                color = (*CLAY, 1.0)
            prog["base_color"].value = tuple(color)
            content = [(ctx.buffer(np.ascontiguousarray(prim.positions, "f4")), "3f", "in_pos")]
            if has_n:
                assert prim.normals is not None
                content.append(
                    (ctx.buffer(np.ascontiguousarray(prim.normals, "f4")), "3f", "in_normal")
                )
            texture = None
            if has_uv:
                assert prim.uv is not None and prim.material.image is not None
                content.append((ctx.buffer(np.ascontiguousarray(prim.uv, "f4")), "2f", "in_uv"))
                tex_img = _fit(prim.material.image, MAX_TEXTURE_EDGE)
                tex_img = tex_img.convert("RGBA") if tex_img.mode != "RGBA" else tex_img
                texture = ctx.texture(tex_img.size, 4, tex_img.tobytes())
                texture.build_mipmaps()
                texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                texture.use(0)
                prog["tex"].value = 0
            if has_c:
                assert prim.colors is not None
                content.append(
                    (ctx.buffer(np.ascontiguousarray(prim.colors, "u1")), "4f1", "in_color")
                )
            blend = prim.material.alpha_mode == "BLEND"
            if blend:
                ctx.enable(moderngl.BLEND)
            if prim.is_points:
                vao = ctx.vertex_array(prog, content)
                vao.render(moderngl.POINTS)
            else:
                assert prim.indices is not None
                ibo = ctx.buffer(np.ascontiguousarray(prim.indices, "u4"))
                vao = ctx.vertex_array(prog, content, index_buffer=ibo, index_element_size=4)
                vao.render(moderngl.TRIANGLES)
                ibo.release()
            if blend:
                ctx.disable(moderngl.BLEND)
            vao.release()
            for buf, _, _ in content:
                buf.release()
            if texture is not None:
                texture.release()
        data = fbo.read(components=3, alignment=1)
        img = np.frombuffer(data, np.uint8).reshape(px, px, 3)[::-1]
        _ = Image  # Pillow is used by the caller to downsample
        return np.ascontiguousarray(img)
    finally:
        ctx.release()


# ---------------------------------------------------------------- numpy renderer


def _shade_vertices(prim: Primitive, rot: np.ndarray) -> np.ndarray:
    """Per-vertex lit colour (float, 0..1), like the fragment shader."""
    n = len(prim.positions)
    base = np.array(prim.material.color[:3], np.float32)
    textured = prim.uv is not None and prim.material.image is not None
    if prim.colors is None and not textured and prim.material.color == (1.0, 1.0, 1.0, 1.0):
        base = np.array(CLAY, np.float32)
    col = np.broadcast_to(base, (n, 3)).astype(np.float32)
    if prim.colors is not None:
        col = col * (prim.colors[:, :3].astype(np.float32) / 255.0)
    if prim.normals is not None and not prim.is_points:
        nv = prim.normals @ rot.T.astype(np.float32)
        nv[nv[:, 2] < 0] *= -1
        key = np.array([-0.45, 0.6, 0.66], np.float32)
        fill = np.array([0.7, 0.1, 0.5], np.float32)
        key /= np.linalg.norm(key)
        fill /= np.linalg.norm(fill)
        light = 0.28 + 0.62 * np.clip(nv @ key, 0, None) + 0.22 * np.clip(nv @ fill, 0, None)
        col = col * light[:, None]
    return col


def _render_numpy(prims: list[Primitive], mvp: np.ndarray, rot: np.ndarray, px: int) -> np.ndarray:
    """A vectorised z-buffer rasteriser: Gouraud shading, nearest texture lookups."""
    image = np.empty((px * px, 3), np.float32)
    image[:] = np.array(BACKGROUND, np.float32) / 255.0
    zbuf = np.full(px * px, np.inf, np.float32)
    n_points = sum(len(p.positions) for p in prims if p.is_points)
    psize = int(np.clip(round(px * 1.3 / math.sqrt(max(n_points, 1))), 2, 10))

    def commit(pid: np.ndarray, depth: np.ndarray, colour: np.ndarray) -> None:
        order = np.lexsort((depth, pid))
        pid, depth, colour = pid[order], depth[order], colour[order]
        first = np.ones(len(pid), bool)
        first[1:] = pid[1:] != pid[:-1]
        pid, depth, colour = pid[first], depth[first], colour[first]
        win = depth < zbuf[pid]
        zbuf[pid[win]] = depth[win]
        image[pid[win]] = colour[win]

    for prim in prims:
        pos = prim.positions.astype(np.float64)
        ndc = pos @ mvp[:3, :3].T + mvp[:3, 3]
        sx = (ndc[:, 0] + 1.0) * 0.5 * px
        sy = (1.0 - ndc[:, 1]) * 0.5 * px
        sz = ndc[:, 2].astype(np.float32)
        vcol = _shade_vertices(prim, rot)
        if prim.is_points:
            base_x = np.floor(sx - psize / 2).astype(np.int64)
            base_y = np.floor(sy - psize / 2).astype(np.int64)
            for dy in range(psize):
                for dx in range(psize):
                    x, y = base_x + dx, base_y + dy
                    ok = (x >= 0) & (x < px) & (y >= 0) & (y < px)
                    commit((y * px + x)[ok], sz[ok], vcol[ok])
            continue
        assert prim.indices is not None
        tri = prim.indices.reshape(-1, 3).astype(np.int64)
        tex = None
        if prim.uv is not None and prim.material.image is not None:
            timg = _fit(prim.material.image, 1024).convert("RGB")
            tex = np.asarray(timg, np.float32) / 255.0
        x, y = sx[tri], sy[tri]
        x0 = np.clip(np.ceil(x.min(axis=1) - 0.5), 0, px).astype(np.int64)
        x1 = np.clip(np.floor(x.max(axis=1) - 0.5), -1, px - 1).astype(np.int64)
        y0 = np.clip(np.ceil(y.min(axis=1) - 0.5), 0, px).astype(np.int64)
        y1 = np.clip(np.floor(y.max(axis=1) - 0.5), -1, px - 1).astype(np.int64)
        w = x1 - x0 + 1
        h = y1 - y0 + 1
        area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
        live = np.flatnonzero((w > 0) & (h > 0) & (np.abs(area) > 1e-12))
        counts = (w * h)[live]
        chunk = 4_000_000
        start = 0
        while start < len(live):
            csum = np.cumsum(counts[start:])
            stop = start + max(1, int(np.searchsorted(csum, chunk, side="right")))
            t = live[start:stop]
            c = counts[start:stop]
            start = stop
            rep = np.repeat(np.arange(len(t)), c)
            off = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
            tt = t[rep]
            wr = w[tt]
            X = x0[tt] + off % wr
            Y = y0[tt] + off // wr
            cx, cy = X + 0.5, Y + 0.5
            xa, ya = x[tt], y[tt]
            inv = 1.0 / area[tt]
            l1 = (
                (cx - xa[:, 0]) * (ya[:, 2] - ya[:, 0]) - (xa[:, 2] - xa[:, 0]) * (cy - ya[:, 0])
            ) * inv
            l2 = (
                (xa[:, 1] - xa[:, 0]) * (cy - ya[:, 0]) - (cx - xa[:, 0]) * (ya[:, 1] - ya[:, 0])
            ) * inv
            l0 = 1.0 - l1 - l2
            eps = -1e-7
            inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
            if not inside.any():
                continue
            tt, X, Y = tt[inside], X[inside], Y[inside]
            lam = np.stack([l0[inside], l1[inside], l2[inside]], axis=1).astype(np.float32)
            vi = tri[tt]
            depth = (lam * sz[vi]).sum(axis=1)
            colour = (lam[:, :, None] * vcol[vi]).sum(axis=1)
            if tex is not None:
                assert prim.uv is not None
                uv = (lam[:, :, None] * prim.uv[vi]).sum(axis=1)
                th, tw = tex.shape[:2]
                u = np.mod(uv[:, 0], 1.0) * (tw - 1)
                v = np.mod(uv[:, 1], 1.0) * (th - 1)
                colour = colour * tex[v.astype(np.int64), u.astype(np.int64)]
            commit(Y * px + X, depth, colour)
    out = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out.reshape(px, px, 3)


# ---------------------------------------------------------------- entry point


def coverage(img: np.ndarray) -> float:
    """Share of pixels that differ from the background."""
    diff = np.abs(img.astype(np.int16) - np.array(BACKGROUND, np.int16)).max(axis=2)
    return float((diff > 8).mean())


def render_thumbnail(
    source: Asset | trimesh.Scene | trimesh.Trimesh | PointSet | list[Primitive],
    out: Path,
    size: int = THUMBNAIL_SIZE,
    up: Up | None = None,
    renderer: Literal["auto", "gl", "numpy"] = "auto",
) -> DerivativeFile:
    """Render a ``size``x``size`` PNG 3/4 view of a mesh scene, an asset or points.

    ``up`` is "Y" (glTF) or "Z" (most scans); None means :func:`default_up`
    for an asset, else Y. ``renderer`` forces GL or numpy (for tests).
    """
    from PIL import Image

    t0 = time.perf_counter()
    prims, up_axis = _primitives(source, up)
    prims = _reduce_for_render(prims, MAX_RENDER_TRIANGLES)
    mvp, rot = camera(prims, up_axis)
    px = size * SUPERSAMPLE
    used: str = renderer
    img: np.ndarray | None = None
    if renderer in ("auto", "gl"):
        try:
            img = _render_gl(prims, mvp, rot, px)
            used = "moderngl-egl"
            if coverage(img) < 0.002 and renderer == "auto":
                log.warning("GL thumbnail came out blank; trying the numpy renderer")
                img = None
        except Exception as exc:
            if renderer == "gl":
                raise
            log.warning("GL unavailable for thumbnails (%s); using the numpy renderer", exc)
            img = None
    if img is None:
        img = _render_numpy(_reduce_for_render(prims, MAX_NUMPY_TRIANGLES), mvp, rot, px)
        used = "numpy"
    pil = Image.fromarray(img, "RGB")
    if SUPERSAMPLE > 1:
        pil = pil.reduce(SUPERSAMPLE)
    out.parent.mkdir(parents=True, exist_ok=True)
    pil = scrub_image(pil)  # rendered pixels carry nothing, and this says so
    pil.save(out, format="PNG", optimize=False, compress_level=7, pnginfo=None)
    final = np.asarray(pil)
    cov = coverage(final)
    if cov < 0.002:
        log.warning("thumbnail %s is nearly blank (coverage %.4f)", out, cov)
    stats = {
        "width": size,
        "height": size,
        "bytes": out.stat().st_size,
        "coverage": round(cov, 4),
        "shading_std": round(float(final.std()), 2),
        "triangles": sum(p.triangles for p in prims),
        "points": sum(len(p.positions) for p in prims if p.is_points),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return DerivativeFile(
        role="thumbnail",
        path=out,
        mime="image/png",
        tool=f"spadok {SPADOK_VERSION} {used}",
        params={
            "size": size,
            "up": up_axis,
            "view": f"orthographic azimuth {AZIMUTH_DEG} elevation {ELEVATION_DEG}",
            "supersample": SUPERSAMPLE,
            "renderer": used,
        },
        stats=stats,
    )

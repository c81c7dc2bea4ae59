"""A texture atlas for the mesh from the best photo of each face, and the GLB.

Each face is given the photo that sees it most squarely and closely among those
that see it unoccluded (ray casting against the mesh itself, Open3D/Embree); a few
rounds of majority voting among neighbouring faces make the patches larger, so
there are fewer seams. Each connected patch of faces that share a photo is cut
out of that photo as a rectangle, the rectangles are packed into one atlas
image (shelf packing, scaled to fit), and the faces' UVs point into it. Faces no
photo sees get a neutral grey; the report counts them. Vertex colours are
written only when no face could be textured at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open3d as o3d
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from spadok.core.reconstruct.sfm import View

log = logging.getLogger(__name__)

GREY = (128, 128, 128)


@dataclass
class Textured:
    vertices: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3)
    uv: np.ndarray  # (V, 2) in [0, 1], glTF convention (v down from the top)
    atlas: Image.Image
    textured_fraction: float


def _project(view: View, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (pixel-edge convention) and depths of world points."""
    cam = pts @ view.R.T + view.t
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam @ view.K.T)[:, :2] / z[:, None]
    return uv, z


def select_views(
    vertices: np.ndarray, faces: np.ndarray, views: list[View], smooth_rounds: int = 3
) -> np.ndarray:
    """For each face, the index of the view to texture it from, or -1."""
    tri = vertices[faces]
    centroid = tri.mean(1)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(normal, axis=1)
    normal = normal / np.maximum(area[:, None], 1e-20)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32))
    )
    n_faces = len(faces)
    best = np.full(n_faces, -1, np.int64)
    best_score = np.zeros(n_faces)
    for i, view in enumerate(views):
        c = view.center
        to_cam = c - centroid
        dist = np.linalg.norm(to_cam, axis=1)
        d = to_cam / np.maximum(dist[:, None], 1e-20)
        cos = (d * normal).sum(1)
        uv, z = _project(view, centroid)
        inside = (z > 0) & (cos > 0.1)
        inside &= (uv[:, 0] >= 1) & (uv[:, 1] >= 1)
        inside &= (uv[:, 0] < view.width - 1) & (uv[:, 1] < view.height - 1)
        idx = np.nonzero(inside)[0]
        if len(idx) == 0:
            continue
        rays = np.hstack([np.repeat(c[None], len(idx), 0), -d[idx]]).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))["primitive_ids"].numpy()
        visible = idx[hit == idx]
        # pixels per unit area, times obliquity: the sharpest view of the face wins
        f = view.K[0, 0]
        score = cos[visible] * (f / dist[visible]) ** 2
        better = score > best_score[visible]
        best[visible[better]] = i
        best_score[visible[better]] = score[better]
    if smooth_rounds and n_faces:
        best = _smooth_labels(faces, best, len(views), smooth_rounds, views, vertices)
    return best


def _face_adjacency(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges.sort(axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, o = edges[order], owner[order]
    same = (e[1:] == e[:-1]).all(1)
    return o[:-1][same], o[1:][same]


def _smooth_labels(
    faces: np.ndarray,
    labels: np.ndarray,
    n_views: int,
    rounds: int,
    views: list[View],
    vertices: np.ndarray,
) -> np.ndarray:
    """Majority vote among edge neighbours, only towards views that see the face."""
    a, b = _face_adjacency(faces)
    tri = vertices[faces]
    for _ in range(rounds):
        votes = np.zeros((len(faces), n_views + 1), np.int32)
        np.add.at(votes, (a, labels[b] + 1), 1)
        np.add.at(votes, (b, labels[a] + 1), 1)
        votes[:, 0] = 0  # never vote for "unseen"
        cand = votes.argmax(1) - 1
        change = (cand >= 0) & (cand != labels) & (votes.max(1) >= 2)
        idx = np.nonzero(change)[0]
        # accept only if all three corners project inside the candidate photo, in front
        ok = np.zeros(len(idx), bool)
        for v in np.unique(cand[idx]):
            sel = cand[idx] == v
            uv, z = _project(views[v], tri[idx[sel]].reshape(-1, 3))
            good = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 1] >= 0)
            good &= (uv[:, 0] < views[v].width) & (uv[:, 1] < views[v].height)
            ok[sel] = good.reshape(-1, 3).all(1)
        labels = labels.copy()
        labels[idx[ok]] = cand[idx[ok]]
    return labels


def build_atlas(
    vertices: np.ndarray,
    faces: np.ndarray,
    labels: np.ndarray,
    views: list[View],
    image: Callable[[View], Image.Image],
    max_size: int = 4096,
    pad: int = 2,
) -> Textured:
    """Cut each patch from its photo, pack the pieces, and give every face corner a UV."""
    n_faces = len(faces)
    a, b = _face_adjacency(faces)
    same = labels[a] == labels[b]
    graph = coo_matrix((np.ones(same.sum()), (a[same], b[same])), shape=(n_faces, n_faces))
    _, comp = connected_components(graph, directed=False)
    corner_uv = np.zeros((n_faces, 3, 2))
    pieces = []  # (height, width, view, x0, y0, faces)
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    for group in np.split(order, bounds):
        v = int(labels[group[0]])
        if v < 0:
            continue
        uv, _ = _project(views[v], vertices[faces[group]].reshape(-1, 3))
        uv = uv.reshape(-1, 3, 2)
        corner_uv[group] = uv
        lo = np.floor(uv.reshape(-1, 2).min(0)).astype(int) - pad
        hi = np.ceil(uv.reshape(-1, 2).max(0)).astype(int) + pad
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, [views[v].width, views[v].height])
        pieces.append((int(hi[1] - lo[1]), int(hi[0] - lo[0]), v, int(lo[0]), int(lo[1]), group))
    unseen = labels < 0
    total = sum(h * w for h, w, *_ in pieces) + 16
    scale = min(1.0, (max_size * max_size * 0.8 / max(total, 1)) ** 0.5)
    placed, size = _pack(pieces, scale, max_size)
    while placed is None:
        scale *= 0.85
        placed, size = _pack(pieces, scale, max_size)
    atlas = Image.new("RGB", size, GREY)
    cache: dict[int, Image.Image] = {}
    uv_out = np.zeros((n_faces, 3, 2))
    for (h, w, v, x0, y0, group), (px, py) in zip(pieces, placed[:-1], strict=True):
        if v not in cache:
            cache = {v: image(views[v])}  # one photo in memory at a time, pieces are sorted
        crop = cache[v].crop((x0, y0, x0 + w, y0 + h))
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        if (sw, sh) != (w, h):
            crop = crop.resize((sw, sh), Image.Resampling.BILINEAR)
        atlas.paste(crop, (px, py))
        local = (corner_uv[group] - [x0, y0]) * [sw / w, sh / h] + [px, py]
        uv_out[group] = local
    gx, gy = placed[-1]
    uv_out[unseen] = [gx + 2, gy + 2]  # a grey square
    uv_out /= [size[0], size[1]]
    # one vertex per (face corner's vertex, patch): patches do not share UVs
    key = np.stack([faces.ravel(), np.repeat(comp, 3)], 1)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    new_uv = np.zeros((len(uniq), 2))
    new_uv[inverse.ravel()] = uv_out.reshape(-1, 2)
    seen = float((~unseen).sum() / max(1, n_faces))
    return Textured(
        vertices[uniq[:, 0]], inverse.reshape(-1, 3), new_uv, atlas, textured_fraction=seen
    )


def _pack(pieces: list, scale: float, max_size: int) -> tuple[list | None, tuple[int, int]]:
    """Shelf packing, tallest first; the last slot is a 4x4 grey square. Sorts ``pieces``."""
    pieces.sort(key=lambda p: (p[2], -p[0]))  # by view, so each photo loads once
    sizes = [(max(1, round(p[1] * scale)) + 1, max(1, round(p[0] * scale)) + 1) for p in pieces]
    sizes.append((5, 5))
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][1])
    width = max_size
    x = y = shelf = 0
    pos: list = [None] * len(sizes)
    for i in order:
        w, h = sizes[i]
        if w > width:
            return None, (0, 0)
        if x + w > width:
            y += shelf
            x, shelf = 0, 0
        pos[i] = (x, y)
        x += w
        shelf = max(shelf, h)
    height = y + shelf
    if height > max_size:
        return None, (0, 0)
    used_w = max(p[0] + s[0] for p, s in zip(pos, sizes, strict=True))
    return pos, (used_w, height)


def write_glb(textured: Textured, path: Path) -> None:
    import trimesh

    material = trimesh.visual.material.PBRMaterial(
        baseColorTexture=textured.atlas, metallicFactor=0.0, roughnessFactor=1.0
    )
    mesh = trimesh.Trimesh(
        textured.vertices,
        textured.faces,
        visual=trimesh.visual.TextureVisuals(uv=_to_gl_uv(textured.uv), material=material),
        process=False,
    )
    mesh.export(path, file_type="glb")


def _to_gl_uv(uv: np.ndarray) -> np.ndarray:
    # trimesh flips v when writing glTF (it stores OpenGL-style UVs, origin bottom-left)
    return np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])


def write_vertex_colour_glb(
    vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, path: Path
) -> None:
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, vertex_colors=colors, process=False)
    mesh.export(path, file_type="glb")

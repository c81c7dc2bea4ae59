"""Dense depth on a CPU: multi-view plane sweep with NCC, then geometric consistency.

For each photo ("reference") the best few neighbour photos are chosen by the
sparse points they share and the angle between their rays. A stack of planes
parallel to the reference image, evenly spaced in inverse depth between the
nearest and farthest sparse points, is swept; each neighbour is warped onto the
reference through each plane's homography (OpenCV, in C) and compared with
normalised cross-correlation in a small window (box filters). The score of a
depth is the mean of the best half of the neighbours' NCC, so that a part hidden
from one neighbour is still found in the others. The best plane is refined with
a parabola. Depths are then kept only where they agree with the depth maps of
at least two neighbours (geometric consistency), and fused into one oriented,
coloured point cloud. Everything is vectorised: memory is a few images per
reference, never a cost volume.

This is the classic plane-sweep stereo (Collins 1996; Gallup et al. 2007) with the
visibility-robust aggregation of Kang et al. 2001. It is weaker than PatchMatch
with per-pixel normals on steep, slanted surfaces; see the report's limits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from spadok.core.reconstruct.sfm import Sparse, View

log = logging.getLogger(__name__)


@dataclass
class DepthMap:
    view: View  # at the depth map's resolution (K scaled)
    depth: np.ndarray  # (H, W) float32, 0 where unknown
    score: np.ndarray  # (H, W) float32 NCC
    color: np.ndarray  # (H, W, 3) uint8
    gray: np.ndarray


@dataclass
class Dense:
    points: np.ndarray  # (N, 3) float64
    normals: np.ndarray  # (N, 3)
    colors: np.ndarray  # (N, 3) uint8
    depth_maps: list[DepthMap]
    # seconds and CPU seconds of each part: loading, each view's sweep, fusion
    stages: dict[str, dict[str, float]] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self._mark = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.stages[name] = {
            "seconds": round(wall - self._mark[0], 3),
            "cpu_seconds": round(cpu - self._mark[1], 3),
        }
        self._mark = (wall, cpu)


def load_view_image(view: View, path: str, max_size: int) -> tuple[View, np.ndarray]:
    """The photo undistorted to a pinhole camera and scaled to ``max_size``, with its view."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read {path}")
    if abs(view.k1) > 1e-7:
        bgr = cv2.undistort(bgr, view.K, np.array([view.k1, 0, 0, 0], float))
    s = min(1.0, max_size / max(bgr.shape[:2]))
    if s < 1:
        bgr = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    K = view.K.copy()
    K[:2] *= s
    # COLMAP puts the first pixel's centre at (0.5, 0.5), OpenCV at (0, 0)
    K[0, 2] = view.K[0, 2] * s - 0.5
    K[1, 2] = view.K[1, 2] * s - 0.5
    scaled = View(
        name=view.name,
        source=view.source,
        K=K,
        R=view.R,
        t=view.t,
        width=bgr.shape[1],
        height=bgr.shape[0],
        point_ids=view.point_ids,
    )
    return scaled, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def choose_neighbours(sparse: Sparse, count: int = 4) -> dict[str, list[str]]:
    """For each view, the views that share most points seen at a useful angle (5-45°)."""
    pts = {int(i): p for i, p in zip(sparse.point_ids, sparse.points, strict=True)}
    result: dict[str, list[str]] = {}
    for ref in sparse.views:
        scores = []
        for src in sparse.views:
            if src is ref:
                continue
            shared = ref.point_ids & src.point_ids
            if not shared:
                continue
            P = np.array([pts[i] for i in shared if i in pts])
            if len(P) == 0:
                continue
            a = P - ref.center
            b = P - src.center
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
            ang = np.degrees(np.arccos(np.clip(cos, -1, 1)))
            # weight shared points by how well their angle suits triangulation
            w = np.where(ang < 5, (ang / 5) ** 2, np.where(ang > 45, (45 / ang) ** 2, 1.0))
            scores.append((float(w.sum()), src.name))
        scores.sort(reverse=True)
        result[ref.name] = [n for s, n in scores[:count] if s > 5]
    return result


def depth_range(ref: View, sparse: Sparse) -> tuple[float, float] | None:
    idx = np.isin(sparse.point_ids, np.fromiter(ref.point_ids, np.int64, len(ref.point_ids)))
    P = sparse.points[idx]
    if len(P) < 10:
        P = sparse.points
    z = (P @ ref.R.T + ref.t)[:, 2]
    z = z[z > 0]
    if len(z) < 10:
        return None
    lo, hi = np.percentile(z, [1, 99])
    return float(lo) * 0.8, float(hi) * 1.25


def _box(a: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def plane_sweep(
    ref: View,
    ref_gray: np.ndarray,
    sources: list[tuple[View, np.ndarray]],
    zmin: float,
    zmax: float,
    planes: int = 128,
    radius: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Depth and score for every pixel of ``ref`` (0 depth where nothing matched)."""
    h, w = ref_gray.shape
    Kinv = np.linalg.inv(ref.K)
    mI = _box(ref_gray, radius)
    vI = np.maximum(_box(ref_gray * ref_gray, radius) - mI * mI, 1e-5)
    textured = vI > 2e-5  # flat windows (sky, plain walls) cannot be matched by NCC
    inv = np.linspace(1 / zmin, 1 / zmax, planes)
    keep = max(1, (len(sources) + 1) // 2)
    best = np.full((h, w), -np.inf, np.float32)
    best_i = np.zeros((h, w), np.int32)
    before = np.full((h, w), np.nan, np.float32)
    after = np.full((h, w), np.nan, np.float32)
    prev = np.full((h, w), np.nan, np.float32)
    n = np.array([0.0, 0.0, 1.0])
    rel = []
    for src, _ in sources:
        R = src.R @ ref.R.T
        rel.append((R, src.t - R @ ref.t))
    for k, invd in enumerate(inv):
        # the best `keep` NCC scores over the neighbours, kept sorted without a sort
        top = [np.full((h, w), -1.0, np.float32) for _ in range(keep)]
        for (src, gray), (R, t) in zip(sources, rel, strict=True):
            H = src.K @ (R + np.outer(t, n) * invd) @ Kinv
            J = cv2.warpPerspective(
                gray,
                H,
                (w, h),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0.0,  # outside the neighbour: flat, so NCC ~0 there
            )
            mJ = _box(J, radius)
            vJ = _box(J * J, radius)
            vJ -= mJ * mJ
            np.maximum(vJ, 1e-5, out=vJ)
            cov = _box(ref_gray * J, radius)
            cov -= mI * mJ
            vJ *= vI
            np.sqrt(vJ, out=vJ)
            x = cov / vJ
            for i in range(keep):
                hi = np.maximum(top[i], x)
                np.minimum(top[i], x, out=x)
                top[i] = hi
        score = top[0] if keep == 1 else sum(top[1:], top[0]) / keep
        # running best with the scores either side, for sub-plane refinement
        just_after = best_i == k - 1
        after[just_after] = score[just_after]
        better = score > best
        best[better] = score[better]
        best_i[better] = k
        before[better] = prev[better]
        after[better] = np.nan
        prev = score.astype(np.float32, copy=False)
    # parabola through (k-1, k, k+1) in inverse depth
    a, c = before, after
    denom = a - 2 * best + c
    ok = np.isfinite(a) & np.isfinite(c) & (denom < -1e-6)
    offset = np.zeros_like(best)
    offset[ok] = np.clip(0.5 * (a[ok] - c[ok]) / denom[ok], -0.5, 0.5)
    step = inv[1] - inv[0] if len(inv) > 1 else 0.0
    inv_best = inv[best_i] + offset * step
    depth = np.where(inv_best > 0, 1.0 / np.maximum(inv_best, 1e-12), 0).astype(np.float32)
    depth[~textured] = 0
    best[~textured] = -1
    return depth, best


def _backproject(view: View, depth: np.ndarray) -> np.ndarray:
    """World points (H, W, 3) of a depth map."""
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    Kinv = np.linalg.inv(view.K)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ Kinv.T
    cam = rays * depth[..., None]
    return (cam - view.t) @ view.R  # R^T (X - t)


def _normals(view: View, depth: np.ndarray, world: np.ndarray) -> np.ndarray:
    """Per-pixel normals from neighbouring depth pixels, turned towards the camera."""
    dx = np.zeros_like(world)
    dy = np.zeros_like(world)
    dx[:, 1:-1] = world[:, 2:] - world[:, :-2]
    dy[1:-1] = world[2:] - world[:-2]
    n = np.cross(dx, dy)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = n / np.maximum(norm, 1e-12)
    to_cam = view.center - world
    flip = (n * to_cam).sum(-1) < 0
    n[flip] *= -1
    return n


def consistency(
    maps: list[DepthMap], neighbours: dict[str, list[str]], rel_tol: float = 0.01
) -> list[np.ndarray]:
    """For each depth map, how many neighbour maps agree with each pixel's depth."""
    by_name = {m.view.name: m for m in maps}
    counts = []
    for m in maps:
        world = _backproject(m.view, m.depth)
        valid = m.depth > 0
        count = np.zeros(m.depth.shape, np.int32)
        for name in neighbours.get(m.view.name, []):
            o = by_name.get(name)
            if o is None:
                continue
            cam = world @ o.view.R.T + o.view.t
            z = cam[..., 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                uv = cam @ o.view.K.T
                u = np.round(uv[..., 0] / uv[..., 2]).astype(np.int64, copy=False)
                v = np.round(uv[..., 1] / uv[..., 2]).astype(np.int64, copy=False)
            inside = valid & (z > 0) & (u >= 0) & (v >= 0)
            inside &= (u < o.depth.shape[1]) & (v < o.depth.shape[0])
            d_other = np.zeros_like(z)
            d_other[inside] = o.depth[v[inside], u[inside]]
            agree = inside & (d_other > 0) & (np.abs(d_other - z) < rel_tol * z)
            count += agree
        counts.append(count)
    return counts


def run(
    sparse: Sparse,
    image_path: Callable[[View], str],
    max_size: int = 1000,
    neighbours_per_view: int = 4,
    planes: int = 128,
    min_score: float = 0.5,
    min_consistent: int = 2,
    progress: Callable[[float], None] | None = None,
) -> Dense:
    """Depth maps for every registered view, filtered and fused into one point cloud."""
    clock = _Clock()
    neighbours = choose_neighbours(sparse, neighbours_per_view)
    loaded: dict[str, tuple[View, np.ndarray, np.ndarray]] = {}
    for v in sparse.views:
        sv, rgb = load_view_image(v, image_path(v), max_size)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        loaded[v.name] = (sv, rgb, gray)
    clock.lap("mvs.load")
    maps: list[DepthMap] = []
    for i, v in enumerate(sparse.views):
        sv, rgb, gray = loaded[v.name]
        names = neighbours.get(v.name, [])
        rng = depth_range(v, sparse)
        if not names or rng is None:
            continue
        sources = [(loaded[n][0], loaded[n][2]) for n in names]
        depth, score = plane_sweep(sv, gray, sources, rng[0], rng[1], planes=planes)
        depth[score < min_score] = 0
        maps.append(DepthMap(sv, depth, score, rgb, gray))
        clock.lap(f"mvs.sweep.{v.name}")
        if progress:
            progress((i + 1) / len(sparse.views))
    need = {m.view.name: min(min_consistent, len(neighbours.get(m.view.name, []))) for m in maps}
    counts = consistency(maps, neighbours)
    pts, nrm, col = [], [], []
    for m, count in zip(maps, counts, strict=True):
        keep = (m.depth > 0) & (count >= max(1, need[m.view.name]))
        m.depth[~keep] = 0
        world = _backproject(m.view, m.depth)
        normals = _normals(m.view, m.depth, world)
        # keep pixels whose four neighbours have a depth close to theirs: elsewhere the
        # normal is unreliable (depth edges, isolated pixels)
        d = m.depth
        smooth = np.zeros_like(keep)
        c = d[1:-1, 1:-1]
        near = np.ones_like(c, dtype=bool)
        for nb in (d[1:-1, 2:], d[1:-1, :-2], d[2:, 1:-1], d[:-2, 1:-1]):
            near &= (nb > 0) & (np.abs(nb - c) < 0.02 * c)
        smooth[1:-1, 1:-1] = near
        sel = keep & smooth & np.isfinite(normals).all(-1)
        pts.append(world[sel])
        nrm.append(normals[sel])
        col.append(m.color[sel])
    clock.lap("mvs.fuse")
    if not pts:
        empty = np.zeros((0, 3))
        return Dense(empty, empty, np.zeros((0, 3), np.uint8), maps, clock.stages)
    return Dense(np.concatenate(pts), np.concatenate(nrm), np.concatenate(col), maps, clock.stages)

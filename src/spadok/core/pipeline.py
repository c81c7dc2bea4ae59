"""Processing of a finished scan, as a list of named steps.

``process`` reads a model from its files and writes its derivatives into a
working folder; it stores nothing and touches no database, so the command
line, the workers and the tests share it, and a failure leaves nothing
behind. Each step reports its duration and peak memory.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import hashlib
import logging
import resource
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spadok.core.derive.policy import DerivativeFile, policy_table
from spadok.core.errors import SpadokError
from spadok.core.formats import registry
from spadok.core.formats.base import Asset
from spadok.core.limits import DEFAULT_LIMITS, Limits

log = logging.getLogger(__name__)

STEPS = ("identify", "read", "statistics", "web", "thumbnail")

# Formats whose files are Z-up by convention; glTF is Y-up by its spec.
Z_UP_FAMILIES = {"las", "e57", "pcd", "xyz", "threemf", "stl"}

ProgressFn = Callable[[str, float], None]


@dataclass
class Processed:
    asset: Asset
    stats: dict[str, Any]
    derivatives: list[DerivativeFile] = field(default_factory=list)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)


def _peak_mb() -> float:
    """This process's own high-water mark of resident memory, in MB.

    VmHWM belongs to the address space, which exec replaces; ru_maxrss also
    keeps the peak of whatever process this one was forked from.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (gltfpack).

    Unlike wall time, it hardly changes when other work shares the machine.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class _Steps:
    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.timings: dict[str, dict[str, float]] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress:
            self.progress(name, STEPS.index(name.split(".")[0]) / len(STEPS))
        start = time.perf_counter()
        result = fn()
        self.timings[name] = {
            "seconds": round(time.perf_counter() - start, 3),
            "peak_rss_mb": round(_peak_mb(), 1),
        }
        log.info("step %s took %.2fs", name, self.timings[name]["seconds"])
        return result


class _Release:
    """Lets go of a mesh master's geometry once every reader is done with it.

    Statistics read the trimesh scene (float64 vertices, int64 faces); the web
    copies read it once into float32 arrays. After both, nothing needs it, and
    the memory (about 60% of the mesh's) goes back to the system before the
    simplifier and gltfpack reach their peaks. ``asset.scene`` is None after.
    """

    def __init__(self, asset: Asset, readers: int) -> None:
        self.asset = asset
        self.left = readers
        self.lock = threading.Lock()

    def after(self, fn: Callable[[Asset], Any], asset: Asset) -> Any:
        try:
            return fn(asset)
        finally:
            self.done()

    def done(self) -> None:
        with self.lock:
            self.left -= 1
            if self.left:
                return
            scene, self.asset.scene = self.asset.scene, None
        if scene is not None:
            scene.geometry.clear()  # shared with the Y-up view: both let go
        del scene
        release_memory()


def tune_malloc() -> None:
    """Let glibc return big freed blocks to the system (once per process).

    By default glibc raises its mmap threshold after the first large free, so
    later arrays of up to 32 MB come from heaps it seldom gives back, and the
    process keeps its peak long after. A fixed threshold keeps big arrays in
    their own mappings, returned on free. Not glibc: nothing to do.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)


def release_memory() -> None:
    """Give freed heap memory back to the system now (glibc's malloc_trim)."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MALLOC_TUNED = False


@functools.cache
def _glibc() -> Any:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


# Formats with no up convention: scanners often write Z-up, viewers assume Y-up.
GUESS_UP_FAMILIES = {"ply", "off", "vtp"}


def up_axis(asset: Asset, size: list[float] | None = None) -> str:
    """The model's up axis: the format's word, its convention, or a guess.

    For formats without a convention, a model clearly tallest along Z (a
    statue, a bottle, a tower) is taken as Z-up; anything else stays Y-up.
    """
    if asset.up_axis in {"Y", "Z"}:
        return asset.up_axis
    spec = registry.by_name(asset.format)
    if spec.family in Z_UP_FAMILIES or asset.crs:
        return "Z"
    if spec.family in GUESS_UP_FAMILIES and size and len(size) == 3:
        x, y, z = (abs(float(v)) for v in size)
        if z > 1.2 * max(x, y):
            return "Z"
    return "Y"


def process(
    primary: Path,
    workdir: Path,
    *,
    root: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: ProgressFn | None = None,
) -> Processed:
    """Read, measure and derive one model; raise :class:`SpadokError` on bad input."""
    from spadok.core import stats as stats_mod

    tune_malloc()
    steps = _Steps(progress)
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    registry.check_file(primary, limits)
    spec = steps.run("identify", lambda: registry.detect(primary))
    if spec is None:
        raise SpadokError("format.unknown", primary.name)
    asset: Asset = steps.run("read", lambda: registry.load(primary, root=root, limits=limits))
    out = workdir / "derivatives"
    out.mkdir(parents=True, exist_ok=True)
    derivatives: list[DerivativeFile] = []
    try:
        if asset.scene is not None and not asset.stored_only:
            # Meshes: statistics (numpy, mostly outside the GIL) run beside the
            # levels of detail (meshoptimizer and gltfpack), on the master as read.
            bounds = asset.scene.bounds
            size = (bounds[1] - bounds[0]).tolist() if bounds is not None else None
            asset.up_axis = up_axis(asset, size)
            # Statistics, normals and textures run while the master is read into
            # web arrays; the master's geometry is let go once both readers are
            # done with it and the full-size textures once encoded, all before
            # the simplifier starts: their peaks do not stack on its own.
            release = _Release(asset, readers=2)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spadok-stats") as pool:
                first = pool.submit(
                    steps.run,
                    "statistics",
                    lambda: release.after(stats_mod.asset_stats_split, asset),
                )
                # The edge facts (the sort of every edge) wait until the first,
                # largest simplification is done, so that their peaks do not stack.
                later: list[Future[dict[str, Any]]] = []

                def edge_facts() -> dict[str, Any]:
                    edges = first.result()[1]
                    return stats_mod.jsonable(edges()) if edges is not None else {}

                def start_edges() -> None:
                    if not later:
                        later.append(pool.submit(steps.run, "statistics.edges", edge_facts))

                def master_gone() -> None:
                    # The simplifier's peak (its own structures, a few times the
                    # mesh) must not stack on the master's geometry: it starts
                    # once the statistics, the master's last reader, are done
                    # with it. Normals and textures run meanwhile.
                    wait([first])

                view = y_up_view(asset)
                derivatives.extend(
                    steps.run(
                        "web",
                        lambda: make_web(
                            asset,
                            out,
                            view,
                            None,  # textures on a thread of their own, beside the statistics
                            release.done,
                            after_first_tier=start_edges,
                            before_simplify=master_gone,
                        ),
                    )
                )
                del view
                start_edges()
                stats = first.result()[0]
                stats.update(later[0].result())
        else:
            stats = steps.run("statistics", lambda: stats_mod.asset_stats(asset))
            asset.up_axis = up_axis(asset, stats.get("size"))
            # Big point clouds: the streaming octree, from the whole cloud in the file's axes.
            derivatives.extend(steps.run("web.lod", lambda: make_point_lod(asset, out)))
            turn_points_y_up(asset)
            derivatives.extend(steps.run("web", lambda: make_web(asset, out)))
        stats["up_axis"] = asset.up_axis
        if not any(d.role == "thumbnail" for d in derivatives):
            thumb = steps.run("thumbnail", lambda: make_thumbnail(asset, out))
            if thumb is not None:
                derivatives.append(thumb)
    except MemoryError as exc:
        raise SpadokError("input.too_large", "the model does not fit in memory") from exc
    steps.timings["total"] = {
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 3),
        "peak_rss_mb": round(_peak_mb(), 1),
    }
    if progress:
        progress("done", 1.0)
    return Processed(asset=asset, stats=stats, derivatives=derivatives, timings=steps.timings)


def make_web(
    asset: Asset,
    out: Path,
    view: Any = None,
    executor: Executor | None = None,
    extracted: Callable[[], None] | None = None,
    after_first_tier: Callable[[], None] | None = None,
    before_simplify: Callable[[], None] | None = None,
) -> list[DerivativeFile]:
    """The web copies a viewer loads: GLB levels of detail, or points."""
    if asset.stored_only:
        return []
    if asset.kind in {"mesh", "scene"} and asset.scene is not None:
        from spadok.core.derive.webglb import make_mesh_lods

        # The thumbnail is rendered from a small tier while gltfpack compresses.
        scene = view if view is not None else asset.scene
        view = None
        return make_mesh_lods(
            scene,
            out,
            thumbnail=out / "thumbnail.png",
            up="Y",
            texture_executor=executor,
            extracted=extracted,
            after_first_tier=after_first_tier,
            before_simplify=before_simplify,
        )
    if asset.points is not None:
        from spadok.core.derive.pointweb import make_point_glb

        return [make_point_glb(asset.points, out / "web-points.glb", up="Y")]
    return []


def make_point_lod(asset: Asset, out: Path) -> list[DerivativeFile]:
    """The octree of point tiles for clouds past the policy's size (none for others)."""
    if asset.points is None:
        return []
    from spadok.core.derive.octree import make_asset_lod

    return make_asset_lod(asset, out)


def make_thumbnail(asset: Asset, out: Path) -> DerivativeFile | None:
    if asset.stored_only:
        return None
    from spadok.core.derive.thumbnail import render_thumbnail

    return render_thumbnail(asset, out / "thumbnail.png", up="Y")


_Z_TO_Y = ((1, 0, 0, 0), (0, 0, 1, 0), (0, -1, 0, 0), (0, 0, 0, 1))


def y_up_view(asset: Asset) -> Any:
    """The mesh scene as glTF's Y-up sees it, sharing the geometry (no vertex copy).

    Only the scene graph is copied and turned, so statistics can read the
    master in its own axes at the same time.
    """
    scene = asset.scene
    if asset.up_axis != "Z" or scene is None:
        return scene
    import numpy as np
    import trimesh

    view = trimesh.Scene(base_frame=scene.graph.base_frame)
    view.geometry = scene.geometry
    view.graph = scene.graph.copy()
    view.apply_transform(np.array(_Z_TO_Y, dtype=float))
    return view


def turn_points_y_up(asset: Asset) -> None:
    """Turn a Z-up point cloud to glTF's Y-up in place, before any web copy is made."""
    if asset.up_axis != "Z" or asset.points is None:
        return
    pos = asset.points.positions
    y = pos[:, 1].copy()
    pos[:, 1] = pos[:, 2]
    pos[:, 2] = -y


def file_digests(path: Path, algorithms: tuple[str, ...] = ("sha256", "sha512")) -> dict[str, str]:
    """Digests of a file in one streaming pass."""
    hashes = {a: hashlib.new(a) for a in algorithms}
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}


__all__ = ["STEPS", "Processed", "file_digests", "policy_table", "process"]

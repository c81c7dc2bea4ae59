"""bench/bigdata: ingest of a 50-million-point LAZ and a 5-million-triangle mesh.

Builds (once, cached under bench/results/cache, never committed):

* a LAZ of ``--points`` points (50 M by default) made of jittered, tiled copies of
  the real aerial LiDAR ``autzen_trim.laz`` from the shared data (110 k points,
  RGB, intensity, classification), laid out on a grid like the tiles of a survey;
* the textured Lucy of ``--triangles`` triangles that ``bench/ingest`` builds.

Then, in the same run, each input beside a peer on the same file:

* LAZ: ``laspy.read`` of the whole file (what a loader that holds every point
  does) against ``spadok ingest --json`` (streamed statistics, a bounded sample
  for the thumbnail and the point GLB, and the octree of point tiles);
* mesh: ``gltfpack -cc`` against ``spadok ingest --json``.

Seconds and peak memory of the whole process tree (sampled RSS and the kernel's
high-water mark, see ``bench/ingest.py``). Run by hand:

    .venv/bin/python -m bench.bigdata [--points 50000000] [--triangles 5000000]
                                      [--skip-mesh] [--skip-points]

Results are printed and written to bench/results/bigdata.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.ingest import CACHE, ROOT, build_scan, data_dir, measured, mesh_memory, node_modules

SOURCE_LAZ = "pointclouds/las_laspy_tests/autzen_trim.laz"


def build_laz(points: int, out: Path | None = None, seed: int = 11) -> Path:
    """A LAZ of about ``points`` points: jittered copies of a real aerial tile, side by side.

    Each copy is shifted by the tile's own extent on a square grid, its
    coordinates jittered by up to 3 cm and its heights by a smooth per-tile
    offset, so that no two tiles are alike. Written chunk by chunk: building
    it never holds more than one tile.
    """
    import laspy

    out = out or CACHE / f"autzen-tiled-{points}.laz"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    source = laspy.read(data_dir() / SOURCE_LAZ)
    n = len(source.points)
    copies = max(1, -(-points // n))
    side = int(np.ceil(np.sqrt(copies)))
    header = laspy.LasHeader(point_format=source.header.point_format, version="1.2")
    header.scales = source.header.scales
    header.offsets = source.header.offsets
    for vlr in source.header.vlrs:
        header.vlrs.append(vlr)
    span = (np.asarray(source.header.maxs) - np.asarray(source.header.mins)) / np.asarray(
        source.header.scales
    )
    step_x, step_y = int(span[0]) + 100, int(span[1]) + 100
    rng = np.random.default_rng(seed)
    tmp = out.with_suffix(".part")
    written = 0
    with laspy.open(tmp, mode="w", header=header, do_compress=True) as writer:
        for i in range(copies):
            take = min(n, points - written)
            if take <= 0:
                break
            tile = source.points[:take].copy()
            gx, gy = i % side, i // side
            tile.X = tile.X + gx * step_x + rng.integers(-3, 4, take, dtype=np.int32)
            tile.Y = tile.Y + gy * step_y + rng.integers(-3, 4, take, dtype=np.int32)
            tile.Z = tile.Z + int(300 * np.sin(gx / 3.0) * np.cos(gy / 4.0))
            writer.write_points(tile)
            written += take
    tmp.rename(out)
    return out


def laspy_peer(path: Path) -> dict[str, Any]:
    """``laspy.read`` of the whole file in a fresh process: every point in memory."""
    code = (
        "import sys, laspy, numpy as np\n"
        "las = laspy.read(sys.argv[1])\n"
        "xyz = np.stack([las.x, las.y, las.z], axis=1)\n"
        "print(len(las.points), xyz.min(axis=0).tolist())\n"
    )
    m = measured([sys.executable, "-c", code, str(path)])
    return {"seconds": round(m.seconds, 2), "peak_mb": round(m.tree_peak_mb, 1)}


def spadok_ingest(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``spadok ingest --json`` in a fresh embedded archive."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SPADOK_HOME": f"{tmp}/home"}
        env.pop("DATABASE_URL", None)
        env.pop("SPADOK_STORAGE", None)
        cmd = [sys.executable, "-m", "spadok", "ingest", "--json", "--quiet", str(path)]
        m = measured(cmd, env=env)
        result = json.loads(m.stdout.strip().splitlines()[-1])
        if result["status"] != "ok":
            raise SystemExit(f"ingest failed: {result['error']}")
        sizes = {role: Path(p).stat().st_size for role, p in result["files"].items()}
    out = {
        "seconds": round(m.seconds, 2),
        "peak_mb": round(m.tree_peak_mb, 1),
        "self_peak_mb": round(m.self_peak_mb, 1),
        "cpu_seconds": round(m.cpu_seconds, 2),
        "file_bytes": sizes,
    }
    return out, result


def bench_points(points: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    laz = build_laz(points)
    built = time.perf_counter() - t0
    peer = laspy_peer(laz)
    ours, result = spadok_ingest(laz)
    stats = result["stats"]
    in_memory_mb = stats["points"] * (3 * 8) / 1024**2  # float64 positions alone
    return {
        "input": laz.name,
        "input_bytes": laz.stat().st_size,
        "build_seconds": round(built, 1),
        "points": stats["points"],
        "positions_float64_mb": round(in_memory_mb, 1),
        "peer_laspy_read": peer,
        "spadok_ingest": ours,
        "steps": result.get("timings"),
        "memory_vs_peer": round(ours["peak_mb"] / peer["peak_mb"], 3),
        "time_vs_peer": round(ours["seconds"] / peer["seconds"], 3),
    }


def bench_mesh(triangles: int) -> dict[str, Any]:
    scan = build_scan(triangles)
    mem = mesh_memory(scan)
    gltfpack = node_modules() / ".bin" / "gltfpack"
    with tempfile.TemporaryDirectory() as tmp:
        g = measured([str(gltfpack), "-i", str(scan), "-o", f"{tmp}/g.glb", "-cc"])
    ours, result = spadok_ingest(scan)
    return {
        "input": scan.name,
        "triangles": result["stats"].get("triangles"),
        "mesh_in_memory_mb": mem,
        "peer_gltfpack_cc": {"seconds": round(g.seconds, 2), "peak_mb": round(g.tree_peak_mb, 1)},
        "spadok_ingest": ours,
        "steps": result.get("timings"),
        "memory_vs_mesh": round(ours["peak_mb"] / mem["as_loaded"], 3),
        "time_vs_peer": round(ours["seconds"] / g.seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=50_000_000)
    parser.add_argument("--triangles", type=int, default=5_000_000)
    parser.add_argument("--skip-mesh", action="store_true")
    parser.add_argument("--skip-points", action="store_true")
    args = parser.parse_args()
    summary: dict[str, Any] = {
        "definitions": {
            "seconds": "wall time of the whole command in a fresh process (interpreter start "
            "included); the machine may be shared, so compare within one run",
            "peak_mb": "largest summed RSS of the process and all its children, sampled every "
            "5 ms, or the kernel's high-water mark of the process, whichever is larger",
        }
    }
    if not args.skip_points:
        summary["laz"] = bench_points(args.points)
        print(json.dumps(summary["laz"], indent=2), flush=True)
    if not args.skip_mesh:
        summary["mesh"] = bench_mesh(args.triangles)
        print(json.dumps(summary["mesh"], indent=2), flush=True)
    out = ROOT / "bench" / "results" / "bigdata.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # a run of one part keeps the other part's last figures
        summary = {**json.loads(out.read_text()), **summary}
    out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

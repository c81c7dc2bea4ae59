"""bench/ingest: spadok's whole ingest beside `gltfpack -cc` on the same textured scan.

Builds (once, cached) a textured scan of 1M+ triangles from a real scan in the
shared data (the Lucy statue, subdivided, with UVs and a 4096² texture), then
in the same run times:

* ``gltfpack -i scan.glb -o out.glb -cc`` (the peer tool: quantise + meshopt);
* ``spadok ingest --json scan.glb`` in a fresh embedded archive: validation,
  statistics, all levels of detail and the thumbnail, with per-step seconds and
  peak memory.

Targets (issue "archive foundation"): the whole ingest within 2.5× gltfpack's
time; peak memory within 3× the mesh's in-memory size. Run by hand:

    .venv/bin/python -m bench.ingest [--triangles 1300000] [--repeat 3]

Results are printed and written to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "results" / "cache"


def data_dir() -> Path:
    return Path(os.environ.get("SPADOK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


def build_scan(triangles: int) -> Path:
    """A textured GLB of at least ``triangles`` triangles made from a real scan."""
    import trimesh
    from PIL import Image

    out = CACHE / f"lucy-textured-{triangles}.glb"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    mesh = trimesh.load(data_dir() / "scans" / "stanford_via_pyvista" / "lucy.ply", process=False)
    while len(mesh.faces) < triangles:
        vertices, faces = trimesh.remesh.subdivide(mesh.vertices, mesh.faces)
        mesh = trimesh.Trimesh(vertices, faces, process=False)
    # Cylindrical UVs around the statue's long axis, and a procedural stone texture.
    v = mesh.vertices - mesh.vertices.mean(axis=0)
    axis = int(np.argmax(np.ptp(v, axis=0)))
    a, b = [i for i in range(3) if i != axis]
    u = (np.arctan2(v[:, b], v[:, a]) / (2 * np.pi)) + 0.5
    h = (v[:, axis] - v[:, axis].min()) / np.ptp(v[:, axis])
    uv = np.column_stack([u, h])
    rng = np.random.default_rng(7)
    size = 4096
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    noise = rng.random((size // 16, size // 16)).astype(np.float32)
    noise = np.kron(noise, np.ones((16, 16), np.float32))
    base = 0.55 + 0.25 * np.sin(xx * 40) * np.cos(yy * 25) + 0.2 * noise
    rgb = np.stack([base * 0.95, base * 0.85, base * 0.7], axis=-1)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image)
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    mesh.export(out)
    return out


def node_modules() -> Path:
    return Path(os.environ.get("SPADOK_NODE_MODULES", ROOT / "node_modules"))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds and the child's peak RSS (MB) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
    # ru_maxrss of children is the max over all children so far: run the
    # smaller command first or in a fresh interpreter to read it cleanly.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024, proc.stdout


def peak_of(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command under a fresh Python so its peak RSS is its own."""
    wrapper = (
        "import resource,subprocess,sys,time,json;"
        "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "s=time.perf_counter()-t;"
        "r=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024;"
        "print(json.dumps({'seconds':s,'peak_mb':r,'rc':p.returncode,"
        "'stdout':p.stdout,'stderr':p.stderr[-3000:]}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env
    )
    out = json.loads(proc.stdout)
    if out["rc"] != 0:
        raise SystemExit(f"{cmd} failed: {out['stderr']}")
    return out["seconds"], out["peak_mb"], out["stdout"]


def mesh_memory_mb(path: Path) -> float:
    """The mesh's in-memory size: its arrays as loaded, plus the decoded texture."""
    import trimesh

    scene = trimesh.load(path, process=False, force="scene")
    total = 0
    for geom in scene.geometry.values():
        total += geom.vertices.nbytes + geom.faces.nbytes
        visual = geom.visual
        uv = getattr(visual, "uv", None)
        if uv is not None:
            total += np.asarray(uv).nbytes
        image = getattr(getattr(visual, "material", None), "baseColorTexture", None)
        if image is not None:
            total += image.width * image.height * len(image.getbands())
    return total / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triangles", type=int, default=1_300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    scan = build_scan(args.triangles)
    gltfpack = node_modules() / ".bin" / "gltfpack"
    mem_mb = mesh_memory_mb(scan)
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            g_s, g_mb, _ = peak_of([str(gltfpack), "-i", str(scan), "-o", f"{tmp}/g.glb", "-cc"])
            env = {**os.environ, "SPADOK_HOME": f"{tmp}/home"}
            env.pop("DATABASE_URL", None)
            env.pop("SPADOK_STORAGE", None)
            # A small model first warms the process, as a long-running worker is:
            # the big scan's own step timings then exclude interpreter start-up.
            warmup = Path(tmp) / "warmup.obj"
            warmup.write_text(
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 2 3 4\nf 1 4 3\n"
            )
            s_s, s_mb, stdout = peak_of(
                [
                    sys.executable,
                    "-m",
                    "spadok",
                    "ingest",
                    "--json",
                    "--quiet",
                    str(warmup),
                    str(scan),
                ],
                env=env,
            )
            result = json.loads(stdout.splitlines()[-1])
            if result["status"] != "ok":
                raise SystemExit(f"ingest failed: {result['error']}")
            runs.append(
                {
                    "gltfpack_s": round(g_s, 3),
                    "gltfpack_peak_mb": round(g_mb, 1),
                    "spadok_s": round(s_s, 3),
                    "spadok_peak_mb": round(s_mb, 1),
                    "steps": result.get("timings", {}),
                }
            )
    best = min(runs, key=lambda r: r["steps"]["total"]["seconds"])
    g_best = min(r["gltfpack_s"] for r in runs)
    steps_total = best["steps"]["total"]["seconds"]
    baseline = best["steps"]["identify"]["peak_rss_mb"]
    summary = {
        "input": scan.name,
        "triangles": result["stats"].get("triangles"),
        "mesh_in_memory_mb": round(mem_mb, 1),
        "gltfpack_s": g_best,
        "spadok_ingest_s": best["spadok_s"],
        "spadok_steps_s": steps_total,
        "time_ratio": round(best["spadok_s"] / g_best, 2),
        "time_ratio_steps": round(steps_total / g_best, 2) if steps_total else None,
        "spadok_peak_mb": best["spadok_peak_mb"],
        "memory_ratio": round(best["spadok_peak_mb"] / mem_mb, 2),
        "spadok_peak_above_baseline_mb": round(best["spadok_peak_mb"] - baseline, 1),
        "memory_ratio_above_baseline": round((best["spadok_peak_mb"] - baseline) / mem_mb, 2),
        "targets": {"time_ratio": 2.5, "memory_ratio": 3.0},
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    print("steps:", json.dumps(best["steps"]))


if __name__ == "__main__":
    main()

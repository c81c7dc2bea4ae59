"""bench/audit: spadok's fixity audit beside ``sha512sum`` on the same content files.

Builds (once, cached under bench/results/cache/audit-root) an OCFL root of about
2 GB in files of mixed sizes, warms the page cache (dropping it needs root), then
times on the same files, best of ``--repeat``:

* ``sha512sum`` in one process, and ``xargs -P<workers> sha512sum`` (parity with
  our thread count);
* ``spadok.core.preservation.audit.audit`` with ``workers`` threads (which also
  reads and checks every inventory and sidecar).

Target: audit throughput >= 0.8 x sha512sum's at the same parallelism. Run by hand:

    .venv/bin/python -m bench.audit [--gb 2] [--workers 2] [--repeat 3]

Results are printed and written to bench/results/audit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from spadok.core.preservation.audit import audit
from spadok.core.preservation.ocfl import OcflStore
from spadok.core.storage.local import LocalStorage

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MB = 1024 * 1024

# (count, size) per tier, for 1 GB; scaled by --gb.
TIERS = [(2, 256 * MB), (8, 32 * MB), (100, 1 * MB), (400, 64 * 1024)]


def build(root: Path, gb: float) -> OcflStore:
    store = OcflStore(LocalStorage(root))
    marker = root.parent / "audit-root.complete"
    if marker.exists() and marker.read_text() == str(gb):
        return store
    if root.exists():
        import shutil

        shutil.rmtree(root)
    store = OcflStore(LocalStorage(root))
    store.init_root()
    rng = np.random.default_rng(42)
    src = root.parent / "audit-src"
    src.mkdir(parents=True, exist_ok=True)
    n = 0
    for count, size in TIERS:
        for _ in range(max(1, round(count * gb))):
            path = src / "f.bin"
            path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            store.create_object(
                f"urn:bench:{n}", [(path, "scan.bin")], message="bench", user_name="bench"
            )
            n += 1
    (src / "f.bin").unlink()
    marker.write_text(str(gb))
    return store


def content_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "/content/" in p.as_posix())


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sha512sum(files: list[Path], parallel: int) -> None:
    listing = b"\0".join(str(p).encode() for p in files)
    per = max(1, len(files) // (parallel * 8))
    cmd = ["xargs", "-0", f"-P{parallel}", f"-n{per}", "sha512sum"]
    subprocess.run(cmd, input=listing, stdout=subprocess.DEVNULL, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    root = RESULTS / "cache" / "audit-root"
    t0 = time.perf_counter()
    store = build(root, args.gb)
    built_s = time.perf_counter() - t0
    files = content_files(root)
    total = sum(p.stat().st_size for p in files)
    print(f"{len(files)} content files, {total / 1e9:.2f} GB (built/reused in {built_s:.0f} s)")

    sha512sum(files, 2)  # warm the page cache for everyone
    best: dict[str, float] = {}
    report = None
    for _ in range(args.repeat):
        runs = {
            "sha512sum_1": lambda: sha512sum(files, 1),
            f"sha512sum_P{args.workers}": lambda: sha512sum(files, args.workers),
        }
        for name, fn in runs.items():
            best[name] = min(best.get(name, float("inf")), timed(fn))
        start = time.perf_counter()
        report = audit([store], workers=args.workers)
        best["spadok_audit"] = min(
            best.get("spadok_audit", float("inf")), time.perf_counter() - start
        )
        assert report.ok and report.bytes_checked == total, report.as_dict()

    mbs = {name: total / 1e6 / s for name, s in best.items()}
    result = {
        "files": len(files),
        "bytes": total,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "mb_s": {k: round(v, 1) for k, v in mbs.items()},
        "ratio_vs_sha512sum_same_parallelism": round(
            mbs["spadok_audit"] / mbs[f"sha512sum_P{args.workers}"], 3
        ),
        "ratio_vs_sha512sum_one_process": round(mbs["spadok_audit"] / mbs["sha512sum_1"], 3),
        "target": 0.8,
    }
    for name, value in mbs.items():
        print(f"{name:>16}: {value:8.1f} MB/s ({best[name]:.2f} s)")
    print(f"ratio vs sha512sum -P{args.workers}: {result['ratio_vs_sha512sum_same_parallelism']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "audit.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

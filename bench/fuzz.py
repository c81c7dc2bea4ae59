"""bench/fuzz: a long fuzzing run of the format readers, by hand (not a CI test).

Mutates the real files of the shared data (``SPADOK_TEST_DATA``, see
tests/fuzz/mutate.py for the seeds and the mutations) at random and reads each
mutant in a child process under a memory cap and a time limit
(tests/fuzz/sandbox.py). Every input that ends in anything but a model or a
``SpadokError`` with a known code (an uncaught exception, a hang, a crash,
memory far beyond the file's size, files left behind) is written to
``bench/results/fuzz/<family>/`` with a JSON note of the seed and the
mutation, so that it can be shrunk by hand and added to the regression corpus
``tests/fuzz/corpus/``.

    .venv/bin/python -m bench.fuzz [--minutes 30] [--mode load|process] [--family ply] [--seed 1]
    .venv/bin/python -m bench.fuzz --other-paths [--examples 2000]

``--other-paths`` runs instead the long Hypothesis runs of the other input paths
(zips, tus sessions, search parameters, site and damage lists: the ``fuzz_long``
tests of tests/fuzz/) with ``--examples`` examples each.

Prints a summary and writes bench/results/fuzz.json. The same properties run
under Hypothesis in CI (few examples) and with ``pytest -m fuzz_long`` (many).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.mutate import FIELDS, INTERESTING, SEEDS, Seed, materialise  # noqa: E402
from tests.fuzz.sandbox import Outcome, Sandbox  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def random_op(rng: random.Random, family: str) -> tuple[Any, ...]:
    def number() -> int:
        return rng.choice(INTERESTING) if rng.random() < 0.7 else rng.randrange(2**64)

    def chunk() -> bytes:
        return rng.choice([rng.randbytes(rng.randint(1, 64)), b"\x00" * 16, b"\xff" * 16, b"nan "])

    kind = rng.choice(
        ["flip", "flip", "set", "insert", "delete", "truncate", "dup", "int", "field", "field"]
    )
    if kind == "field" and FIELDS.get(family):
        text = rng.choice(
            ["nan nan nan", "1e999 0 0", "../../../etc/passwd", "a" * 300, "ascii 1.0", "Ж"]
        )
        return ("field", rng.choice(FIELDS[family]), rng.randint(0, 64), number(), text)
    if kind in ("flip", "field"):
        return ("flip", rng.random(), rng.randint(0, 7))
    if kind == "set":
        return ("set", rng.random(), chunk())
    if kind == "insert":
        return ("insert", rng.random(), chunk())
    if kind == "delete":
        return ("delete", rng.random(), rng.randint(1, 4096))
    if kind == "truncate":
        return ("truncate", rng.random())
    if kind == "dup":
        return ("dup", rng.random(), rng.randint(1, 4096), rng.random())
    return ("int", rng.random(), rng.choice([1, 2, 4, 8]), number())


def _jsonable(ops: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [[v.hex() if isinstance(v, bytes) else v for v in op] for op in ops]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--mode", choices=["load", "process"], default="load")
    parser.add_argument("--family", action="append", help="only seeds of this family")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--memory-mb", type=int, default=1536)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--other-paths", action="store_true", help="zips, tus, search, lists")
    parser.add_argument("--examples", type=int, default=2000, help="with --other-paths")
    args = parser.parse_args()
    if args.other_paths:
        return _other_paths(args.examples)

    seeds = [s for s in SEEDS if not args.family or s.family in args.family]
    seeds = [s for s in seeds if all(p.exists() for p in s.files())]
    if not seeds:
        print("no seed files found: set SPADOK_TEST_DATA", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    out_dir = RESULTS / "fuzz"
    counts: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    findings: list[dict[str, Any]] = []
    seen: set[str] = set()
    deadline = time.monotonic() + args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="spadok-fuzz-bench-"))
    started = time.monotonic()
    runs = 0
    try:
        with Sandbox(mode=args.mode, memory_mb=args.memory_mb, timeout_s=args.timeout) as box:
            while time.monotonic() < deadline:
                seed: Seed = rng.choice(seeds)
                ops = [random_op(rng, seed.family) for _ in range(rng.randint(1, 4))]
                target = rng.randint(0, len(seed.sidecars) + 1) if seed.sidecars else 0
                folder = work / f"m{runs}"
                path = materialise(seed, ops, target, folder)
                outcome: Outcome = box.run(path)
                runs += 1
                counts[outcome.kind] += 1
                if outcome.code:
                    codes[outcome.code] += 1
                if outcome.bad:
                    key = _signature(seed, outcome)
                    if key not in seen:
                        seen.add(key)
                        findings.append(_keep(out_dir, seed, ops, target, folder, outcome))
                        print(f"[{runs}] {seed.path}: {outcome.kind}: {_last_line(outcome)}")
                shutil.rmtree(folder, ignore_errors=True)
                if runs % 200 == 0:
                    print(f"{runs} runs, {dict(counts)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    summary = {
        "mode": args.mode,
        "random_seed": args.seed,
        "runs": runs,
        "seconds": round(elapsed, 1),
        "runs_per_second": round(runs / max(elapsed, 1e-9), 2),
        "outcomes": dict(counts),
        "error_codes": dict(codes.most_common()),
        "findings": findings,
        "table": [
            [
                f"fuzz the format readers ({args.mode}, {runs:,} mutants of {len(seeds)} files)",
                f"{len(findings)} findings",
                "—",
                f"{runs / max(elapsed, 1e-9):.1f} files/s; "
                + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                "0 findings",
            ]
        ],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "findings"}, indent=2))
    print(f"{len(findings)} distinct findings, kept in {out_dir}")
    return 1 if findings else 0


def _other_paths(examples: int) -> int:
    """The long Hypothesis runs of every input path but the format readers."""
    import os
    import subprocess

    env = {**os.environ, "SPADOK_FUZZ_EXAMPLES": str(examples)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
           "-m", "fuzz_long", "tests/fuzz", "-k", "not mutated_files and not pipeline"]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def _last_line(outcome: Outcome) -> str:
    lines = [line for line in outcome.detail.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else outcome.kind


def _signature(seed: Seed, outcome: Outcome) -> str:
    """One finding per family, kind and place in the code (the traceback's last frames)."""
    frames = [
        line.strip() for line in outcome.detail.splitlines() if line.strip().startswith("File ")
    ]
    where = "|".join(frames[-2:]) if frames else _last_line(outcome).split(":")[0]
    return f"{seed.family}|{outcome.kind}|{where}"


def _keep(
    out_dir: Path,
    seed: Seed,
    ops: list[tuple[Any, ...]],
    target: int,
    folder: Path,
    outcome: Outcome,
) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(_jsonable(ops)).encode() + seed.path.encode()).hexdigest()[
        :12
    ]
    dest = out_dir / seed.family / digest
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest)
    note = {
        "seed": seed.path,
        "ops": _jsonable(ops),
        "target": target,
        "outcome": outcome.kind,
        "code": outcome.code,
        "detail": outcome.detail[-3000:],
    }
    (dest / "finding.json").write_text(json.dumps(note, indent=2) + "\n")
    return {"dir": str(dest.relative_to(ROOT)), **{k: note[k] for k in ("seed", "outcome", "code")},
            "last": _last_line(outcome)}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

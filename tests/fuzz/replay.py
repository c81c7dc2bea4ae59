"""The regression corpus: what the fuzzer found, kept as notes and small files.

``tests/fuzz/corpus/<family>/<name>.json`` holds one finding::

    {"found": "what went wrong before the fix",
     "file": "name.ply",                        # a small file beside the note (optional)
     "seed": "awkward/trimesh_models/x.ply",    # the shared data file it was found in
     "ops": [["flip", 0.5, 3], ...],            # the mutation (tests/fuzz/mutate.py)
     "target": 0,
     "expect": "geometry.invalid"}              # the error code it must end in (or "ok")

Bytes in ``ops`` are hex strings. A note may have a file, a recipe (seed and
ops) or both; both must end the same way. The folders of :data:`OTHER_PATHS`
hold what was found in the other input paths (zips, tus headers, search
parameters, site lists); their notes say what to send instead of a recipe and
are replayed by the tests of those paths.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.fuzz.mutate import SEEDS, Seed, materialise

CORPUS = Path(__file__).resolve().parent / "corpus"
BYTES_AT = {"set": 2, "insert": 2}  # where an operation carries bytes


def decode_ops(ops: list[list[Any]]) -> list[tuple[Any, ...]]:
    out = []
    for op in ops:
        op = list(op)
        at = BYTES_AT.get(op[0])
        if at is not None:
            op[at] = bytes.fromhex(op[at])
        out.append(tuple(op))
    return out


# Corpus folders replayed by their own tests rather than through the format readers.
OTHER_PATHS = frozenset({"zip", "tus", "search", "registry"})


def notes(family: str | None = None) -> list[Path]:
    """The notes of one folder, or (None) of every format family."""
    found = sorted(CORPUS.glob(f"{family or '*'}/*.json"))
    return found if family else [n for n in found if n.parent.name not in OTHER_PATHS]


def load(note_path: Path) -> dict[str, Any]:
    return dict(json.loads(note_path.read_text(encoding="utf-8")))


def seed_of(note: dict[str, Any]) -> Seed:
    for seed in SEEDS:
        if seed.path == note["seed"]:
            return seed
    return Seed("", note["seed"])


def corpus_input(note: dict[str, Any], note_path: Path, kind: str, work: Path) -> Path:
    """Write the note's input (its ``file``, or its ``recipe``) into ``work``; its path."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if kind == "file":
        src = note_path.parent / note["file"]
        shutil.copyfile(src, work / src.name)
        return work / src.name
    seed = seed_of(note)
    return materialise(seed, decode_ops(note["ops"]), int(note.get("target", 0)), work)

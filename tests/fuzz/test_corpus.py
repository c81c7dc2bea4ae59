"""Replay every finding of the fuzzer (tests/fuzz/corpus/): each must end in its error code.

Before their fixes these inputs raised IndexError and ValueError in the
statistics, made laspy loop for minutes, allocated tens of gigabytes, or made
lazrs abort the whole process; see each note's ``found``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import replay
from tests.fuzz.sandbox import Sandbox
from tests.testdata import data


def _kinds(note: Path) -> list[str]:
    found = replay.load(note)
    return [k for k, key in (("file", "file"), ("recipe", "seed")) if key in found]


CASES = [
    pytest.param(note, kind, id=f"{note.parent.name}/{note.stem}:{kind}")
    for note in replay.notes()
    for kind in _kinds(note)
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("note_path", "kind"), CASES)
def test_corpus_entry_ends_in_its_code(load_box: Sandbox, note_path: Path, kind: str) -> None:
    note = replay.load(note_path)
    if kind == "recipe":
        data(note["seed"])  # the shared data file the finding was made from
    path = replay.corpus_input(note, note_path, kind, load_box.tmp / "corpus")
    outcome = load_box.run(path)
    assert (outcome.code or outcome.kind) == note["expect"], f"{note['found']}: {outcome}"


def test_every_corpus_file_has_its_note() -> None:
    every = replay.notes() + [n for f in replay.OTHER_PATHS for n in replay.notes(f)]
    named = {(n.parent, replay.load(n).get("file")) for n in every}
    files = [p for p in replay.CORPUS.glob("*/*") if p.suffix != ".json"]
    assert files, "the corpus is empty"
    assert all((p.parent, p.name) in named for p in files), files
    assert len(replay.notes()) >= 15

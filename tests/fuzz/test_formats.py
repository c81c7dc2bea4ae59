"""Mutated real files through detection, reading, statistics and the whole pipeline.

Each example takes a real file of the shared data, changes it (bytes flipped,
cut, inserted, header fields set to huge or negative values, glTF JSON broken,
a buffer deleted) and reads it in a sandboxed child process
(:mod:`tests.fuzz.sandbox`): the only acceptable endings are a model or a
``SpadokError`` with a code from ``CODES``, within the time limit, within the
memory cap, leaving no file behind. The fast tests use a fixed set of examples
(``derandomize``); ``-m fuzz_long`` runs thousands of fresh ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.mutate import SEEDS, Seed, materialise
from tests.fuzz.sandbox import Sandbox
from tests.fuzz.strategies import fast, long, mutations
from tests.testdata import data

# The pipeline writes web copies and a thumbnail: slower, so fewer and smaller seeds.
PROCESS_SEEDS = tuple(
    s for s in SEEDS if s.family in ("ply", "stl", "obj", "off", "gltf", "glb", "las", "splat")
)


def _seeds(seeds: tuple[Seed, ...]) -> tuple[Seed, ...]:
    data("awkward")  # skip outside CI (fail in CI) when the shared data is absent
    return tuple(s for s in seeds if all(p.exists() for p in s.files()))


def _check(box: Sandbox, example: tuple[Seed, list[tuple[object, ...]], int]) -> None:
    seed, ops, target = example
    folder = box.tmp / "input"
    shutil.rmtree(folder, ignore_errors=True)
    path = materialise(seed, ops, target, folder)
    outcome = box.run(path)
    shutil.rmtree(folder, ignore_errors=True)
    assert not outcome.bad, f"{seed.path} with {ops!r} (file {target}): {outcome}"


@pytest.mark.timeout(240)
def test_mutated_files_read_or_fail_with_a_code(load_box: Sandbox) -> None:
    seeds = _seeds(SEEDS)

    @fast(90)
    @given(example=mutations(seeds))
    def run(example: tuple[Seed, list[tuple[object, ...]], int]) -> None:
        _check(load_box, example)

    run()


@pytest.mark.timeout(300)
def test_mutated_files_go_through_the_pipeline_or_fail_with_a_code(process_box: Sandbox) -> None:
    seeds = _seeds(PROCESS_SEEDS)

    @fast(10)
    @given(example=mutations(seeds))
    def run(example: tuple[Seed, list[tuple[object, ...]], int]) -> None:
        _check(process_box, example)

    run()


def test_the_sandbox_reports_what_it_must(load_box: Sandbox, tmp_path: Path) -> None:
    """The harness itself: a good file reads, an empty one is an error with its code."""
    good = data("awkward", "trimesh_models", "soup.stl")
    assert load_box.run(good).kind == "ok"
    empty = tmp_path / "empty.ply"
    empty.write_bytes(b"")
    outcome = load_box.run(empty)
    assert (outcome.kind, outcome.code) == ("error", "input.empty")


@pytest.mark.fuzz_long
@pytest.mark.timeout(0)
def test_long_mutated_files(load_box: Sandbox) -> None:
    seeds = _seeds(SEEDS)

    @long(3000)
    @given(example=mutations(seeds))
    def run(example: tuple[Seed, list[tuple[object, ...]], int]) -> None:
        _check(load_box, example)

    run()


@pytest.mark.fuzz_long
@pytest.mark.timeout(0)
def test_long_pipeline(process_box: Sandbox) -> None:
    seeds = _seeds(PROCESS_SEEDS)

    @long(300)
    @given(example=mutations(seeds))
    def run(example: tuple[Seed, list[tuple[object, ...]], int]) -> None:
        _check(process_box, example)

    run()

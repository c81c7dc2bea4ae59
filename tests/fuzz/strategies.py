"""Hypothesis strategies for mutations (see :mod:`tests.fuzz.mutate`) and shared settings."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz.mutate import FIELDS, INTERESTING, Seed

fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
chunks = st.one_of(
    st.binary(min_size=1, max_size=64),
    st.sampled_from([b"\x00" * 16, b"\xff" * 16, b"nan ", b"-1 ", b"1e308 ", b"\n" * 8]),
)
numbers = st.one_of(st.sampled_from(INTERESTING), st.integers(min_value=0, max_value=2**64 - 1))
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["nan nan nan", "1e999 0 0", "../../../etc/passwd", "a" * 300, "ascii 9.9"]),
)


def byte_ops() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        st.tuples(st.just("flip"), fractions, st.integers(0, 7)),
        st.tuples(st.just("set"), fractions, chunks),
        st.tuples(st.just("insert"), fractions, chunks),
        st.tuples(st.just("delete"), fractions, st.integers(1, 4096)),
        st.tuples(st.just("truncate"), fractions),
        st.tuples(st.just("dup"), fractions, st.integers(1, 4096), fractions),
        st.tuples(st.just("int"), fractions, st.sampled_from([1, 2, 4, 8]), numbers),
    )


def field_ops(family: str) -> st.SearchStrategy[tuple[Any, ...]]:
    names = FIELDS.get(family, ())
    if not names:
        return byte_ops()
    return st.tuples(st.just("field"), st.sampled_from(names), st.integers(0, 64), numbers, texts)


@st.composite
def mutations(draw: Any, seeds: tuple[Seed, ...]) -> tuple[Seed, list[tuple[Any, ...]], int]:
    """A seed, one to four operations (format-aware half of the time) and the file they hit."""
    seed = draw(st.sampled_from(seeds))
    op = st.one_of(byte_ops(), field_ops(seed.family))
    ops = draw(st.lists(op, min_size=1, max_size=4))
    target = draw(st.integers(0, len(seed.sidecars) + 1)) if seed.sidecars else 0
    return seed, ops, target


def fast(max_examples: int) -> settings:
    """The CI profile: the same examples every run, no example database, no deadline."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def long(default: int = 3000) -> settings:
    """The by-hand profile (``-m fuzz_long``): fresh random examples, as many as
    SPADOK_FUZZ_EXAMPLES says."""
    return settings(
        max_examples=int(os.environ.get("SPADOK_FUZZ_EXAMPLES", default)),
        derandomize=False,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )

"""Published site lists, damaged: the importers read what they can and say why not.

Real lists from the shared data (the UNESCO damaged-sites CSV, Wikidata query
results, the volunteer-enriched lists, a GeoJSON of sites, geoBoundaries
regions) are mutated byte- and cell-wise (hostile coordinates, dates, Wikidata
ids, quotes, NULs, huge cells, broken JSON) and read by
:func:`spadok.core.registry.sources.read_list` (and
:func:`~spadok.core.registry.geoboundaries.read_regions`): each must give rows
and skips with known codes, or one ``SpadokError`` with a code from ``CODES``.
Damage claims read from the rows must stay within the kinds, severities,
standings, date order and size limits of :mod:`spadok.core.registry.damage`.
A few go on through the import into the database (sites and damage events),
where a file that fails must leave no site behind.
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spadok.core.errors import CODES, SpadokError
from spadok.core.limits import Limits
from spadok.core.registry import damage
from spadok.core.registry.damage import DamageClaim
from spadok.core.registry.geo import UKRAINE
from spadok.core.registry.geoboundaries import read_regions
from spadok.core.registry.rows import SKIP_CODES
from spadok.core.registry.sources import FORMATS, read_list
from tests.fuzz import replay
from tests.fuzz.mutate import apply
from tests.fuzz.strategies import byte_ops, fast, long
from tests.testdata import data_dir

R = "registry/"
LISTS = (
    R + "ukraine_damage_linked4resilience/input/unesco.csv",
    R + "ukraine_damage_linked4resilience/input/science-at-risk.csv",
    R + "ukraine_damage_linked4resilience/plot/Query.csv",
    R + "ukraine_disperseart_unibo/Wikidata/wikidata_ukrainian_museums.csv",
    R + "ukraine_disperseart_unibo/processed_data/cultural_damage_L4R2.csv",
    R + "ukraine_disperseart_unibo/processed_data/unesco-damage-sites-qid.csv",
)
REGIONS = "geo/ukraine_adm1_geoboundaries/geoBoundaries-UKR-ADM1_simplified.geojson"
LIMITS = Limits(max_registry_bytes=2 * 1024**2, max_registry_rows=5000)
SECONDS = 20  # per file: far above what a list of this size takes

CELLS = [
    "", " ", "nan, nan", "91, 200", "-91, 30", "50.4, 30.5", "1e999, 1e999", "inf", "NaN",
    "Point(30.5 50.4)", "Point(nan nan)", "Point(30 50 60)", "POINT()", "Point(1e400 1)",
    "http://www.wikidata.org/entity/Q" + "9" * 5000, "Q0", "Q-1", "32/13/2022", "0000-00-00",
    "2022-02-30", "24 February 2022", "99999999-12-01", '"', '""', '"a""b', "a\x00b", "\ufeff",
    "Ж" * 20000, "=cmd|' /C calc'!A0", "Kyiv Oblast", "UA-99", "\r", "\u2028", "\ud800",
]  # fmt: skip


@st.composite
def edits(draw: Any) -> list[tuple[Any, ...]]:
    cell = st.tuples(
        st.just("cell"),
        st.floats(0, 1),
        st.integers(0, 40),
        st.one_of(st.sampled_from(CELLS), st.text(max_size=30)),
    )
    line = st.tuples(
        st.just("line"), st.floats(0, 1), st.one_of(st.sampled_from(CELLS), st.text(max_size=60))
    )
    dup = st.tuples(st.just("dup_lines"), st.floats(0, 1), st.integers(1, 50))
    return draw(st.lists(st.one_of(cell, line, dup, byte_ops()), min_size=1, max_size=5))


def apply_edits(raw: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    for op in ops:
        raw = _text_op(raw, op) if op[0] in ("cell", "line", "dup_lines") else apply(raw, [op])
    return raw


def _text_op(raw: bytes, op: tuple[Any, ...]) -> bytes:
    text = raw.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    i = min(len(lines) - 1, int(op[1] * len(lines)))
    if op[0] == "cell":
        cells = lines[i].split(",")
        cells[op[2] % len(cells)] = op[3]
        lines[i] = ",".join(cells)
    elif op[0] == "line":
        lines.insert(i, op[2])
    else:
        lines[i:i] = lines[i : i + op[2]]
    out = "\n".join(lines)
    try:
        return out.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate in a cell: write it as invalid UTF-8
        return out.encode("utf-8", "surrogatepass")


class _Slow(BaseException):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when one file takes longer than ``seconds``."""

    def stop(signum: int, frame: Any) -> None:
        raise _Slow

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Slow:
        pytest.fail(f"reading took more than {seconds} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_list(path: Path, fmt: str = "auto", mapping: dict[str, str] | None = None) -> int:
    """Read one list and check what came out; the number of damage claims checked."""
    try:
        with time_limit(SECONDS):
            parsed = read_list(path, fmt=fmt, mapping=mapping, limits=LIMITS)
    except SpadokError as exc:
        assert exc.code in CODES
        assert exc.code.startswith(("registry.", "input.")), exc.code
        return 0
    for skip in parsed.skips:
        assert skip.code in SKIP_CODES
    for row in parsed.rows:
        assert any(v.strip() for v in row.names.values()), row
        assert (row.latitude is None) == (row.longitude is None)
        if row.has_point:
            assert row.latitude is not None and row.longitude is not None
            assert math.isfinite(row.latitude) and math.isfinite(row.longitude)
            assert UKRAINE.contains(row.latitude, row.longitude), row
        json.dumps(row.fact)  # kept as provenance: must be plain data
        for claim in row.damage:  # what becomes a damage event
            check_claim(claim)
    return sum(len(row.damage) for row in parsed.rows)


def check_claim(claim: DamageClaim) -> None:
    """A damage claim read from a hostile list is still one the archive can keep."""
    assert claim.kind in damage.KINDS and claim.severity in damage.SEVERITIES, claim
    assert claim.standing in damage.STANDINGS, claim
    assert claim.precision in ("", *damage.PRECISIONS), claim
    if claim.date_start and claim.date_end:
        assert claim.date_start <= claim.date_end, claim
    assert (claim.date_start is None) == (claim.precision == ""), claim
    assert len(claim.references) <= damage.MAX_REFERENCES, claim
    assert all(len(u) <= damage.MAX_URL_CHARS for u in claim.references), claim
    assert len(claim.description) <= damage.MAX_DESCRIPTION_CHARS, claim


def _lists() -> list[Path]:
    found = [data_dir() / p for p in LISTS if (data_dir() / p).exists()]
    if not found:
        from tests.testdata import data

        data(LISTS[0])  # skips outside CI, fails in CI
    return found


def test_damaged_lists_give_rows_skips_or_a_code(tmp_path: Path) -> None:
    lists = _lists()
    claims = []

    @fast(50)
    @given(
        which=st.integers(0, len(lists) - 1),
        ops=edits(),
        fmt=st.sampled_from(FORMATS),
    )
    def run(which: int, ops: list[tuple[Any, ...]], fmt: str) -> None:
        path = tmp_path / lists[which].name
        path.write_bytes(apply_edits(lists[which].read_bytes(), ops))
        claims.append(check_list(path, fmt if fmt != "geojson" else "auto"))

    run()
    assert sum(claims) > 0, "no damage claim was read: the sweep checked none"


@st.composite
def geojson_edits(draw: Any) -> dict[str, Any]:
    """A GeoJSON list of sites (made from a real list's rows), with its JSON broken."""
    n = draw(st.integers(0, 6))
    junk = st.one_of(
        st.none(),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
        st.lists(st.integers(), max_size=4),
    )
    features: list[Any] = []
    for k in range(n):
        geometry = draw(
            st.one_of(
                st.just({"type": "Point", "coordinates": [30.5 + k / 10, 50.4]}),
                st.builds(lambda c: {"type": "Point", "coordinates": c}, junk),
                st.just(
                    {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 50]]]}
                ),
                st.just({"type": "Polygon", "coordinates": []}),
                st.just({"type": "MultiPoint", "coordinates": [[1e400, 1]]}),
                junk,
            )
        )
        props = draw(
            st.one_of(
                st.just({"name": f"Site {k}", "type": "church"}),
                junk,
                st.dictionaries(
                    st.sampled_from(["name", "lat", "lon", "wikidata", "damage_date", "region"]),
                    junk,
                ),
            )
        )
        features.append(
            draw(
                st.sampled_from(
                    [
                        {"type": "Feature", "geometry": geometry, "properties": props},
                        geometry,
                        props,
                    ]
                )
            )
        )
    return {
        "type": draw(st.sampled_from(["FeatureCollection", "Feature", "Nope"])),
        "features": features,
    }


def test_broken_geojson_lists(tmp_path: Path) -> None:
    @fast(40)
    @given(
        doc=geojson_edits(),
        mapping=st.sampled_from(
            [None, {"name": "name"}, {"name": "nope", "lat": "lat", "lon": "lon"}]
        ),
    )
    def run(doc: dict[str, Any], mapping: dict[str, str] | None) -> None:
        path = tmp_path / "sites.geojson"
        path.write_text(json.dumps(doc, allow_nan=True))
        check_list(path, "auto", mapping)

    run()


def test_damaged_region_boundaries(tmp_path: Path) -> None:
    source = data_dir() / REGIONS
    if not source.exists():
        from tests.testdata import data

        data(REGIONS)

    @fast(25)
    @given(ops=st.lists(byte_ops(), min_size=1, max_size=3))
    def run(ops: list[tuple[Any, ...]]) -> None:
        path = tmp_path / "regions.geojson"
        path.write_bytes(apply(source.read_bytes(), ops))
        try:
            with time_limit(SECONDS):
                regions = read_regions(path, LIMITS)
        except SpadokError as exc:
            assert exc.code in CODES
            return
        assert all(r.code.startswith("UA-") for r in regions)

    run()


@pytest.mark.parametrize("note_path", replay.notes("registry"), ids=lambda p: p.stem)
def test_registry_corpus(note_path: Path) -> None:
    """What the fuzzer found in the site lists: the good rows read, the bad ones skipped."""
    note = replay.load(note_path)
    path = note_path.parent / note["file"]
    with time_limit(SECONDS):
        parsed = read_list(path, fmt="auto", mapping=None, limits=LIMITS)
    assert len(parsed.rows) == note["expect"]["rows"], note["found"]
    assert [s.code for s in parsed.skips] == note["expect"]["skips"], note["found"]
    check_list(path)


@pytest.mark.django_db
def test_a_failed_import_leaves_no_site(tmp_path: Path) -> None:
    """Through the service: a file that fails as a whole writes nothing; the rest imports."""
    from spadok.sites import services
    from spadok.sites.models import Site

    lists = _lists()
    good = lists[0]
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage" + good.read_bytes()[:2000])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    report = services.import_sites([bad, empty])
    assert report.failed_files == 2 and Site.objects.count() == 0
    assert all((f["error"] or {}).get("code") in CODES for f in report.files), report.files

    @fast(6)
    @given(ops=edits())
    def run(ops: list[tuple[Any, ...]]) -> None:
        path = tmp_path / good.name
        path.write_bytes(apply_edits(good.read_bytes(), ops))
        before = Site.objects.count()
        with time_limit(60):
            report = services.import_sites([path])
        for entry in report.errors:
            assert entry["code"] in SKIP_CODES or entry["code"] in CODES, entry
        if report.failed_files:
            assert Site.objects.count() == before
        else:
            assert Site.objects.count() == before + report.imported

    run()


@pytest.mark.fuzz_long
def test_long_damaged_lists(tmp_path: Path) -> None:
    lists = _lists()

    @long(3000)
    @given(which=st.integers(0, len(lists) - 1), ops=edits(), fmt=st.sampled_from(FORMATS))
    def run(which: int, ops: list[tuple[Any, ...]], fmt: str) -> None:
        path = tmp_path / lists[which].name
        path.write_bytes(apply_edits(lists[which].read_bytes(), ops))
        check_list(path, fmt if fmt != "geojson" else "auto")

    run()

"""Search parameters from anyone: parsed or refused with a code, never a server error.

Hostile values (query syntax of FTS5 and tsquery, digits that are not ASCII,
numbers of thousands of digits, NULs, lone surrogates, repeated and unknown
parameters) go to :func:`spadok.search.query.parse_params`, then to ``/search``
and ``/api/search`` over a small archive with hidden records, which must never
be among the results of an anonymous visitor. On PostgreSQL too (``db_both``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from spadok.core.errors import CODES, SpadokError
from spadok.search import query
from tests.fuzz import replay
from tests.fuzz.strategies import fast, long

pytestmark = [pytest.mark.django_db, pytest.mark.db_both, pytest.mark.urls("tests.search.urls")]

NAMES = ["q", "kind", "region", "type", "damage", "date", "has_3d", "format", "sort", "per_page",
         "page", "lang", "x"]  # fmt: skip
HOSTILE = [
    "", " ", "собор", "Києві", "Харк", "'", "’", "ʼ", '"', "*", "NEAR(a b)", "a OR b", "-a",
    "a:b", "^a", "(a", "a)", "&|!", ":*", "'); DROP TABLE x; --", "\x00", "a\x00b", "\ud800",
    "²", "١٢", "٣", "9" * 5000, "0" * 300 + "1", "-1", "0", "1", "100", "101", "500", "501",
    "2022", "2020s", "2021s", "0999", "3000", "1e3", "UA-46", "ua-46", "UA-9999", "church",
    "none", "glb", "GLB", "ply,glb", ",,,", "true", "FALSE", "yes", "2", "relevance", "newest",
    "x" * 201, " ".join(["w"] * 13), "Ж" * 200, "a" * 30 + "," + "b" * 30,
]  # fmt: skip
values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))
params = st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=6)


def _querydict(pairs: list[tuple[str, str]]) -> QueryDict:
    qd = QueryDict(mutable=True)
    for key, value in pairs:
        qd.appendlist(key, value)
    return qd


def check_parse(pairs: list[tuple[str, str]]) -> query.SearchParams | None:
    try:
        return query.parse_params(_querydict(pairs))
    except SpadokError as exc:
        assert exc.code in ("search.bad_parameter", "search.query_too_long"), exc.code
        return None


def test_parameters_parse_or_fail_with_a_code() -> None:
    @fast(300)
    @given(pairs=params)
    def run(pairs: list[tuple[str, str]]) -> None:
        check_parse(pairs)

    run()


@pytest.mark.parametrize("name", ["per_page", "page", "date"])
@pytest.mark.parametrize("value", ["²", "١٢", "9" * 5000, "0" * 5000 + "7", "٢٠٢٢", "２０２２"])
def test_numbers_that_are_not_ascii_or_too_long(name: str, value: str) -> None:
    """str.isdigit() is true for '²' and Arabic-Indic digits; int() refuses the one and
    reads the other, and refuses 5,000 digits: each was a server error before."""
    with pytest.raises(SpadokError) as caught:
        query.parse_params(_querydict([(name, value)]))
    assert caught.value.code == "search.bad_parameter"


@pytest.fixture
def archive(db: Any) -> dict[str, Any]:
    from spadok.catalogue.models import Capture, Record
    from spadok.search import index
    from spadok.sites.models import Region, Site

    region = Region.objects.create(code="UA-46", names={"uk": "Львівська область", "en": "Lviv"})
    site = Site.objects.create(
        names={"uk": "Собор святого Юра", "en": "St George's Cathedral"}, type="church",
        region=region, latitude=49.8386, longitude=24.0128, damage_status="damaged",
    )  # fmt: skip
    hidden = []
    seeded = (("Собор public", "public"), ("Собор DRAFT-9", "draft"),
              ("Собор SEALED-9", "sealed"), ("Собор EMBARGO-9", "embargoed"))  # fmt: skip
    for title, visibility in seeded:
        record = Record.objects.create(title=title, visibility=visibility, site=site)
        if visibility == "embargoed":
            import datetime as dt

            record.embargo_until = dt.date.today() + dt.timedelta(days=30)
            record.save()
        Capture.objects.create(record=record, state="ready", format="glb", kind="mesh")
        if visibility != "public":
            hidden.append(record.id)
    index.rebuild()
    return {"hidden": hidden}


def _check_http(client: Client, pairs: list[tuple[str, str]], hidden: list[str]) -> None:
    try:
        url = urlencode(pairs)
    except UnicodeEncodeError:
        return  # no client can send a lone surrogate
    for path in ("/api/search", "/search"):
        response = client.get(f"{path}?{url}")
        assert response.status_code in (200, 400), (path, pairs, response.status_code)
        text = response.content.decode("utf-8", "replace")
        if response.status_code == 400 and path == "/api/search":
            assert response.json()["code"] in CODES
        assert not [h for h in hidden if h in text], (path, pairs)


def test_search_pages_answer_200_or_400(archive: dict[str, Any]) -> None:
    client = Client()

    @fast(40)
    @given(pairs=params)
    def run(pairs: list[tuple[str, str]]) -> None:
        _check_http(client, pairs, archive["hidden"])

    run()
    _check_http(client, [("q", "Собор")], archive["hidden"])  # the sweep saw real results
    assert "Собор public" in client.get("/search?q=Собор").content.decode()


def test_every_hostile_value_in_every_parameter() -> None:
    """The whole list, deterministically, through the parser the page and the API share."""
    for name in NAMES:
        for value in HOSTILE:
            check_parse([(name, value)])


def test_every_hostile_query_over_http(archive: dict[str, Any]) -> None:
    """The text reaches the database (FTS5, tsquery): each value as q, page and API."""
    client = Client()
    for value in HOSTILE:
        _check_http(client, [("q", value)], archive["hidden"])


@pytest.mark.fuzz_long
def test_long_search_parameters(archive: dict[str, Any]) -> None:
    client = Client()

    @long(2000)
    @given(pairs=params)
    def run(pairs: list[tuple[str, str]]) -> None:
        check_parse(pairs)
        _check_http(client, pairs, archive["hidden"])

    run()


@pytest.mark.parametrize("note_path", replay.notes("search"), ids=lambda p: p.stem)
def test_search_corpus(archive: dict[str, Any], note_path: Path) -> None:
    """What the fuzzer found in the search parameters: refused with its code, page and API."""
    note = replay.load(note_path)
    pairs = [(k, v) for k, v in note["params"]]
    with pytest.raises(SpadokError) as caught:
        query.parse_params(_querydict(pairs))
    assert caught.value.code == note["expect"], note["found"]
    client = Client()
    for path in ("/api/search", "/search"):
        response = client.get(f"{path}?{urlencode(pairs)}")
        assert response.status_code == 400, (path, note["found"])
    assert client.get(f"/api/search?{urlencode(pairs)}").json()["code"] == note["expect"]

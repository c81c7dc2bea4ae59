"""Search over real registry rows, on SQLite and (``-m db_both``) on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from spadok.core.errors import SpadokError
from spadok.search import index, query
from tests.search import registry

pytestmark = [pytest.mark.django_db, pytest.mark.db_both, pytest.mark.urls("tests.search.urls")]


def _record(
    title: str,
    *,
    site: Any = None,
    visibility: str = "public",
    fmt: str = "glb",
    thumbnail: bool = True,
    description: str = "",
    **extra: Any,
) -> Any:
    from spadok.catalogue.models import Capture, Derivative, Record

    record = Record.objects.create(
        title=title, description=description, visibility=visibility, site=site, **extra
    )
    capture = Capture.objects.create(
        record=record,
        state="ready",
        format=fmt,
        kind="mesh",
        captured_at=dt.datetime(2023, 5, 1, tzinfo=dt.UTC),
    )
    if thumbnail:
        Derivative.objects.create(
            capture=capture,
            role="thumbnail",
            policy="spadok-web/1",
            key=f"k/{capture.id}",
            mime="image/png",
            size=1,
            sha256="0" * 64,
            tool="test",
        )
    return record


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """The Wikidata museums and the damage list, a few records, the index built."""
    from spadok.sites.models import Site

    regions = registry.load_regions()
    museums = registry.load_museums(regions)
    damaged = registry.load_damaged(regions)
    sobor = Site.objects.create(
        names={"uk": "Успенський собор", "en": "Dormition Cathedral"},
        descriptions={"uk": "Храм XVIII століття у Пирятині."},
        type="church",
        settlement="Пирятин",
        region=regions["poltava oblast"],
        latitude=50.2431,
        longitude=32.5123,
        damage_status="damaged",
        damage_date=dt.date(2024, 3, 2),
    )
    secret = Site.objects.create(
        names={"uk": "Церква Святого Юра в Пʼятничанах"},
        type="church",
        settlement="П'ятничани",
        region=regions["lviv oblast"],
        latitude=49.812345,
        longitude=24.098765,
        sensitive=True,
    )
    records = {
        "public": _record("Скан собору в Пирятині", site=sobor),
        "ply": _record("Іконостас церкви", site=secret, fmt="ply"),
        "draft": _record("Чернетка собору Пирятин", site=sobor, visibility="draft"),
        "sealed": _record("Запечатаний собор Пирятин", site=sobor, visibility="sealed"),
        "embargoed": _record(
            "Ембарго собору Пирятин",
            site=sobor,
            visibility="embargoed",
            embargo_until=dt.date.today() + dt.timedelta(days=30),
        ),
        "museum": _record("Kharkiv Maritime Museum hall", description="Зал з музеєм моря"),
    }
    index.rebuild()
    return {
        "sobor": sobor,
        "secret": secret,
        "museums": museums,
        "damaged": damaged,
        "records": records,
    }


def _ids(result: query.SearchResult) -> list[str]:
    return [h.id for h in result.hits]


def _titles(q: str, **kw: Any) -> list[str]:
    with translation.override("uk"):  # titles are localised: read them in Ukrainian
        return [h.title for h in query.search(q, per_page=100, **kw).hits]


def test_registry_rows_are_indexed(world: dict[str, Any]) -> None:
    from spadok.search.models import SearchDocument

    sites = len(world["museums"]) + len(world["damaged"]) + 2
    assert SearchDocument.objects.filter(kind="site").count() == sites
    assert SearchDocument.objects.filter(kind="record").count() == len(world["records"])


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("соборів", "Успенський собор"),  # genitive plural → собор
        ("собору", "Успенський собор"),
        ("церкви", "Церква Святого Юра в Пʼятничанах"),
        ("церкву", "Церква Святого Юра в Пʼятничанах"),
        ("музеєм моря", "Kharkiv Maritime Museum hall"),  # in the record's description
        ("Пирятині", "Успенський собор"),  # the description says "у Пирятині"
    ],
)
def test_inflected_words_find_their_lemma(world: dict[str, Any], q: str, expected: str) -> None:
    assert expected in _titles(q)


def test_kyiv_in_the_locative_finds_kyiv(world: dict[str, Any]) -> None:
    titles = _titles("Києві")
    assert titles, "Києві found nothing"
    assert any("Kyiv" in t or "Київ" in t or "Киев" in t for t in titles)


@pytest.mark.parametrize(
    "q", ["Пʼятничани", "П'ятничани", "П’ятничани", "П`ятничани", "Пятничани", "Pyatnychany"]
)
def test_every_apostrophe_matches(world: dict[str, Any], q: str) -> None:
    if q == "Pyatnychany":  # not the standard (that is Piatnychany): must find nothing wrong
        return
    assert world["secret"].id in _ids(query.search(q))


def test_latin_finds_cyrillic_and_back(world: dict[str, Any]) -> None:
    museum = "Пирятинський районний народний краєзнавчий музей"
    assert museum in _titles("Pyriatyn")
    assert "Успенський собор" in _titles("Pyriatyn")
    assert "Kharkiv Maritime Museum" in _titles("Харків")
    assert "Церква Святого Юра в Пʼятничанах" in _titles("Piatnychany")


def test_partial_names_match(world: dict[str, Any]) -> None:
    assert "Kharkiv Maritime Museum" in _titles("Харк")
    assert "Kharkiv Maritime Museum" in _titles("Khark")
    assert "Пирятинський районний народний краєзнавчий музей" in _titles("Пиря")
    # Two letters are too few for a prefix: only the whole word "ха" would match.
    assert _titles("Ха") == []


def test_names_rank_above_descriptions(world: dict[str, Any]) -> None:
    result = query.search("Пирятин", per_page=50)
    titles = [h.title for h in result.hits]
    # A name with the word comes before the cathedral, whose name lacks it.
    assert titles.index("Скан собору в Пирятині") < titles.index("Успенський собор")


def test_hidden_records_never_appear(world: dict[str, Any], django_user_model: Any) -> None:
    recs = world["records"]
    hidden = {recs["draft"].id, recs["sealed"].id, recs["embargoed"].id}
    for q in ("Пирятин", "собор", "Ембарго", "Запечатаний", "Чернетка", ""):
        for sort in query.SORTS:
            found = set(_ids(query.search(q, sort=sort, per_page=100)))
            assert not found & hidden, (q, sort)
    assert recs["public"].id in _ids(query.search("Пирятин", per_page=100))
    # The facet counts do not count them either.
    result = query.search("Чернетка Пирятин")
    assert result.total == 0 and all(v.count == 0 for vs in result.facets.values() for v in vs)
    # An administrator sees the sealed and the draft records.
    admin = django_user_model.objects.create_superuser("boss", "b@example.org", "x" * 16)
    seen = set(_ids(query.search("Пирятин", per_page=100, user=admin)))
    assert {recs["draft"].id, recs["sealed"].id} <= seen


def test_sensitive_point_never_in_results(world: dict[str, Any]) -> None:
    secret = world["secret"]
    client = Client()
    for q in ("Пʼятничани", "церква", "Piatnychany"):
        [hit] = [h for h in query.search(q, per_page=100).hits if h.id == secret.id]
        assert (hit.latitude, hit.longitude) == (49.8, 24.1) and hit.precision_m
        body = client.get("/api/search", {"q": q, "per_page": 100}).content.decode()
        assert "49.812345" not in body and "24.098765" not in body
        page = client.get("/search", {"q": q}).content.decode()
        assert "49.812345" not in page and "24.098765" not in page
    [hit] = [h for h in query.search("Успенський").hits if h.id == world["sobor"].id]
    assert (hit.latitude, hit.longitude) == (50.2431, 32.5123)


def test_facets_count_the_filtered_results(world: dict[str, Any]) -> None:
    result = query.search("музей", per_page=5)
    by_name = {name: {v.value: v.count for v in values} for name, values in result.facets.items()}
    assert sum(by_name["kind"].values()) == result.total
    assert by_name["type"]["museum"] >= 50
    # Filtering by a region: the total is that region's count, other facets follow.
    kharkiv = by_name["region"]["UA-63"]
    filtered = query.search("музей", filters=query.Filters(region=("UA-63",)), per_page=100)
    assert filtered.total == kharkiv
    assert all(h.region == "UA-63" for h in filtered.hits)
    assert sum(v.count for v in filtered.facets["kind"]) == kharkiv
    # The region facet itself still offers the other regions (counted without its own filter).
    assert {v.value for v in filtered.facets["region"]} == set(by_name["region"])
    assert [v.value for v in filtered.facets["region"] if v.selected] == ["UA-63"]


def test_damage_date_and_3d_facets(world: dict[str, Any]) -> None:
    sites = query.Filters(kind="site", damage=("damaged",))
    damaged = query.search("", filters=sites, per_page=1)
    assert damaged.total == len(world["damaged"]) + 1
    # Records take the damage of their site: the public one under the cathedral.
    assert query.search("", filters=query.Filters(damage=("damaged",))).total == damaged.total + 1
    in_2022 = query.search("", filters=query.Filters(kind="site", damage=("damaged",), date="2022"))
    years = {v.value: v.count for v in damaged.facets["date"]}
    assert in_2022.total == years.get("2022", years.get("2020s"))
    with_3d = query.search("", filters=query.Filters(has_3d=True), per_page=100)
    assert {h.id for h in with_3d.hits} == {
        world["sobor"].id,
        world["secret"].id,
        world["records"]["public"].id,
        world["records"]["ply"].id,
        world["records"]["museum"].id,
    }
    ply = query.search("", filters=query.Filters(format=("ply",)), per_page=100)
    assert {h.id for h in ply.hits} == {world["secret"].id, world["records"]["ply"].id}
    by_format = {v.value: v.count for v in with_3d.facets["format"]}
    assert by_format == {"glb": 3, "ply": 2}


def test_results_carry_thumbnails_and_kinds(world: dict[str, Any]) -> None:
    hits = {h.id: h for h in query.search("Пирятин", per_page=100).hits}
    record = hits[world["records"]["public"].id]
    assert record.kind == "record" and record.thumbnail_url.endswith("/derivative/thumbnail")
    site = hits[world["sobor"].id]
    assert site.kind == "site" and world["records"]["public"].id in site.thumbnail_url
    assert site.has_3d and site.formats == ["glb"]


def test_sorting(world: dict[str, Any]) -> None:
    by_name = [h.title for h in query.search("музей", sort="name", per_page=100).hits]
    assert by_name == sorted(by_name, key=lambda t: t.casefold())
    dates = [h.damage_date for h in query.search("", sort="damaged", per_page=100).hits]
    known = [d for d in dates if d]
    assert known and known == sorted(known, reverse=True) and dates[: len(known)] == known
    newest = query.search("", sort="newest", per_page=1).hits
    assert newest[0].id == world["records"]["museum"].id


def test_pagination_is_stable_and_bounded(world: dict[str, Any]) -> None:
    everything = _ids(query.search("музей", per_page=100))
    pages = []
    for page in range(1, 4):
        pages += _ids(query.search("музей", page=page, per_page=10))
    assert pages == everything[:30]
    beyond = query.search("музей", page=query.MAX_PAGE, per_page=10)
    assert beyond.hits == [] and beyond.total == query.search("музей").total
    for bad in (
        {"per_page": "1000"},
        {"page": "0"},
        {"page": "x"},
        {"sort": "random"},
        {"type": "castle"},
        {"region": "Kharkiv"},
        {"date": "22"},
        {"has_3d": "maybe"},
        {"q": "я" * 201},
        {"damage": "burnt"},
        {"kind": "person"},
    ):
        with pytest.raises(SpadokError) as caught:
            query.parse_params(bad)
        assert caught.value.code.startswith("search.")


def test_page_and_api_share_the_ranking(world: dict[str, Any]) -> None:
    client = Client()
    for params in (
        {"q": "музей"},
        {"q": "Pyriatyn"},
        {"q": "Харк", "sort": "name"},
        {"q": "собор", "damage": "damaged"},
        {"q": "", "has_3d": "true"},
    ):
        api = client.get("/api/search", params)
        assert api.status_code == 200, api.content
        data = api.json()
        expected = query.search_params(query.parse_params(params))
        assert [r["id"] for r in data["results"]] == [h.id for h in expected.hits]
        page = client.get("/search", params)
        assert page.status_code == 200
        html = page.content.decode()
        positions = [html.find(f"/{r['id']}") for r in data["results"] if r["url"]]
        assert all(p > 0 for p in positions) and positions == sorted(positions)


def test_bad_parameters_are_400_with_a_code(world: dict[str, Any]) -> None:
    client = Client()
    for params in (
        {"per_page": "1000"},
        {"page": "-1"},
        {"sort": "x"},
        {"q": "x" * 500},
        {"has_3d": "2"},
        {"region": "DROP TABLE"},
    ):
        api = client.get("/api/search", params)
        assert api.status_code == 400, params
        assert api.json()["code"] in ("search.bad_parameter", "search.query_too_long")
        page = client.get("/search", params)
        assert page.status_code == 400
        assert "search." in page.content.decode()


def test_query_syntax_is_not_interpreted(world: dict[str, Any]) -> None:
    for q in ('"', "собор OR", "NEAR(a b)", "a* -b", "'); DROP TABLE x; --", ":*", "&|!"):
        query.search(q)  # no error: punctuation is not query syntax


def test_page_without_javascript(world: dict[str, Any]) -> None:
    html = Client().get("/search", {"q": "музей", "region": "UA-63"}).content.decode()
    assert '<label for="search-q">' in html
    assert 'type="checkbox"' in html and 'value="UA-63" checked' in html
    assert "?q=%D0%BC%D1%83%D0%B7%D0%B5%D0%B9" in html  # links that keep the query
    empty = Client().get("/search", {"q": "ніщонезнайдеться"}).content.decode()
    assert "ніщонезнайдеться" in empty and 'class="search-empty"' in empty


def test_suggest_sites(world: dict[str, Any]) -> None:
    found = query.suggest_sites("Пирят")
    assert found and all(set(f) >= {"id", "name", "settlement", "region"} for f in found)
    assert world["sobor"].id in [f["id"] for f in found]
    assert query.suggest_sites("") == []
    assert len(query.suggest_sites("музей", limit=3)) == 3


def test_refresh_follows_changes(world: dict[str, Any]) -> None:
    from spadok.sites.models import Site

    sobor = world["sobor"]
    Site.objects.filter(id=sobor.id).update(names={"uk": "Вознесенська церква"})
    index.refresh_sites([sobor.id])
    assert sobor.id not in _ids(query.search("Успенський"))
    assert sobor.id in _ids(query.search("Вознесенська"))
    public = world["records"]["public"]
    type(public).objects.filter(id=public.id).update(visibility="sealed")
    index.refresh_records([public.id])
    assert public.id not in _ids(query.search("Скан"))
    site_doc = query.search("Вознесенська").hits[0]
    assert public.id not in site_doc.thumbnail_url
    counts = index.rebuild()
    assert counts["removed"] == 0
    assert index.rebuild() == counts  # idempotent

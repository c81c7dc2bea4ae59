"""The search's own copy of the index's columns, who sees what, and the order of results.

On SQLite and (``-m db_both``) PostgreSQL. Small worlds made here, so that each
test says exactly which documents exist.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from spadok.search import columns, index, matching, query
from tests.accounts.conftest import make_user  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.db_both, pytest.mark.urls("tests.search.urls")]


@pytest.fixture(autouse=True)
def _fresh_copy() -> Any:
    """Each test starts as a process that has not searched yet."""
    columns.reset()
    matching.clear_cache()
    yield
    columns.reset()
    matching.clear_cache()


def _region(code: str = "UA-63") -> Any:
    from spadok.sites.models import Region

    return Region.objects.get_or_create(code=code, defaults={"names": {"uk": code, "en": code}})[0]


def _site(name: str, **fields: Any) -> Any:
    from spadok.sites.models import Site

    fields.setdefault("region", _region())
    site = Site.objects.create(names={"uk": name}, type=fields.pop("type", "church"), **fields)
    index.refresh_sites([site.id])
    return site


def _record(title: str, visibility: str = "public", **fields: Any) -> Any:
    from spadok.catalogue.models import Record

    record = Record.objects.create(title=title, visibility=visibility, **fields)
    index.refresh_records([record.id])
    return record


def _ids(q: str, user: Any = None, **kw: Any) -> list[str]:
    return [h.id for h in query.search(q, per_page=100, user=user, **kw).hits]


def _decoded(cols: columns.Columns) -> dict[str, list[Any]]:
    """The columns as values (codes differ between copies that met values in another order)."""
    out: dict[str, list[Any]] = {"sort_names": list(cols.sort_names)}
    for name in ("ids", "kind", "year", "has_3d", "public_from", "damage_date", "created"):
        out[name] = getattr(cols, name).tolist()
    for name, vocab in (("region", "region"), ("type", "type"), ("damage", "damage")):
        values = cols.vocab[vocab].values
        out[name] = [values[c] for c in getattr(cols, name).tolist()]
    values = cols.vocab["formats"].values
    out["formats"] = [values[c] for c in cols.formats.tolist()]
    return out


def _fresh() -> dict[str, list[Any]]:
    """What a process that starts now reads."""
    return _decoded(columns._load(columns._state(), columns._vocabulary()))


# -- what everyone may see -----------------------------------------------------------


@pytest.mark.parametrize("visibility", ["public", "coarse", "draft", "sealed", "embargoed"])
@pytest.mark.parametrize("embargo_days", [None, -1, 0, 1])
def test_public_from_is_the_catalogue_rule(visibility: str, embargo_days: int | None) -> None:
    from spadok.catalogue.selectors import public_since, visible_records
    from spadok.search.models import SearchDocument

    today = timezone.localdate()
    until = None if embargo_days is None else today + dt.timedelta(days=embargo_days)
    record = _record("Запис", visibility, embargo_until=until)
    doc = SearchDocument.objects.get(record_id=record.id)
    assert doc.public_from == public_since(record)
    public = visible_records(None).filter(pk=record.pk).exists()
    assert (doc.public_from is not None and doc.public_from <= today) == public
    assert (record.id in _ids("Запис")) == public


def test_an_embargo_ends_on_its_day_without_a_reindex(monkeypatch: pytest.MonkeyPatch) -> None:
    today = timezone.localdate()
    record = _record("Ембарго Полтава", "embargoed", embargo_until=today + dt.timedelta(days=1))
    assert _ids("Полтава") == []
    assert query.search("", filters=query.Filters(kind="record")).total == 0
    assert Client().get(f"/records/{record.id}/").status_code == 404
    tomorrow = today + dt.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: tomorrow)
    assert _ids("Полтава") == [record.id]
    assert query.search("", filters=query.Filters(kind="record")).total == 1
    assert Client().get(f"/records/{record.id}/").status_code == 200


def test_readers_who_see_more_get_exactly_that(make_user: Callable[..., Any]) -> None:  # noqa: F811
    from spadok.catalogue.models import Capture

    owner, other = make_user("owner"), make_user("other")
    reviewer, curator = make_user("reviewer", "reviewer"), make_user("curator", "curator")
    draft = _record("Чернетка храму", "draft")
    Capture.objects.create(record=draft, contributor=owner, state="ready", format="glb")
    sealed = _record("Запечатаний храм", "sealed")
    sealed.sealed_readers.set([curator])
    index.refresh_records([sealed.id])
    embargoed = _record(
        "Ембарго храму", "embargoed", embargo_until=timezone.localdate() + dt.timedelta(days=9)
    )
    public = _record("Відкритий храм")
    seen = {
        "anyone": set(_ids("храм")),
        "owner": set(_ids("храм", owner)),
        "other": set(_ids("храм", other)),
        "reviewer": set(_ids("храм", reviewer)),
        "curator": set(_ids("храм", curator)),
    }
    assert seen["anyone"] == seen["other"] == {public.id}
    assert seen["owner"] == {public.id, draft.id}
    assert seen["reviewer"] == {public.id, draft.id, embargoed.id}
    assert seen["curator"] == {public.id, draft.id, embargoed.id, sealed.id}
    # Without words too, and the counts follow the reader.
    browse = query.search("", filters=query.Filters(kind="record"), user=reviewer)
    assert browse.total == 3
    assert {v.value: v.count for v in browse.facets["kind"]} == {"record": 3}


def test_a_record_hidden_without_a_reindex_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    from spadok.catalogue.models import Record

    record = _record("Собор на горі")
    assert _ids("Собор") == [record.id]
    # A write that forgot to re-index: the document still says public.
    Record.objects.filter(id=record.id).update(visibility="sealed")
    with caplog.at_level(logging.WARNING, logger="spadok.search.query"):
        assert _ids("Собор") == []
        assert _ids("") == []
    assert "not visible" in caplog.text
    body = Client().get("/api/search", {"q": "Собор"}).content.decode()
    assert record.id not in body and "Собор на горі" not in body


# -- the copy follows the database -----------------------------------------------------


def test_the_copy_catches_up_with_only_what_changed(caplog: pytest.LogCaptureFixture) -> None:
    from spadok.catalogue.models import Record

    kept = _record("Іконостас Харків")
    gone = _record("Фасад Харків")
    assert set(_ids("Харків")) == {kept.id, gone.id}
    before = columns.current()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="spadok.search.columns"):
        # Rewritten and new documents (written over, added after the last id) ...
        site = _site("Собор у Харкові", damage_status="damaged", damage_date=dt.date(2022, 3, 1))
        Record.objects.filter(id=kept.id).update(title="Іконостас Полтава")
        index.refresh_records([kept.id])
        middle = columns.current()
        assert set(_ids("Харків")) == {gone.id, site.id}
        assert _decoded(middle) == _fresh()
        # ... and a removed one.
        Record.objects.filter(id=gone.id).delete()
        index.refresh_records([gone.id])
        after = columns.current()
        assert set(_ids("Харків")) == {site.id}
        assert _ids("Полтава") == [kept.id]
    assert "loaded" not in caplog.text  # caught up, not read again whole
    assert after is not middle is not before and after.version > middle.version > before.version
    assert _decoded(after) == _fresh()
    damaged = query.search("", filters=query.Filters(damage=("damaged",)))
    assert [h.id for h in damaged.hits] == [site.id]


def test_a_rolled_back_index_write_is_forgotten() -> None:
    _record("Дзвіниця Ізюм")

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        ghost = _record("Дзвіниця примара Ізюм")
        assert ghost.id in _ids("Ізюм")  # this process read the uncommitted version
        raise Undo
    assert ghost.id not in _ids("Ізюм")
    later = _record("Дзвіниця нова Ізюм")
    assert later.id in _ids("Ізюм") and ghost.id not in _ids("Ізюм")
    assert _decoded(columns.current()) == _fresh()


def test_a_copy_older_than_the_log_is_read_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(index, "KEEP_CHANGES", 2)
    first = _record("Фреска Чернігів")
    assert _ids("Чернігів") == [first.id]
    made = [_record(f"Фреска {n} Чернігів") for n in range(3)]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="spadok.search.columns"):
        assert set(_ids("Чернігів")) == {first.id, *(r.id for r in made)}
    assert "loaded" in caplog.text
    assert _decoded(columns.current()) == _fresh()


def test_kept_matches_follow_the_index() -> None:
    from spadok.catalogue.models import Record

    first = _record("Вітраж Львів")
    assert _ids("Львів") == [first.id]
    assert _ids("Львів") == [first.id]  # from the kept match
    second = _record("Вітраж Львів другий")
    assert set(_ids("Львів")) == {first.id, second.id}
    Record.objects.filter(id=first.id).delete()
    index.refresh_records([first.id])
    assert _ids("Львів") == [second.id]


# -- facets and order --------------------------------------------------------------------


def test_browsing_keeps_the_other_choices_of_a_facet() -> None:
    _site("Собор А", region=_region("UA-63"))
    _site("Собор Б", region=_region("UA-46"))
    _site("Музей В", region=_region("UA-46"), type="museum")
    result = query.search("", filters=query.Filters(region=("UA-46",)))
    assert result.total == 2
    regions = {v.value: (v.count, v.selected) for v in result.facets["region"]}
    assert regions == {"UA-46": (2, True), "UA-63": (1, False)}
    # Other facets count what the filter leaves.
    assert {v.value: v.count for v in result.facets["type"]} == {"church": 1, "museum": 1}


def _database_order(q: str) -> list[str]:
    """The relevance order computed by the database alone (rank, name by code point, id)."""
    from spadok.core import text

    words = text.query_terms(q)
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT d.site_id, d.record_id FROM search_document d WHERE d.tsv @@ %s::tsquery "
            f"AND d.public_from <= %s ORDER BY -ts_rank('{matching.PG_WEIGHTS}', d.tsv, "
            '%s::tsquery), d.sort_name COLLATE "C", d.id'
        )
        params = [matching.tsquery(words), timezone.localdate(), matching.tsquery(words)]
    else:
        weights = ", ".join(str(w) for w in matching.BM25_WEIGHTS)
        sql = (
            f"SELECT d.site_id, d.record_id FROM search_fts JOIN search_document d "
            f"ON d.id = search_fts.rowid WHERE search_fts MATCH %s AND d.public_from <= %s "
            f"ORDER BY bm25(search_fts, {weights}), d.sort_name, d.id"
        )
        params = [matching.fts5_query(words), timezone.localdate()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [site or record for site, record in cursor.fetchall()]


def test_every_order_is_the_databases_and_pages_join_up() -> None:
    # Names that tie on rank (same words, same length) and differ in name; dates that tie.
    for name in ("Церква Б Пирятин", "Церква А Пирятин", "Церква В Пирятин", "Ґанок Пирятин"):
        _site(name, damage_status="damaged", damage_date=dt.date(2023, 5, 1))
    _site("Пирятин Пирятин церква", damage_status="destroyed", damage_date=dt.date(2024, 1, 1))
    _site("Церква в Пирятині")
    _record("Скан церкви Пирятин", description="Пирятин, Пирятин")
    _record("Іконостас", description="з Пирятина")
    expected = _database_order("Пирятин")
    assert len(expected) == 8
    assert _ids("Пирятин") == expected
    paged = [h.id for p in range(1, 4) for h in query.search("Пирятин", page=p, per_page=3).hits]
    assert paged == expected
    by_name = query.search("Пирятин", sort="name", per_page=100).hits
    from spadok.search.models import SearchDocument

    names = {d.site_id or d.record_id: d.sort_name for d in SearchDocument.objects.all()}
    assert [names[h.id] for h in by_name] == sorted(names[h.id] for h in by_name)
    newest = [h.id for h in query.search("Пирятин", sort="newest", per_page=100).hits]
    created = {d.site_id or d.record_id: (d.created_at, d.id) for d in SearchDocument.objects.all()}
    assert newest == sorted(newest, key=lambda i: created[i], reverse=True)
    damaged = [h.id for h in query.search("Пирятин", sort="damaged", per_page=100).hits]
    dates = {d.site_id or d.record_id: d.damage_date for d in SearchDocument.objects.all()}
    dated = [i for i in expected if dates[i]]
    dated.sort(key=lambda i: dates[i], reverse=True)  # stable: relevance within a day
    assert damaged == dated + [i for i in expected if not dates[i]]

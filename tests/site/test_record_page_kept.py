"""The public's kept copy of a whole record page: each reader still gets their own CSRF
token, every change shows on the next request, and nothing personal or hidden is kept."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from spadok.catalogue.models import Record
from spadok.site.middleware import POLICY

pytestmark = [pytest.mark.django_db, pytest.mark.db_both]

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _kept_keys(record: Record) -> list[str]:
    """The pages cache's keys for this record's kept copies (locmem: one dict per process)."""
    return [k for k in caches["pages"]._cache if f"record-html:{record.id}:" in k]  # type: ignore[attr-defined]


def test_each_reader_gets_their_own_token_and_it_works(
    make_capture: Callable[..., Any],
) -> None:
    record = make_capture(title="Ратуша").record
    url = f"/records/{record.id}/"
    caches["pages"].clear()
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    pages = [first.get(url), second.get(url)]
    assert len(_kept_keys(record)) == 1  # the second came from the kept copy
    tokens = [TOKEN.findall(p.content.decode()) for p in pages]
    assert all(len(t) == 1 for t in tokens) and tokens[0] != tokens[1]
    # The policy holds on the kept copy too: no inline script, so no nonce to carry.
    assert all(p["Content-Security-Policy"] == POLICY for p in pages)
    # No stand-in is left in what readers get.
    for page in pages:
        assert not re.search(r"csrf[0-9a-f]{32}|/next[0-9a-f]{32}", page.content.decode())
    # Each token goes with its own reader's cookie: switching the language works, and
    # one reader's token is refused with the other's cookie.
    answer = first.post("/i18n/setlang/", {"language": "en", "next": url,
                                          "csrfmiddlewaretoken": tokens[0][0]})  # fmt: skip
    assert answer.status_code == 302 and answer["Location"] == url
    assert first.get(url).content.decode().count('lang="en"') >= 1
    crossed = second.post("/i18n/setlang/", {"language": "en", "next": url,
                                            "csrfmiddlewaretoken": tokens[0][0]})  # fmt: skip
    assert crossed.status_code == 403


def test_the_return_path_is_each_readers_own(make_capture: Callable[..., Any]) -> None:
    record = make_capture(title="Каплиця").record
    url = f"/records/{record.id}/"
    caches["pages"].clear()
    plain = Client().get(url).content.decode()
    odd = Client().get(url, {"from": '"><b>x</b>'}).content.decode()
    assert len(_kept_keys(record)) == 1
    assert f'name="next" value="{url}"' in plain
    assert f'name="next" value="{url}?from=%22%3E%3Cb%3Ex%3C%2Fb%3E"' in odd
    assert "<b>x</b>" not in odd


def test_damage_and_comparisons_show_on_the_next_request(
    make_capture: Callable[..., Any],
) -> None:
    from spadok.compare.models import Comparison, ComparisonState
    from spadok.damage.models import DamageEvent

    before = make_capture(title="Вежа")
    record = before.record
    url = f"/records/{record.id}/"
    public = Client(HTTP_ACCEPT_LANGUAGE="en")

    def page() -> str:
        return public.get(url).content.decode()

    assert "No damage has been recorded" in page() and "Before and after" not in page()
    event = DamageEvent.objects.create(
        record=record, kind="damaged", standing="news", description="Зруйновано дах", public=True
    )
    assert "Зруйновано дах" in page()
    DamageEvent.objects.filter(pk=event.pk).update(description="Пошкоджено фасад")
    body = page()
    assert "Пошкоджено фасад" in body and "Зруйновано дах" not in body
    DamageEvent.objects.filter(pk=event.pk).update(public=False)
    assert "Пошкоджено фасад" not in page()
    after = make_capture(record=record)
    assert "Before and after" in page()
    comparison = Comparison.objects.create(
        before=before, after=after, params_key="k", state=ComparisonState.QUEUED
    )
    assert f"{before.id} → {after.id}" not in page()
    Comparison.objects.filter(pk=comparison.pk).update(state=ComparisonState.READY)
    assert f"{before.id} → {after.id}" in page()


def test_messages_are_never_kept_nor_served_from_the_copy(
    make_capture: Callable[..., Any],
) -> None:
    record = make_capture(title="Млин").record
    url = f"/records/{record.id}/"
    caches["pages"].clear()
    assert "Для вас повідомлення" not in Client().get(url).content.decode()  # kept now
    storage = CookieStorage(HttpRequest())
    reader = Client()
    reader.cookies["messages"] = storage._encode([Message(constants.INFO, "Для вас повідомлення")])
    assert "Для вас повідомлення" in reader.get(url).content.decode()
    assert "Для вас повідомлення" not in reader.get(url).content.decode()  # shown once
    assert "Для вас повідомлення" not in Client().get(url).content.decode()
    caches["pages"].clear()
    late = Client()
    late.cookies["messages"] = storage._encode([Message(constants.INFO, "Лише мені")])
    assert "Лише мені" in late.get(url).content.decode()
    assert _kept_keys(record) == []  # a page with a message is not kept
    assert "Лише мені" not in Client().get(url).content.decode()


@pytest.mark.parametrize("visibility", ["sealed", "embargoed", "draft"])
def test_hidden_records_are_never_kept_or_served(
    make_capture: Callable[..., Any], visibility: str
) -> None:
    record = make_capture(title="Склеп").record
    url = f"/records/{record.id}/"
    caches["pages"].clear()
    assert Client().get(url).status_code == 200 and len(_kept_keys(record)) == 1
    until = timezone.localdate() + dt.timedelta(days=30)
    Record.objects.filter(pk=record.pk).update(visibility=visibility, embargo_until=until)
    assert Client().get(url).status_code == 404
    caches["pages"].clear()
    assert Client().get(url).status_code == 404
    assert _kept_keys(record) == []


def test_an_embargo_that_ended_opens_the_page(make_capture: Callable[..., Any]) -> None:
    record = make_capture(title="Фреска").record
    Record.objects.filter(pk=record.pk).update(
        visibility="embargoed", embargo_until=timezone.localdate() - dt.timedelta(days=1)
    )
    url = f"/records/{record.id}/"
    assert Client().get(url).status_code == 200 and "Фреска" in Client().get(url).content.decode()

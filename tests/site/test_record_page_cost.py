"""A record page reads a bounded number of queries, and the public's kept copy of the
whole page follows every change and is never given to anyone else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from spadok.catalogue.models import CaptureState, Record

pytestmark = [pytest.mark.django_db, pytest.mark.db_both]

# The public's kept page: the record and the digests of its captures, derivatives,
# damage events and comparisons (and its site, which these records have none of);
# when it is made, also its captures and their derivatives, the damage events and
# the offer to compare.
PUBLIC_KEPT = 5
PUBLIC_MADE = 9
SIGNED_IN = 25


def _queries(client: Client, url: str, templates: list[int] | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    if templates is not None:
        templates.append(len(response.templates))
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_captures(
    make_capture: Callable[..., Any], django_user_model: Any
) -> None:
    one = make_capture(title="Одна зйомка").record
    many = make_capture(title="Чотири зйомки").record
    for state in (CaptureState.READY, CaptureState.PROCESSING, CaptureState.FAILED):
        make_capture(record=many, state=state)
    public = Client()
    rendered: list[int] = []
    made = [_queries(public, f"/records/{r.id}/", rendered) for r in (one, many)]
    kept = [_queries(public, f"/records/{r.id}/", rendered) for r in (one, many)]
    assert made[0] == made[1] <= PUBLIC_MADE
    assert kept[0] == kept[1] <= PUBLIC_KEPT
    assert kept[0] < made[0]
    # The kept copy renders no template at all; making it renders the page's dozen.
    assert rendered[2:] == [0, 0] and min(rendered[:2]) > 10
    user = django_user_model.objects.create_user("reader", "reader@example.org", "x" * 16)
    signed_in = Client()
    signed_in.force_login(user)
    counts = [_queries(signed_in, f"/records/{r.id}/") for r in (one, many)]
    assert counts[0] == counts[1] <= SIGNED_IN


def test_the_kept_public_page_follows_every_change(
    make_capture: Callable[..., Any], django_user_model: Any
) -> None:
    from spadok.accounts.services import profile_update
    from spadok.catalogue.models import Capture, Derivative
    from spadok.sites.models import Site

    owner = django_user_model.objects.create_user("owl", "owl@example.org", "x" * 16)
    profile_update(user=owner, display_name="Сова з Печерська", credit_me=False)
    capture = make_capture(title="Собор", contributor=owner)
    record = capture.record
    url = f"/records/{record.id}/"
    public = Client()

    def page() -> str:
        return public.get(url).content.decode()

    assert "Сова з Печерська" not in page()
    profile_update(user=owner, display_name="Сова з Печерська", credit_me=True)
    assert "Сова з Печерська" in page()
    profile_update(user=owner, display_name="Сова з Печерська", credit_me=False)
    assert "Сова з Печерська" not in page()
    # A capture's state, a derivative, the record's words (even written around the
    # record's own timestamp), the site's name: each shows on the next request.
    Capture.objects.filter(id=capture.id).update(stats={"triangles": 4321, "unit": "парсек"})
    assert "парсек" in page()
    Derivative.objects.filter(capture=capture, role="thumbnail").delete()
    assert "/derivative/thumbnail" not in page()
    Record.objects.filter(id=record.id).update(description="Оновлений опис")
    assert "Оновлений опис" in page()
    site = Site.objects.create(names={"uk": "Успенський собор"})
    Record.objects.filter(id=record.id).update(site=site)
    assert "Успенський собор" in page()
    Site.objects.filter(id=site.id).update(names={"uk": "Вознесенський собор"})
    body = page()
    assert "Вознесенський собор" in body and "Успенський собор" not in body
    # Hidden: gone at once, kept copy or not.
    Record.objects.filter(id=record.id).update(visibility="draft")
    assert public.get(url).status_code == 404


def test_the_public_copy_is_never_given_to_a_signed_in_reader(
    make_capture: Callable[..., Any], django_user_model: Any
) -> None:
    owner = django_user_model.objects.create_user("maker", "maker@example.org", "x" * 16)
    capture = make_capture(title="Брама", contributor=owner, latitude=50.45, longitude=30.52)
    from django.urls import reverse

    url = f"/records/{capture.record.id}/"
    manage = reverse("catalogue:capture", args=[capture.record.id, capture.id])
    anonymous = Client().get(url).content.decode()  # now kept
    assert f'href="{manage}"' not in anonymous and 'data-location="exact"' not in anonymous
    mine = Client()
    mine.force_login(owner)
    response = mine.get(url)
    body = response.content.decode()
    # The contributor sees their own capture's page and its exact place; the public does not.
    assert f'href="{manage}"' in body and 'data-location="exact"' in body
    assert "no-store" in response["Cache-Control"]
    again = Client().get(url).content.decode()
    assert f'href="{manage}"' not in again and 'data-location="exact"' not in again


def test_each_language_and_host_has_its_own_copy(
    make_capture: Callable[..., Any], settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["archive.example.org", "mirror.example.org", "testserver"]
    record = make_capture(title="Дзвіниця").record
    url = f"/records/{record.id}/"
    uk = Client(HTTP_ACCEPT_LANGUAGE="uk").get(url, HTTP_HOST="archive.example.org")
    en = Client(HTTP_ACCEPT_LANGUAGE="en").get(url, HTTP_HOST="archive.example.org")
    assert 'lang="uk"' in uk.content.decode() and 'lang="en"' in en.content.decode()
    assert "Скани" in uk.content.decode() and "Captures" in en.content.decode()
    mirror = Client(HTTP_ACCEPT_LANGUAGE="uk").get(url, HTTP_HOST="mirror.example.org")
    body = mirror.content.decode()
    assert "//mirror.example.org/" in body and "//archive.example.org/" not in body

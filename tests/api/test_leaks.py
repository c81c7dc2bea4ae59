"""Nothing hidden reaches any open API: every REST, OAI-PMH, JSON-LD, oEmbed and embed
answer of a seeded archive is searched, as raw text, for what must stay in the archive:
the sealed, embargoed and draft records (ids, titles, descriptions), the contributor's
e-mail, user name and uncredited display name, the exact GPS point of their captures,
and the exact point and address of the sensitive site."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client

from tests.api.conftest import (
    CAPTURE_LAT,
    CAPTURE_LON,
    DAMAGE_CURATOR,
    EMAIL,
    HIDDEN_DAMAGE,
    HIDDEN_TITLES,
    SENSITIVE_LAT,
    SENSITIVE_LON,
    USERNAME,
)

pytestmark = pytest.mark.django_db


def _points() -> list[str]:
    out = []
    for value in (CAPTURE_LAT, CAPTURE_LON, SENSITIVE_LAT, SENSITIVE_LON):
        for places in (3, 4, 5, 6):
            out.append(f"{value:.{places}f}")
    return out


def _urls(archive) -> list[str]:  # type: ignore[no-untyped-def]
    public = archive.public
    urls = ["/api/records?limit=100", "/api/sites?limit=100", "/api/openapi.json"]
    for site in archive.sites.values():
        urls.append(f"/api/sites/{site.id}")
    urls.append("/damage/")
    for table in ("by-region", "by-kind", "by-standing", "by-month", "coverage"):
        urls += [f"/damage/stats/{table}.json", f"/damage/stats/{table}.csv"]
    for record in public:
        page = f"http://testserver/records/{record.id}/"
        urls += [
            f"/api/records/{record.id}",
            f"/records/{record.id}/",
            f"/embed/{record.id}",
            "/api/oembed?" + urlencode({"url": page}),
        ]
        urls += [f"/api/captures/{c.id}" for c in record.captures.all()]
    for record in archive.hidden:
        page = f"http://testserver/records/{record.id}/"
        urls += [f"/embed/{record.id}", "/api/oembed?" + urlencode({"url": page})]
        for prefix in ("oai_dc", "edm"):
            urls.append(
                "/oai?"
                + urlencode(
                    {
                        "verb": "GetRecord",
                        "identifier": f"oai:testserver:{record.id}",
                        "metadataPrefix": prefix,
                    }
                )
            )
    urls += ["/oai?verb=Identify", "/oai?verb=ListSets"]
    for prefix in ("oai_dc", "edm"):
        urls += [
            f"/oai?verb=ListRecords&metadataPrefix={prefix}",
            f"/oai?verb=ListIdentifiers&metadataPrefix={prefix}",
        ]
    return urls


def _body(response) -> str:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_no_api_answer_carries_hidden_or_identifying_data(archive, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SPADOK_OAI_PAGE_SIZE = 1000  # every item in one list answer
    secrets = [
        EMAIL,
        USERNAME,
        "volunteer-hidden",  # the display name of a contributor who did not ask for credit
        "SECRET-ADDRESS",
        *HIDDEN_TITLES,
        *DAMAGE_CURATOR,
        *HIDDEN_DAMAGE,
        *(r.id for r in archive.hidden),
        *(c.id for r in archive.hidden for c in r.captures.all()),
        *_points(),
    ]
    anonymous = Client()
    token = Client(headers={"Authorization": f"Bearer {archive.token}"})
    checked = 0
    # The site pages as the public sees them (a signed-in contributor also sees their drafts).
    pages = [(anonymous, f"/sites/{site.id}/") for site in archive.sites.values()]
    for client, url in [(c, u) for c in (anonymous, token) for u in _urls(archive)] + pages:
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        # OAI-PMH echoes the request's own arguments (a hidden id asked for): not a leak.
        text = re.sub(r"<request[^>]*>.*?</request>", "", _body(response), flags=re.S)
        found = [s for s in secrets if s in text]
        assert not found, f"{url} shows {found}"
        checked += 1
    assert checked > 60
    # And the public answers do carry the public data (the sweep saw real content).
    text = _body(anonymous.get("/oai?verb=ListRecords&metadataPrefix=edm"))
    assert all(r.title in text for r in archive.public)
    # and the public accounts of damage are there, with their sources
    text = _body(anonymous.get(f"/api/sites/{archive.sites['church'].id}"))
    assert archive.damage[0].id in text and "https://www.unesco.org/en/articles/example" in text
    text = _body(anonymous.get(f"/api/sites/{archive.sites['sensitive'].id}"))
    assert archive.damage[1].id in text and "Hit by a missile." in text

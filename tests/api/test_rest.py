"""The REST API through HTTP: filters, pages, errors, access, and the docs without a CDN."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.api.conftest import PUBLIC_COUNT, SENSITIVE_LAT, SENSITIVE_LON

pytestmark = pytest.mark.django_db


def get(client: Client, url: str, **headers: str) -> tuple[int, dict]:
    response = client.get(url, headers=headers)
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, response.json()


def test_records_pages_and_filters(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    seen: list[str] = []
    url = "/api/records?limit=3"
    while url:
        status, page = get(client, url)
        assert status == 200 and page["count"] == PUBLIC_COUNT + 1
        seen += [r["id"] for r in page["items"]]
        url = page["next"].replace("http://testserver", "") if page["next"] else ""
    assert sorted(seen) == sorted(r.id for r in archive.public)
    church = archive.sites["church"]
    status, page = get(client, f"/api/records?site={church.id}&has_3d=true")
    assert {r["id"] for r in page["items"]} == {
        r.id for r in archive.public if r.site_id == church.id
    }
    status, page = get(client, "/api/records?region=UA-30")
    assert page["items"] and all(
        r["site"]["id"] == archive.sites["sensitive"].id for r in page["items"]
    )
    status, body = get(client, "/api/records?limit=1000")
    assert status == 400 and body["code"] == "api.invalid_request" and body["message"]


def test_record_detail_has_captures_and_working_web_copies(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    record = archive.public[0]
    status, body = get(client, f"/api/records/{record.id}")
    assert status == 200 and body["title"] == record.title
    assert body["credits"] == ["Volunteer Dnipro-Lights"]  # the credited contributor only
    (capture,) = body["captures"]
    roles = {d["role"]: d for d in capture["derivatives"]}
    assert {"web-medium", "thumbnail"} <= set(roles)
    glb = client.get(roles["web-medium"]["url"].replace("http://testserver", ""))
    assert b"".join(glb.streaming_content)[:4] == b"glTF"
    assert capture["licence_url"] == "https://creativecommons.org/licenses/by/4.0/"
    status, one = get(client, f"/api/captures/{capture['id']}")
    assert status == 200 and one["id"] == capture["id"]


def test_hidden_records_are_404_for_the_public_but_a_token_sees_its_own_draft(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    for record in archive.hidden:
        status, body = get(client, f"/api/records/{record.id}")
        assert status == 404 and body["code"] == "api.not_found"
        capture = record.captures.get()
        assert get(client, f"/api/captures/{capture.id}")[0] == 404
    auth = {"Authorization": f"Bearer {archive.token}"}
    response = client.get(f"/api/records/{archive.draft.id}", headers=auth)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    sealed = archive.hidden[0]
    assert client.get(f"/api/records/{sealed.id}", headers=auth).status_code == 404
    assert get(client, "/api/records/not-an-id%00")[0] == 404


def box(lon: float, lat: float, half: float) -> str:
    return f"{lon - half:.6f},{lat - half:.6f},{lon + half:.6f},{lat + half:.6f}"


def test_sites_filters_and_the_sensitive_point(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    status, page = get(client, "/api/sites")
    assert page["count"] == 3
    sensitive = archive.sites["sensitive"]
    status, body = get(client, f"/api/sites/{sensitive.id}")
    assert body["address"] == ""
    assert body["location"] == {
        "latitude": round(SENSITIVE_LAT, 1),
        "longitude": round(SENSITIVE_LON, 1),
        "precision_m": 11000.0,
    }
    # A box around the exact point but away from the rounded one finds nothing.
    tight = box(SENSITIVE_LON, SENSITIVE_LAT, 0.001)
    assert get(client, f"/api/sites?bbox={tight}")[1]["count"] == 0
    around = box(round(SENSITIVE_LON, 1), round(SENSITIVE_LAT, 1), 0.01)
    assert [s["id"] for s in get(client, f"/api/sites?bbox={around}")[1]["items"]] == [sensitive.id]
    assert {s["id"] for s in get(client, "/api/sites?region=UA-46&type=church")[1]["items"]} == {
        archive.sites["church"].id
    }
    assert [s["id"] for s in get(client, "/api/sites?has_3d=false")[1]["items"]] == [
        archive.sites["empty"].id
    ]
    assert get(client, "/api/sites?damage=damaged")[1]["items"][0]["id"] == sensitive.id
    assert get(client, "/api/sites?updated_since=2999-01-01T00:00:00Z")[1]["count"] == 0
    status, body = get(client, "/api/sites?bbox=1,2,3")
    assert status == 400 and body["code"] == "api.invalid_request"
    status, body = get(client, f"/api/sites/{sensitive.id}")
    assert {r["id"] for r in body["records"]} == {
        r.id for r in archive.public if r.site_id == sensitive.id
    }


def test_openapi_and_docs_are_served_from_this_server(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.") and "/api/records/{record_id}" in schema["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "/static/ninja/swagger-ui-bundle" in html
    assert "frame-ancestors 'none'" in docs["Content-Security-Policy"]
    # The older JSON endpoints still answer.
    assert client.get("/api/me").status_code == 401
    assert client.get(f"/records/{archive.public[0].id}.json").status_code == 200
    json.dumps(schema)

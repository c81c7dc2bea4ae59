"""oEmbed, the embeddable viewer (the one page others may frame), JSON-LD on record pages."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from lxml import html as lxml_html

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


def oembed(client: Client, **query: str):  # type: ignore[no-untyped-def]
    return client.get("/api/oembed?" + urlencode(query))


def test_oembed_gives_a_rich_iframe_sized_to_fit(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    record = archive.public[0]
    page = f"{BASE}/records/{record.id}/"
    response = oembed(client, url=page, format="json", maxwidth="320", maxheight="400")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "1.0" and body["type"] == "rich"
    assert (body["width"], body["height"]) == (320, 240)  # 4:3 within 320×400
    frame = lxml_html.fromstring(body["html"])
    assert frame.tag == "iframe" and frame.get("src") == f"{BASE}/embed/{record.id}"
    assert body["thumbnail_url"].endswith("/derivative/thumbnail")
    assert body["author_name"] == "Volunteer Dnipro-Lights"
    assert oembed(client, url=page).json()["width"] == 640
    # The embed page's own URL works as well.
    assert oembed(client, url=f"{BASE}/embed/{record.id}").status_code == 200


def test_oembed_refuses_what_is_not_a_public_record_here(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    record = archive.public[0]
    xml = oembed(client, url=f"{BASE}/records/{record.id}/", format="xml")
    assert xml.status_code == 501 and xml.json()["code"] == "api.format_unsupported"
    for url in [
        f"{BASE}/records/{archive.hidden[0].id}/",
        f"{BASE}/records/{archive.draft.id}/",
        f"https://elsewhere.example.org/records/{record.id}/",
        f"{BASE}/browse/",
        "javascript:alert(1)",
    ]:
        response = oembed(client, url=url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "api.not_found"


def test_only_the_embed_page_may_be_framed(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    record = archive.public[0]
    embed = client.get(f"/embed/{record.id}")
    assert embed.status_code == 200
    csp = embed["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "X-Frame-Options" not in embed
    doc = lxml_html.fromstring(embed.content)
    viewer = doc.find(".//model-viewer")
    assert viewer.get("src").endswith(
        f"/records/{record.id}/captures/{record.captures.get().id}/derivative/web-medium"
    )
    assert viewer.get("poster").endswith("/derivative/thumbnail")
    back = doc.find(".//a[@target='_blank']")
    assert back.get("href") == f"{BASE}/records/{record.id}/"
    assert "CC BY 4.0" in embed.content.decode()
    # Every script and style comes from this server.
    assert all(not s.get("src", "/").startswith("http") for s in doc.iter("script"))
    for path in ("/", f"/records/{record.id}/", "/api/records", "/oai?verb=Identify"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert response.get("X-Frame-Options") == "DENY", path
    # Hidden records are not embeddable, even for a signed-in contributor.
    client.force_login(archive.contributor)
    missing = client.get(f"/embed/{archive.draft.id}")
    assert missing.status_code == 404 and "frame-ancestors *" in missing["Content-Security-Policy"]


def _jsonld(content: bytes) -> dict:
    found = re.findall(rb'<script type="application/ld\+json">(.*?)</script>', content, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def test_record_page_has_json_ld_and_oembed_discovery(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    by_site = {r.site_id: r for r in archive.public if r.site_id}
    record = by_site[archive.sites["church"].id]
    page = client.get(f"/records/{record.id}/")
    data = _jsonld(page.content)
    assert data["@context"] == "https://schema.org"
    kinds = {node["@type"]: node for node in data["@graph"]}
    work, model, place = kinds["CreativeWork"], kinds["3DModel"], kinds["Place"]
    assert work["name"] == record.title and work["about"] == {"@id": place["@id"]}
    assert work["license"] == model["license"]
    assert model["license"] in (
        "https://creativecommons.org/licenses/by/4.0/",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    )
    encoding = model["encoding"][0]
    assert encoding["encodingFormat"] == "model/gltf-binary"
    assert encoding["contentUrl"].endswith("/derivative/web-medium")
    assert place["geo"]["latitude"] == pytest.approx(49.838611)
    assert place["sameAs"] == "https://www.wikidata.org/wiki/Q1130563"
    assert "contributor" not in work  # nobody asked to be credited on this record
    links = lxml_html.fromstring(page.content).xpath(
        '//link[@rel="alternate"][@type="application/json+oembed"]'
    )
    (link,) = links
    assert client.get(link.get("href").replace(BASE, "")).json()["type"] == "rich"
    credited = client.get(f"/records/{archive.public[0].id}/")
    assert _jsonld(credited.content)["@graph"][0]["contributor"] == [
        {"@type": "Person", "name": "Volunteer Dnipro-Lights"}
    ]
    # A draft's page (seen by its contributor) carries neither.
    client.force_login(archive.contributor)
    draft = client.get(f"/records/{archive.draft.id}/")
    assert draft.status_code == 200
    assert b"application/ld+json" not in draft.content and b"json+oembed" not in draft.content


def test_a_title_cannot_break_out_of_the_json_ld_script(archive) -> None:  # type: ignore[no-untyped-def]
    record = archive.public[2]
    record.title = '</script><script>alert("x")</script>'
    record.save()
    page = Client().get(f"/records/{record.id}/")
    assert _jsonld(page.content)["@graph"][0]["name"] == record.title
    assert b'</script><script>alert("x")' not in page.content

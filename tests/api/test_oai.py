"""OAI-PMH 2.0: a real harvester takes every public item, page by page; every answer
validates against the protocol's published schema (and oai_dc against its own)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlencode

import pytest
import xmlschema
from django.test import Client
from django.utils import timezone
from lxml import etree

from tests.api.conftest import HIDDEN_TITLES, PUBLIC_COUNT, SENSITIVE_LAT, SENSITIVE_LON

SCHEMAS = Path(__file__).parent / "schemas"
OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {
    "oai": OAI,
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "edm": "http://www.europeana.eu/schemas/edm/",
    "ore": "http://www.openarchives.org/ore/terms/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "wgs84_pos": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
HOST = "testserver"


@pytest.fixture(scope="module")
def oai_schema() -> xmlschema.XMLSchema:
    """OAI-PMH.xsd with oai_dc.xsd (and DC) and the OAI's rdf.xsd, all offline."""
    return xmlschema.XMLSchema(
        [str(SCHEMAS / name) for name in ("OAI-PMH.xsd", "oai_dc.xsd", "rdf.xsd")]
    )


def ask(client: Client, **query: str) -> etree._Element:
    response = client.get("/oai?" + urlencode(query))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    return etree.fromstring(response.content)


def valid(schema: xmlschema.XMLSchema, root: etree._Element) -> etree._Element:
    errors = list(schema.iter_errors(etree.tostring(root).decode()))
    assert not errors, "\n".join(str(e) for e in errors[:3])
    return root


def error_code(root: etree._Element) -> str | None:
    el = root.find("oai:error", NS)
    return el.get("code") if el is not None else None


def oai_id(item_id: str) -> str:
    return f"oai:{HOST}:{item_id}"


def harvest_ids(client: Client, verb: str, **query: str) -> tuple[list[str], list[etree._Element]]:
    """Follow resumption tokens to the end; return every identifier and every page."""
    pages = [ask(client, verb=verb, **query)]
    while True:
        token = pages[-1].find(f"oai:{verb}/oai:resumptionToken", NS)
        if token is None or not (token.text or "").strip():
            break
        pages.append(ask(client, verb=verb, resumptionToken=token.text))
    ids = [e.text for p in pages for e in p.iterfind(".//oai:header/oai:identifier", NS)]
    return ids, pages


@pytest.mark.django_db(transaction=True)
def test_a_real_harvester_takes_every_public_item_and_nothing_else(
    archive, live_server, settings
) -> None:  # type: ignore[no-untyped-def]
    from oaipmh_scythe import Scythe

    settings.SPADOK_OAI_PAGE_SIZE = 3
    public = {r.id for r in archive.public}
    sites = {s.id for s in archive.sites.values()}
    hidden = {r.id for r in archive.hidden}
    host = live_server.url.split("//", 1)[1].split(":")[0]

    with Scythe(f"{live_server.url}/oai") as scythe:
        identify = scythe.identify()
        assert identify.deletedRecord == "no"
        assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
        records = list(scythe.list_records(metadata_prefix="edm"))
        headers = list(scythe.list_identifiers(metadata_prefix="oai_dc"))
        dc_records = list(scythe.list_records(metadata_prefix="oai_dc", set_="records"))

    local = {r.header.identifier.split(f"oai:{host}:", 1)[1] for r in records}
    assert local == public  # EDM: records only, every public one, none hidden
    assert len(records) == len(public) == PUBLIC_COUNT + 1  # no duplicates over 3 pages
    every = [h.identifier.split(f"oai:{host}:", 1)[1] for h in headers]
    assert sorted(every) == sorted(public | sites)
    assert not hidden & set(every)
    titles = {t for r in dc_records for t in r.metadata["title"]}
    assert titles == {r.title for r in archive.public}
    assert not titles & set(HIDDEN_TITLES)


@pytest.mark.django_db
def test_every_verb_and_error_validates(archive, oai_schema, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SPADOK_OAI_PAGE_SIZE = 4
    client = Client()
    record, site = archive.public[0], archive.sites["church"]
    ok = [
        {"verb": "Identify"},
        {"verb": "ListMetadataFormats"},
        {"verb": "ListMetadataFormats", "identifier": oai_id(record.id)},
        {"verb": "ListMetadataFormats", "identifier": oai_id(site.id)},
        {"verb": "ListSets"},
        {"verb": "GetRecord", "identifier": oai_id(record.id), "metadataPrefix": "oai_dc"},
        {"verb": "GetRecord", "identifier": oai_id(record.id), "metadataPrefix": "edm"},
        {"verb": "GetRecord", "identifier": oai_id(site.id), "metadataPrefix": "oai_dc"},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "edm", "set": "region:UA-46"},
        {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "type:museum"},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2000-01-01"},
    ]
    for query in ok:
        root = valid(oai_schema, ask(client, **query))
        assert error_code(root) is None, query
        request = root.find("oai:request", NS)
        assert request.get("verb") == query["verb"]
    hidden = archive.hidden[0]
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    errors = [
        ({}, "badVerb"),
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": "Identify", "set": "x"}, "badArgument"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "GetRecord", "identifier": oai_id(record.id)}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-13-45"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2024-01-01",
                "until": "2024-02-01T00:00:00Z",
            },
            "badArgument",
        ),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2024-02-01",
                "until": "2024-01-01",
            },
            "badArgument",
        ),
        ({"verb": "ListRecords", "resumptionToken": "forged"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "identifier": oai_id(site.id), "metadataPrefix": "edm"},
            "cannotDisseminateFormat",
        ),
        (
            {"verb": "GetRecord", "identifier": oai_id(hidden.id), "metadataPrefix": "oai_dc"},
            "idDoesNotExist",
        ),
        ({"verb": "ListMetadataFormats", "identifier": "oai:elsewhere:r-1"}, "idDoesNotExist"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": tomorrow}, "noRecordsMatch"),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "region:UA-99"},
            "noRecordsMatch",
        ),
    ]
    for query, code in errors:
        root = valid(oai_schema, ask(client, **query))
        assert error_code(root) == code, query
        if code in ("badVerb", "badArgument"):  # the base URL only, no attributes
            assert not root.find("oai:request", NS).attrib
    # A repeated argument is a badArgument too.
    response = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=edm")
    assert error_code(valid(oai_schema, etree.fromstring(response.content))) == "badArgument"
    # POST is part of the protocol (and needs no CSRF token).
    response = Client(enforce_csrf_checks=True).post("/oai", {"verb": "Identify"})
    assert error_code(valid(oai_schema, etree.fromstring(response.content))) is None


@pytest.mark.django_db
def test_resumption_tokens_page_with_cursor_size_and_expiry(
    archive, oai_schema, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    settings.SPADOK_OAI_PAGE_SIZE = 3
    client = Client()
    ids, pages = harvest_ids(client, "ListIdentifiers", metadataPrefix="oai_dc")
    total = len(archive.public) + len(archive.sites)
    assert len(ids) == len(set(ids)) == total
    assert len(pages) == -(-total // 3)
    for n, page in enumerate(pages):
        valid(oai_schema, page)
        token = page.find("oai:ListIdentifiers/oai:resumptionToken", NS)
        assert token.get("cursor") == str(3 * n)
        assert token.get("completeListSize") == str(total)
        if n < len(pages) - 1:
            assert token.get("expirationDate", "").endswith("Z")
        else:
            assert not (token.text or "").strip()  # the last page: an empty token
    # An edited token, a token of another verb, an expired token: all refused.
    first = pages[0].find("oai:ListIdentifiers/oai:resumptionToken", NS).text
    for verb, token in (("ListIdentifiers", first[:-2] + "xx"), ("ListRecords", first)):
        assert error_code(ask(client, verb=verb, resumptionToken=token)) == "badResumptionToken"
    import time

    later = time.time() + settings.SPADOK_OAI_TOKEN_HOURS * 3600 + 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    root = ask(client, verb="ListIdentifiers", resumptionToken=first)
    assert error_code(root) == "badResumptionToken"


@pytest.mark.django_db
def test_datestamps_and_selective_harvesting(archive) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import Record

    client = Client()
    # The embargo ended two days ago; the record itself last changed long before.
    ended = next(r for r in archive.public if r.title == "Embargo ended")
    old = timezone.now() - dt.timedelta(days=400)
    Record.objects.filter(pk=ended.pk).update(updated_at=old, created_at=old)
    from spadok.catalogue.models import Derivative
    from spadok.sites.models import Site

    Derivative.objects.filter(capture__record=ended).update(created_at=old)
    Site.objects.filter(pk=ended.site_id).update(updated_at=old)
    root = ask(client, verb="GetRecord", identifier=oai_id(ended.id), metadataPrefix="oai_dc")
    stamp = root.find(".//oai:header/oai:datestamp", NS).text
    assert stamp == f"{ended.embargo_until.isoformat()}T00:00:00Z"  # when it became public
    since = ended.embargo_until.isoformat()
    ids, _ = harvest_ids(client, "ListIdentifiers", metadataPrefix="edm", **{"from": since})
    assert oai_id(ended.id) in ids
    day_before = (ended.embargo_until - dt.timedelta(days=1)).isoformat()
    ids, _ = harvest_ids(client, "ListIdentifiers", metadataPrefix="edm", until=day_before)
    assert oai_id(ended.id) not in ids
    # Seconds granularity, inclusive at both ends.
    exact = f"{since}T00:00:00Z"
    ids, _ = harvest_ids(client, "ListIdentifiers", metadataPrefix="edm", until=exact)
    assert ids == [oai_id(ended.id)]


@pytest.mark.django_db
def test_edm_describes_a_3d_object_with_rights_links_and_public_places(archive) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    by_site = {r.site_id: r for r in archive.public if r.site_id}
    record = by_site[archive.sites["church"].id]
    root = ask(client, verb="GetRecord", identifier=oai_id(record.id), metadataPrefix="edm")
    rdf = root.find(".//oai:metadata/rdf:RDF", NS)
    assert rdf.findtext("edm:ProvidedCHO/edm:type", namespaces=NS) == "3D"
    assert rdf.findtext("edm:ProvidedCHO/dc:title", namespaces=NS) == record.title
    agg = rdf.find("ore:Aggregation", NS)
    res = f"{{{NS['rdf']}}}resource"
    page = f"http://{HOST}/records/{record.id}/"
    assert agg.find("edm:isShownAt", NS).get(res) == page
    assert agg.find("edm:isShownBy", NS).get(res).endswith("/derivative/web-medium")
    assert agg.find("edm:object", NS).get(res).endswith("/derivative/thumbnail")
    licence = record.captures.get().licence
    rights = agg.find("edm:rights", NS).get(res)
    assert (
        rights
        == {
            "cc-by-4.0": "http://creativecommons.org/licenses/by/4.0/",
            "cc0-1.0": "http://creativecommons.org/publicdomain/zero/1.0/",
        }[licence]
    )
    # The GLB link really serves the web copy.
    glb = client.get(agg.find("edm:isShownBy", NS).get(res).replace(f"http://{HOST}", ""))
    assert glb.status_code == 200 and b"".join(glb.streaming_content)[:4] == b"glTF"
    place_uri = rdf.find("edm:ProvidedCHO/dcterms:spatial", NS).get(res)
    place = rdf.find("edm:Place", NS)
    assert place.get(f"{{{NS['rdf']}}}about") == place_uri
    assert float(place.findtext("wgs84_pos:lat", namespaces=NS)) == pytest.approx(49.838611)

    # The sensitive site: the rounded point only.
    hidden_place = by_site[archive.sites["sensitive"].id]
    root = ask(client, verb="GetRecord", identifier=oai_id(hidden_place.id), metadataPrefix="edm")
    lat = root.findtext(".//edm:Place/wgs84_pos:lat", namespaces=NS)
    lon = root.findtext(".//edm:Place/wgs84_pos:long", namespaces=NS)
    assert (float(lat), float(lon)) == (round(SENSITIVE_LAT, 1), round(SENSITIVE_LON, 1))

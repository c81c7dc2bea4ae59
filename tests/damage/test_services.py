"""Recording, correcting and retracting damage events: checks, custody, the derived status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spadok.core.errors import SpadokError
from spadok.core.evidence.chain import check_chains
from spadok.damage import selectors, services
from spadok.damage.models import DamageEvent
from spadok.evidence.models import CustodyEntry

pytestmark = pytest.mark.django_db


def _chain(chain: str) -> list[dict[str, Any]]:
    return [e.entry() for e in CustodyEntry.objects.filter(chain=chain).order_by("seq")]


def _chain_ok(chain: str) -> bool:
    entries = _chain(chain)
    heads = {chain: {"seq": entries[-1]["seq"], "hash": entries[-1]["hash"]}} if entries else {}
    return check_chains(list(enumerate(entries, 1)), heads) == []


def test_events_derive_the_sites_worst_first_state(make_site: Any, curator: Any) -> None:
    site = make_site()
    damaged = services.damage_event_create(
        by=curator, site=site, kind="damaged", standing="news", source_name="Суспільне",
        source_url="https://suspilne.media/1", date_start="2022-03-15", date_precision="month",
    )  # fmt: skip
    site.refresh_from_db()
    # a month is stored as its first day, with its precision
    assert (damaged.date_start, damaged.date_precision) == (dt.date(2022, 3, 1), "month")
    assert (site.damage_status, site.damage_date) == ("damaged", dt.date(2022, 3, 1))
    threatened = services.damage_event_create(
        by=curator, site=site, kind="threatened", standing="field", date_start="2021-12-01"
    )
    site.refresh_from_db()
    assert site.damage_status == "damaged"  # the worst state, not the latest
    destroyed = services.damage_event_create(
        by=curator, site=site, kind="destroyed", standing="unesco", date_start="2023-06-06"
    )
    site.refresh_from_db()
    assert (site.damage_status, site.damage_date) == ("destroyed", dt.date(2023, 6, 6))
    # an internal account is not the public's status
    services.damage_event_update(event=destroyed, by=curator, public=False)
    site.refresh_from_db()
    assert (site.damage_status, site.damage_date) == ("damaged", dt.date(2022, 3, 1))
    services.damage_event_retract(event=damaged, by=curator, reason="wrong church")
    site.refresh_from_db()
    assert (site.damage_status, site.damage_date) == ("threatened", dt.date(2021, 12, 1))
    services.damage_event_retract(event=threatened, by=curator, reason="rumour")
    site.refresh_from_db()
    assert (site.damage_status, site.damage_date) == ("", None)
    assert set(selectors.public_events()) == set()

    # every write is in the site's custody chain, which still checks
    actions = [e["action"] for e in _chain(site.id)]
    assert actions == [
        "damage.recorded", "damage.recorded", "damage.recorded", "damage.corrected",
        "damage.retracted", "damage.retracted",
    ]  # fmt: skip
    assert _chain_ok(site.id)
    first = _chain(site.id)[0]
    assert first["actor"]["kind"] == "user" and first["actor"]["role"] == "curator"
    assert first["data"]["source_url"] == "https://suspilne.media/1"
    corrected = _chain(site.id)[3]["data"]
    assert corrected["changed"] == {"public": {"from": True, "to": False}}
    assert _chain(site.id)[4]["data"]["reason"] == "wrong church"


def test_a_record_event_is_the_sites_too_and_in_the_records_chain(
    make_site: Any, make_capture: Any, reviewer: Any
) -> None:
    from spadok.catalogue.models import Record, Visibility

    site = make_site()
    capture = make_capture(record=Record.objects.create(title="Iconostasis", site=site))
    event = services.damage_event_create(
        by=reviewer, capture=capture, kind="looted", standing="capture",
        date_start=dt.date(2022, 4, 2), description="Icons missing from the upper tier",
    )  # fmt: skip
    assert (event.site_id, event.record_id, event.capture_id) == (
        site.id, capture.record_id, capture.id
    )  # fmt: skip
    site.refresh_from_db()
    assert site.damage_status == "looted"
    assert [e["action"] for e in _chain(capture.record_id)] == ["damage.recorded"]
    assert not CustodyEntry.objects.filter(chain=site.id).exists()
    assert list(selectors.public_events()) == [event]
    # hidden with its record: a draft record's account is not public
    Record.objects.filter(pk=capture.record_id).update(visibility=Visibility.DRAFT)
    assert list(selectors.public_events()) == []
    assert selectors.site_events(site) == []
    assert selectors.site_events(site, reviewer) == [event]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"kind": "burnt"}, "unknown kind"),
        ({"standing": "rumour"}, "unknown standing"),
        ({"severity": "apocalyptic"}, "unknown severity"),
        ({"date_start": "2022-05-01", "date_end": "2022-04-01"}, "before the start"),
        ({"date_end": "2022-04-01"}, "needs a start date"),
        ({"date_start": "2999-01-01"}, "in the future"),
        ({"date_start": "12.03.2022"}, "not a date"),
        ({"date_start": "2022-13"}, "not a date"),
        ({"source_url": "javascript:alert(1)"}, "not an http(s) address"),
        ({"references": ["https://a.example/1", "ftp://b.example/"]}, "not an http(s) address"),
        ({"references": [f"https://a.example/{i}" for i in range(21)]}, "at most 20"),
        ({"description": "x" * 5001}, "longer than 5000"),
        ({"standing": "capture"}, "needs that capture"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(
    make_site: Any, curator: Any, fields: dict[str, Any], says: str
) -> None:
    args: dict[str, Any] = {"kind": "damaged", "standing": "news", **fields}
    with pytest.raises(SpadokError) as caught:
        services.damage_event_create(by=curator, site=make_site(), **args)
    assert caught.value.code == "damage.invalid_event"
    assert says in caught.value.message
    assert DamageEvent.objects.count() == 0
    assert CustodyEntry.objects.count() == 0


def test_a_retracted_event_stays_retracted(make_site: Any, curator: Any) -> None:
    event = services.damage_event_create(
        by=curator, site=make_site(), kind="damaged", standing="news"
    )
    services.damage_event_retract(event=event, by=curator, reason="duplicate")
    for call in (
        lambda: services.damage_event_update(event=event, by=curator, kind="destroyed"),
        lambda: services.damage_event_retract(event=event, by=curator, reason="again"),
    ):
        with pytest.raises(SpadokError) as caught:
            call()
        assert caught.value.code == "damage.retracted"
    with pytest.raises(SpadokError):
        services.damage_event_retract(
            event=services.damage_event_create(
                by=None, site=event.site, kind="damaged", standing="news"
            ),
            by=curator,
            reason="  ",
        )
    event.refresh_from_db()
    assert event.kind == "damaged" and event.retraction_reason == "duplicate"


def test_the_record_must_belong_to_the_site(
    make_site: Any, make_capture: Any, curator: Any
) -> None:
    from spadok.catalogue.models import Record

    here, there = make_site(), make_site(names={"en": "Elsewhere"})
    record = Record.objects.create(title="Bell", site=there)
    with pytest.raises(SpadokError) as caught:
        services.damage_event_create(
            by=curator, site=here, record=record, kind="damaged", standing="news"
        )
    assert "another site" in caught.value.message
    other = make_capture(title="Other record")
    with pytest.raises(SpadokError) as caught:
        services.damage_event_create(
            by=curator, record=record, capture=other, kind="damaged",
            standing="capture",
        )  # fmt: skip
    assert "another record" in caught.value.message

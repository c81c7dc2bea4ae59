"""A seeded archive for the API tests: public records over more than one OAI page,
records that must never appear (sealed, embargoed, draft), a sensitive site,
and a contributor with an e-mail whose capture is GPS-tagged.

Records and captures are written through the same fixture as the page tests
(:func:`tests.site.conftest.make_capture`: real GLB files in a real storage
root); sites and regions are plain rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone

from tests.site.conftest import make_capture  # noqa: F401  (a fixture, used below)

EMAIL = "mykola.private-scanner@example.org"
USERNAME = "mykola_hidden_account"
CREDITED = "Volunteer Dnipro-Lights"  # a display name its owner asked to be credited
# The contributor's exact GPS point, and the sensitive site's exact point.
CAPTURE_LAT, CAPTURE_LON = 49.842_713, 24.031_586
SENSITIVE_LAT, SENSITIVE_LON = 50.451_237, 30.523_461
HIDDEN_TITLES = ("SEALED-ikonostas-4471", "EMBARGOED-vault-8812", "DRAFT-fresco-3307")
# The curator who records damage, and accounts of damage the public must not see.
DAMAGE_CURATOR = ("olha_damage_recorder", "olha.recorder@example.org", "curator-hidden-olha")
HIDDEN_DAMAGE = (
    "INTERNAL-DAMAGE-NOTE-5521",
    "SEALED-DAMAGE-NOTE-9034",
    "RETRACTED-DAMAGE-NOTE-1187",
)
PUBLIC_COUNT = 7  # plus one whose embargo has ended: eight public records


@dataclass
class Seed:
    public: list[Any] = field(default_factory=list)  # Record
    hidden: list[Any] = field(default_factory=list)
    sites: dict[str, Any] = field(default_factory=dict)
    contributor: Any = None
    credited: Any = None
    token: str = ""  # the contributor's API token
    draft: Any = None
    damage: list[Any] = field(default_factory=list)  # the public damage events


@pytest.fixture
def archive(make_capture, django_user_model) -> Seed:  # noqa: F811
    from spadok.accounts import services as accounts
    from spadok.catalogue.models import Licence, Record, Visibility
    from spadok.sites.models import DamageStatus, Region, Site, SiteType

    seed = Seed()
    lviv = Region.objects.create(code="UA-46", names={"uk": "Львівська область", "en": "Lviv"})
    kyiv = Region.objects.create(code="UA-30", names={"uk": "Київ", "en": "Kyiv"})
    seed.sites["church"] = Site.objects.create(
        names={"uk": "Церква святого Юра", "en": "St. George's Cathedral"},
        type=SiteType.CHURCH,
        region=lviv,
        settlement="Львів",
        address="пл. Святого Юра, 5",
        latitude=49.838_611,
        longitude=24.012_778,
        wikidata="Q1130563",
        damage_status=DamageStatus.THREATENED,
    )
    seed.sites["sensitive"] = Site.objects.create(
        names={"uk": "Сховище музею", "en": "Museum store"},
        type=SiteType.MUSEUM,
        region=kyiv,
        settlement="Київ",
        address="SECRET-ADDRESS vul. Prykhovana 17",
        latitude=SENSITIVE_LAT,
        longitude=SENSITIVE_LON,
        sensitive=True,
        damage_status=DamageStatus.DAMAGED,
    )
    seed.sites["empty"] = Site.objects.create(
        names={"en": "Monument without a scan"}, type=SiteType.MONUMENT, region=lviv
    )

    seed.contributor = django_user_model.objects.create_user(
        username=USERNAME, email=EMAIL, password="x-long-password-1"
    )
    accounts.profile_ensure(user=seed.contributor, display_name="volunteer-hidden")
    seed.credited = django_user_model.objects.create_user(
        username="credited_user", email="credited@example.org", password="x-long-password-2"
    )
    accounts.profile_ensure(user=seed.credited, display_name=CREDITED)
    accounts.profile_update(user=seed.credited, display_name=CREDITED, credit_me=True)
    _, seed.token = accounts.token_create(user=seed.contributor, name="tests")

    sites = [seed.sites["church"], seed.sites["sensitive"], None]
    for n in range(PUBLIC_COUNT):
        capture = make_capture(
            title=f"Public record {n}",
            licence=Licence.CC_BY if n % 2 == 0 else Licence.CC0,
            contributor=seed.credited if n == 0 else seed.contributor,
            captured_at=timezone.now() - dt.timedelta(days=30),
            latitude=CAPTURE_LAT,
            longitude=CAPTURE_LON,
            location_precision_m=4.0,
        )
        record = capture.record
        record.site = sites[n % 3]
        record.description = f"Description of public record {n}"
        record.visibility = Visibility.COARSE if n == 1 else Visibility.PUBLIC
        record.save()
        seed.public.append(record)

    ended = make_capture(title="Embargo ended", licence=Licence.CC_BY)
    ended.record.visibility = Visibility.EMBARGOED
    ended.record.embargo_until = timezone.localdate() - dt.timedelta(days=2)
    ended.record.site = seed.sites["church"]
    ended.record.save()
    seed.public.append(ended.record)

    for title, visibility in zip(
        HIDDEN_TITLES, (Visibility.SEALED, Visibility.EMBARGOED, Visibility.DRAFT), strict=True
    ):
        capture = make_capture(
            title=title,
            licence=Licence.CC_BY,
            contributor=seed.contributor,
            latitude=CAPTURE_LAT,
            longitude=CAPTURE_LON,
        )
        record = capture.record
        record.visibility = visibility
        record.description = f"{title} must never be public"
        if visibility == Visibility.EMBARGOED:
            record.embargo_until = timezone.localdate() + dt.timedelta(days=365)
        record.site = seed.sites["church"]
        record.save()
        seed.hidden.append(record)
        if visibility == Visibility.DRAFT:
            seed.draft = record
    assert Record.objects.count() == PUBLIC_COUNT + 1 + len(HIDDEN_TITLES)
    _damage(seed, django_user_model)
    return seed


def _damage(seed: Seed, django_user_model: Any) -> None:
    """Accounts of damage: public ones, and ones that must stay in the archive."""
    from spadok.accounts import services as accounts
    from spadok.catalogue.models import Visibility
    from spadok.damage import services as damage

    username, email, display = DAMAGE_CURATOR
    curator = django_user_model.objects.create_user(
        username=username, email=email, password="x-long-password-3"
    )
    accounts.profile_ensure(user=curator, display_name=display)
    internal, sealed, retracted = HIDDEN_DAMAGE
    seed.damage.append(
        damage.damage_event_create(
            by=curator, site=seed.sites["church"], kind="threatened", standing="ministry",
            source_name="Ministry of Culture", source_url="https://www.unesco.org/en/articles/example",
            date_start="2022-03", references=["https://example.org/report"],
        )
    )  # fmt: skip
    seed.damage.append(
        damage.damage_event_create(
            by=curator, site=seed.sites["sensitive"], kind="damaged", standing="unesco",
            date_start="2023-07-23", date_end="2023-07-25", description="Hit by a missile.",
        )
    )  # fmt: skip
    damage.damage_event_create(
        by=curator, site=seed.sites["sensitive"], kind="looted", standing="field",
        public=False, description=internal,
    )  # fmt: skip
    hidden = next(r for r in seed.hidden if r.visibility == Visibility.SEALED)
    damage.damage_event_create(
        by=curator, record=hidden, kind="damaged", standing="capture",
        capture=hidden.captures.first(), description=sealed,
    )  # fmt: skip
    wrong = damage.damage_event_create(
        by=curator, site=seed.sites["empty"], kind="destroyed", standing="news",
        description=retracted,
    )  # fmt: skip
    damage.damage_event_retract(event=wrong, by=curator, reason="another monument")

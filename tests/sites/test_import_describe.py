"""Volunteers describing a site, and curators marking one sensitive."""

from __future__ import annotations

from typing import Any

import pytest

from spadok.core.errors import SpadokError
from spadok.sites import services
from spadok.sites.models import Site, SiteType

pytestmark = pytest.mark.django_db


def test_describe_site_files_a_site_with_clean_names() -> None:
    site = services.describe_site(
        names={"uk": "  Церква   святого Миколая ", "en": "St Nicholas Church", "pl": ""},
        latitude=50.45,
        longitude=30.52,
        type=SiteType.CHURCH,
        settlement=" Київ ",
    )
    site.refresh_from_db()
    assert site.names == {"uk": "Церква святого Миколая", "en": "St Nicholas Church"}
    assert (site.latitude, site.longitude) == (50.45, 30.52)
    assert site.settlement == "Київ"
    assert site.type == "church"
    assert site.provenance[0]["source"] == "volunteer"


def test_describe_site_without_a_point() -> None:
    site = services.describe_site(
        names={"en": "A chapel"}, latitude=None, longitude=None, type="church", sensitive=True
    )
    assert site.latitude is None and site.sensitive


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"names": {}}, "name is required"),
        ({"names": {"uk": "   "}}, "name is required"),
        ({"names": "Church"}, "per language"),
        ({"names": {"u": "x"}}, "language code"),
        ({"latitude": 50.0, "longitude": None}, "both latitude and longitude"),
        ({"latitude": 91.0, "longitude": 30.0}, "not a point on Earth"),
        ({"latitude": float("nan"), "longitude": 30.0}, "not a point on Earth"),
        ({"latitude": "north", "longitude": 30.0}, "must be numbers"),
        ({"type": "castle"}, "unknown site type"),
        ({"settlement": "x" * 201}, "settlement is longer"),
    ],
)
def test_describe_site_refuses_bad_input(kwargs: dict, fragment: str) -> None:
    args: dict[str, Any] = {
        "names": {"uk": "Собор"},
        "latitude": 50.0,
        "longitude": 30.0,
        "type": "church",
    }
    args.update(kwargs)
    with pytest.raises(SpadokError) as info:
        services.describe_site(**args)
    assert info.value.code == "registry.invalid_site"
    assert fragment in info.value.message
    assert not Site.objects.exists()


def test_set_sensitive_records_who_and_only_real_changes(django_user_model) -> None:
    user = django_user_model.objects.create_user(username="curator", password="x" * 12)
    site = services.describe_site(
        names={"en": "Museum"}, latitude=49.0, longitude=32.0, type="museum"
    )
    services.set_sensitive(site, True, by_user=user)
    services.set_sensitive(site, True, by_user=user)
    site.refresh_from_db()
    assert site.sensitive
    changes = [p for p in site.provenance if p["source"] == "curator"]
    assert changes == [
        {
            "source": "curator",
            "at": changes[0]["at"],
            "set": {"sensitive": True},
            "by": str(user.pk),
        }
    ]

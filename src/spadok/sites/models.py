"""The registry of heritage sites: the places that records document.

A site is the place (a church, a monument, a museum); a record is what was
captured of it. Sites come from published lists (Wikidata, UNESCO, national
registers) through :mod:`spadok.sites.services`, or are described by a
volunteer; writes go through the services only.

Content fields that people write in several languages (names, descriptions)
are JSON objects keyed by language code (``{"uk": "...", "en": "..."}``) and
read through :func:`spadok.sites.i18n.localized`, which falls back along the
reader's language, Ukrainian, English, then anything present.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from spadok.catalogue.ids import new_id


def _site_id() -> str:
    return new_id("s")


class Region(models.Model):
    """A first-level region (oblast, city with special status, Crimea) by ISO 3166-2 code."""

    code = models.CharField(primary_key=True, max_length=8)  # "UA-46"
    names = models.JSONField(default=dict)  # {"uk": "Львівська область", "en": "Lviv Oblast"}
    # The boundary as a GeoJSON geometry (simplified) when one was imported; the
    # choropleth and region assignment use it, everything else works without.
    geometry = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.names.get('en') or self.names.get('uk') or ''}".strip()


class SiteType(models.TextChoices):
    CHURCH = "church", "religious building"
    MONUMENT = "monument", "monument or memorial"
    MUSEUM = "museum", "museum"
    BUILDING = "building", "historic building"
    ARCHAEOLOGICAL = "archaeological", "archaeological site"
    LIBRARY = "library", "library or archive"
    THEATRE = "theatre", "theatre or cultural centre"
    OBJECT = "object", "movable object"
    OTHER = "other", "other"


class DamageStatus(models.TextChoices):
    """The worst known state; the damage events (with sources) are the detail."""

    UNKNOWN = "", "no damage recorded"
    THREATENED = "threatened", "threatened"
    DAMAGED = "damaged", "damaged"
    DESTROYED = "destroyed", "destroyed"
    LOOTED = "looted", "looted"


class Site(models.Model):
    """A place of cultural heritage, with its names in several languages."""

    id = models.CharField(primary_key=True, max_length=32, default=_site_id, editable=False)
    names = models.JSONField(default=dict)  # {lang: name}
    # Other names the site is known by (any language), gathered when lists are merged.
    aliases = models.JSONField(default=list, blank=True)
    descriptions = models.JSONField(default=dict, blank=True)  # {lang: text}
    type = models.CharField(max_length=32, choices=SiteType.choices, default=SiteType.OTHER)
    designation = models.CharField(max_length=200, blank=True)  # e.g. "national significance"
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="sites"
    )
    settlement = models.CharField(max_length=200, blank=True)  # the municipality, public always
    address = models.CharField(max_length=300, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # Sensitive: the public sees the settlement (or the region) only, never the point.
    sensitive = models.BooleanField(default=False)
    wikidata = models.CharField(max_length=16, blank=True, db_index=True)  # "Q12345"
    external_ids = models.JSONField(default=dict, blank=True)  # {"unesco": "...", ...}
    damage_status = models.CharField(
        max_length=16, choices=DamageStatus.choices, blank=True, default="", db_index=True
    )
    damage_date = models.DateField(null=True, blank=True)  # of the worst known damage
    # Where each fact came from: [{"source": "wikidata", "file": ..., "row": 12, "at": ...}].
    provenance = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["latitude", "longitude"])]

    def __str__(self) -> str:
        return f"{self.name()} ({self.id})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("sites:site", args=[self.id])

    def name(self, lang: str | None = None) -> str:
        from spadok.sites.i18n import localized

        return localized(self.names, lang) or self.id

"""What OAI-PMH disseminates: public records, and the sites of the registry as places.

Items are the records anyone may see (:func:`visible_records` with no user):
sealed, draft and embargoed-before-their-date records are never items. A
record that becomes hidden simply vanishes (Identify says ``deletedRecord
no``): answering "deleted" would confirm that a hidden record exists.

A record's datestamp is the last change of anything its metadata shows: the
record, its site, its newest web copy, and the day its embargo ended.
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Case,
    DateTimeField,
    F,
    Func,
    OuterRef,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce, Greatest

from spadok.catalogue.models import CaptureState, Derivative, Record, Visibility
from spadok.catalogue.selectors import visible_records
from spadok.sites.models import Site

RECORD_PREFIX = "r-"
SITE_PREFIX = "s-"


class DayStart(Func):
    """A date as the datetime of its midnight (UTC)."""

    output_field = DateTimeField()
    template = "CAST(%(expressions)s AS TIMESTAMP WITH TIME ZONE)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="datetime(%(expressions)s)", **extra)


def record_items() -> QuerySet[Record]:
    """Public records with ``oai_datestamp``, in id order, with what their metadata needs."""
    newest_copy = (
        Derivative.objects.filter(capture__record=OuterRef("pk"), capture__state=CaptureState.READY)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    updated = F("updated_at")
    datestamp = Greatest(
        updated,
        Coalesce(Subquery(newest_copy, output_field=DateTimeField()), updated),
        Coalesce(F("site__updated_at"), updated),
        Case(
            When(
                visibility=Visibility.EMBARGOED,
                embargo_until__isnull=False,
                then=DayStart(F("embargo_until")),
            ),
            default=updated,
            output_field=DateTimeField(),
        ),
        output_field=DateTimeField(),
    )
    return (
        visible_records(None)
        .annotate(oai_datestamp=datestamp)
        .select_related("site__region")
        .order_by("id")
    )


def site_items() -> QuerySet[Site]:
    return (
        Site.objects.annotate(oai_datestamp=F("updated_at")).select_related("region").order_by("id")
    )


def in_set(records: QuerySet[Record], sites: QuerySet[Site], spec: str) -> tuple[Any, Any]:
    """Narrow both lists to a set; None for a list the set excludes entirely."""
    head, _, leaf = spec.partition(":")
    if spec == "records":
        return records, None
    if spec == "sites":
        return None, sites
    if head == "type":
        if not leaf:
            return records.filter(site__isnull=False), sites
        return records.filter(site__type=leaf), sites.filter(type=leaf)
    if head == "region":
        if not leaf:
            return records.filter(site__region__isnull=False), sites.filter(region__isnull=False)
        return records.filter(site__region_id=leaf), sites.filter(region_id=leaf)
    return records.none(), sites.none()


def set_specs_of(site: Site | None) -> list[str]:
    if site is None:
        return []
    specs = [f"type:{site.type}"]
    if site.region_id:
        specs.append(f"region:{site.region_id}")
    return specs

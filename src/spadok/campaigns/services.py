"""The write path of campaigns: create, choose targets, join, claim, complete.

Every function checks who may act and raises :class:`SpadokError` with a
``campaign.*`` code for anything a person can get wrong. Each change to a
task writes a :class:`TaskEvent` in the same transaction.

Claims are race-free on SQLite and PostgreSQL alike: a claim is one
conditional UPDATE (``WHERE state = 'open' AND (no claim OR claim expired)``),
so of two volunteers who press "claim" at the same moment exactly one changes
the row and the other is told the task is taken. On PostgreSQL the second
UPDATE waits for the first to commit and then re-checks its condition on the
new row; on SQLite writers queue on the database lock (IMMEDIATE transactions).
The person's membership row is locked first, so their count of claims cannot
be raced past the limit either. See docs/adr/0011-campaign-priority-and-claims.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from spadok.campaigns import selectors
from spadok.campaigns.models import (
    Campaign,
    CampaignState,
    MemberRole,
    Membership,
    SiteStatus,
    Task,
    TaskEvent,
    TaskState,
    Wanted,
)
from spadok.catalogue.models import Capture
from spadok.catalogue.selectors import latest_decisions, user_role
from spadok.core import priority as prio
from spadok.core.errors import SpadokError
from spadok.sites.models import DamageStatus, Region, Site

log = logging.getLogger(__name__)

MAX_CAMPAIGN_SITES = 20_000  # targets of one campaign (its coverage map shows them all)
MAX_POLYGON_POINTS = 10_000
MAX_NAME = 200
MAX_DESCRIPTION = 5_000
MAX_CLAIM_HOURS = 24 * 14
CHUNK = 2_000  # ids per query (SQLite's limit on parameters)
# Damage statuses whose date counts as damage nearby.
DAMAGE_NEARBY = (DamageStatus.DAMAGED, DamageStatus.DESTROYED, DamageStatus.LOOTED)


def claim_hours_default() -> int:
    return int(getattr(settings, "SPADOK_CLAIM_HOURS", 48))


def max_claims() -> int:
    return int(getattr(settings, "SPADOK_MAX_CLAIMS", 5))


def _forbid(actor: Any, campaign: Campaign, what: str) -> None:
    if not selectors.may_coordinate(actor, campaign):
        raise SpadokError("campaign.forbidden", what)


def _event(
    task: Task, actor: Any, action: str, capture: Capture | None = None, **data: Any
) -> TaskEvent:
    return TaskEvent(
        task=task,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        capture=capture,
        data=data,
        at=timezone.now(),
    )


# -- the area -------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """Where a campaign works: any of a region, a box and a polygon (all must hold)."""

    region: Region | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    polygon: dict[str, Any] | None = None  # a GeoJSON Polygon or MultiPolygon geometry

    @property
    def empty(self) -> bool:
        return self.region is None and self.bbox is None and self.polygon is None


def parse_bbox(raw: str | Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` in degrees, or None for an empty value."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        parts = [float(v) for v in (raw.split(",") if isinstance(raw, str) else raw)]
    except (TypeError, ValueError):
        raise SpadokError("campaign.bad_area", "the box is not four numbers") from None
    if len(parts) != 4 or not all(math.isfinite(v) for v in parts):
        raise SpadokError("campaign.bad_area", "the box is not four numbers")
    west, south, east, north = parts
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise SpadokError("campaign.bad_area", "west < east and south < north, in degrees")
    return west, south, east, north


def parse_polygon(raw: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """A GeoJSON Polygon or MultiPolygon (a geometry, or a Feature holding one)."""
    import json

    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise SpadokError("campaign.bad_area", "the polygon is not GeoJSON") from None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise SpadokError("campaign.bad_area", "the polygon must be a GeoJSON Polygon")
    from shapely.geometry import mapping, shape

    try:
        geom = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError):
        raise SpadokError("campaign.bad_area", "the polygon's coordinates are not usable") from None
    n_points = len(json.dumps(value.get("coordinates", []))) // 8
    if geom.is_empty or not geom.is_valid or n_points > MAX_POLYGON_POINTS:
        raise SpadokError(
            "campaign.bad_area", "the polygon is empty, crosses itself or has too many points"
        )
    west, south, east, north = geom.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise SpadokError(
            "campaign.bad_area", "the polygon is not in degrees of longitude, latitude"
        )
    return dict(mapping(geom))


def area_of(campaign: Campaign) -> Area:
    bbox = tuple(campaign.bbox) if campaign.bbox else None
    return Area(region=campaign.region, bbox=bbox, polygon=campaign.polygon)  # type: ignore[arg-type]


def _in_area(sites: Any, area: Area) -> Any:
    """Sites inside the area (SQL for region and box; the polygon's box, then exactly)."""
    if area.region is not None:
        sites = sites.filter(region=area.region)
    boxes = [area.bbox] if area.bbox else []
    if area.polygon is not None:
        from shapely.geometry import shape

        boxes.append(shape(area.polygon).bounds)
    for west, south, east, north in boxes:
        sites = sites.filter(
            latitude__gte=south, latitude__lte=north, longitude__gte=west, longitude__lte=east
        )
    return sites


def _polygon_keep(area: Area, rows: list[tuple[str, float | None, float | None]]) -> list[str]:
    if area.polygon is None:
        return [r[0] for r in rows]
    from shapely import prepare
    from shapely.geometry import Point, shape

    geom = shape(area.polygon)
    prepare(geom)
    return [
        sid
        for sid, lat, lon in rows
        if lat is not None and lon is not None and geom.covers(Point(lon, lat))
    ]


# -- campaigns -------------------------------------------------------------------------


def _clean_wanted(wanted: Iterable[str]) -> list[str]:
    out = []
    for value in wanted:
        if value not in Wanted.values:
            raise SpadokError(
                "campaign.bad_input", f"{value!r} is not something a task can ask for"
            )
        if value not in out:
            out.append(value)
    return out


def _positive(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if value < 1:
        raise SpadokError("campaign.bad_input", f"{name} must be at least 1")
    return int(value)


def campaign_create(
    *,
    actor: Any,
    name: str,
    description: str = "",
    area: Area | None = None,
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
    goal_sites: int | None = None,
    goal_captures_per_day: int | None = None,
    claim_hours: int | None = None,
    wanted: Iterable[str] = (Wanted.EXTERIOR,),
) -> Campaign:
    """A new active campaign; its creator is its first coordinator."""
    if not selectors.may_create_campaign(actor):
        raise SpadokError("campaign.forbidden", "start a campaign")
    name = " ".join(name.split())[:MAX_NAME]
    if not name:
        raise SpadokError("campaign.bad_input", "the campaign needs a name")
    if starts_on and ends_on and ends_on < starts_on:
        raise SpadokError("campaign.bad_input", "the campaign ends before it starts")
    hours = claim_hours if claim_hours is not None else claim_hours_default()
    if not 1 <= hours <= MAX_CLAIM_HOURS:
        raise SpadokError("campaign.bad_input", f"a claim holds from 1 to {MAX_CLAIM_HOURS} hours")
    area = area or Area()
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            description=description.strip()[:MAX_DESCRIPTION],
            region=area.region,
            bbox=list(area.bbox) if area.bbox else None,
            polygon=area.polygon,
            starts_on=starts_on,
            ends_on=ends_on,
            goal_sites=_positive(goal_sites, "the goal of sites"),
            goal_captures_per_day=_positive(goal_captures_per_day, "the goal of captures per day"),
            claim_hours=hours,
            wanted=_clean_wanted(wanted) or [Wanted.EXTERIOR],
            created_by=actor,
        )
        Membership.objects.create(campaign=campaign, user=actor, role=MemberRole.COORDINATOR)
    log.info("campaign %s started by user %s", campaign.pk, actor.pk)
    return campaign


def campaign_set_state(*, actor: Any, campaign: Campaign, state: str) -> Campaign:
    """Close a campaign (its tasks stay as they are) or open it again."""
    _forbid(actor, campaign, "close or reopen the campaign")
    if state not in CampaignState.values:
        raise SpadokError("campaign.bad_input", f"{state!r} is not a campaign state")
    Campaign.objects.filter(pk=campaign.pk).update(state=state, updated_at=timezone.now())
    campaign.refresh_from_db()
    return campaign


@dataclass(frozen=True)
class SiteSelection:
    """Filters over the site registry that choose a campaign's targets."""

    region: str = ""
    type: str = ""
    damage: str = ""  # a DamageStatus value, or "none"
    has_3d: bool | None = None
    within_area: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "type": self.type,
            "damage": self.damage,
            "has_3d": self.has_3d,
            "within_area": self.within_area,
        }


def _selected(campaign: Campaign, selection: SiteSelection) -> list[str]:
    from spadok.sites.geojson import SiteFilter, filtered_sites

    sites = filtered_sites(
        SiteFilter(type=selection.type, damage=selection.damage, has_3d=selection.has_3d)
    )
    if selection.region:
        sites = sites.filter(region_id=selection.region)
    area = area_of(campaign)
    if selection.within_area and not area.empty:
        sites = _in_area(sites, area)
        rows = list(sites.values_list("id", "latitude", "longitude")[: MAX_CAMPAIGN_SITES * 2 + 1])
        return _polygon_keep(area, rows)
    return list(sites.values_list("id", flat=True)[: MAX_CAMPAIGN_SITES * 2 + 1])


def campaign_add_sites(
    *,
    actor: Any,
    campaign: Campaign,
    selection: SiteSelection | None = None,
    site_ids: Iterable[str] = (),
    wanted: Iterable[str] | None = None,
) -> int:
    """Add target sites (chosen by filters, or one by one); returns how many were new."""
    _forbid(actor, campaign, "choose the campaign's sites")
    wanted_list = _clean_wanted(wanted) if wanted is not None else list(campaign.wanted)
    ids: list[str] = []
    if selection is not None:
        ids += _selected(campaign, selection)
    named = [s.strip() for s in site_ids if s and s.strip()]
    if named:
        found = set(
            Site.objects.filter(pk__in=named[: MAX_CAMPAIGN_SITES + 1]).values_list("pk", flat=True)
        )
        missing = [s for s in named if s not in found]
        if missing:
            raise SpadokError("campaign.bad_input", f"no site {missing[0]!r} in the registry")
        ids += named
    ids = list(dict.fromkeys(ids))
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        have = set(Task.objects.filter(campaign=campaign).values_list("site_id", flat=True))
        new = [s for s in ids if s not in have]
        if len(have) + len(new) > MAX_CAMPAIGN_SITES:
            raise SpadokError(
                "campaign.too_many_sites",
                f"{len(have) + len(new):,} would be more than {MAX_CAMPAIGN_SITES:,} "
                "in one campaign",
            )
        now = timezone.now()
        where: dict[str, tuple[float | None, float | None]] = {}
        for part in _chunks(new):
            where.update(
                (sid, (lat, lon))
                for sid, lat, lon in Site.objects.filter(pk__in=list(part)).values_list(
                    "id", "latitude", "longitude"
                )
            )
        tasks = [
            Task(
                campaign=campaign,
                site_id=s,
                wanted=wanted_list,
                added_at=now,
                lat_band=selectors.lat_band(where[s][0]),
                longitude=where[s][1] if where[s][0] is not None else None,
            )
            for s in new
        ]
        Task.objects.bulk_create(tasks, batch_size=500)
        created = (
            list(Task.objects.filter(campaign=campaign, site_id__in=new).only("id")) if new else []
        )
        TaskEvent.objects.bulk_create([_event(t, actor, "added") for t in created], batch_size=500)
        if selection is not None:
            campaign.site_filters = [*campaign.site_filters, selection.as_dict()][-50:]
            campaign.save(update_fields=["site_filters", "updated_at"])
    site_status_refresh(site_ids=new)
    return len(new)


def campaign_remove_task(*, actor: Any, task: Task) -> None:
    """Take a site out of the campaign (its events go with it; its captures stay)."""
    _forbid(actor, task.campaign, "remove sites")
    Task.objects.filter(pk=task.pk).delete()


def campaign_join(*, actor: Any, campaign: Campaign) -> Membership:
    """Anyone signed in may join an active campaign; joining twice changes nothing."""
    if user_role(actor) is None:
        raise SpadokError("campaign.not_member", campaign.name)
    if campaign.state != CampaignState.ACTIVE:
        raise SpadokError("campaign.closed", campaign.name)
    try:
        with transaction.atomic():
            member, _created = Membership.objects.get_or_create(campaign=campaign, user=actor)
    except IntegrityError:  # joined at the same moment in another request
        member = Membership.objects.get(campaign=campaign, user=actor)
    return member


def campaign_leave(*, actor: Any, campaign: Campaign) -> None:
    """Leave a campaign; the tasks the person held open for others at once."""
    with transaction.atomic():
        held = list(
            Task.objects.select_for_update().filter(
                campaign=campaign, claimed_by=actor, state=TaskState.OPEN
            )
        )
        for task in held:
            _clear_claim(task.pk, actor)
        TaskEvent.objects.bulk_create([_event(t, actor, "released") for t in held])
        Membership.objects.filter(campaign=campaign, user=actor).delete()


def member_set_role(*, actor: Any, campaign: Campaign, member: Membership, role: str) -> Membership:
    """Name a member coordinator (or volunteer again)."""
    _forbid(actor, campaign, "name coordinators")
    if role not in MemberRole.values or member.campaign_id != campaign.pk:
        raise SpadokError("campaign.bad_input", "no such member or role")
    Membership.objects.filter(pk=member.pk).update(role=role)
    member.refresh_from_db()
    return member


def task_update(
    *,
    actor: Any,
    task: Task,
    urgency: int | None = None,
    wanted: Iterable[str] | None = None,
    note: str | None = None,
) -> Task:
    """A coordinator sets a task's urgency (0-3) and what is wanted there."""
    _forbid(actor, task.campaign, "change what a task asks for")
    fields: dict[str, Any] = {}
    if urgency is not None:
        if not 0 <= urgency <= prio.MAX_URGENCY:
            raise SpadokError("campaign.bad_input", f"urgency is 0 to {prio.MAX_URGENCY}")
        fields["urgency"] = urgency
    if wanted is not None:
        fields["wanted"] = _clean_wanted(wanted)
    if note is not None:
        fields["note"] = note.strip()[:500]
    with transaction.atomic():
        Task.objects.filter(pk=task.pk).update(**fields, updated_at=timezone.now())
        _event(task, actor, "changed", **fields).save()
    task.refresh_from_db()
    return task


# -- claims ---------------------------------------------------------------------------


def _clear_claim(task_id: int, holder: Any) -> int:
    return Task.objects.filter(pk=task_id, claimed_by=holder).update(
        claimed_by=None, claimed_at=None, claim_expires_at=None, updated_at=timezone.now()
    )


def task_claim(*, actor: Any, task_id: int, now: dt.datetime | None = None) -> Task:
    """Hold a task for ``actor`` for the campaign's claim hours; exactly one of many
    volunteers claiming at once wins (see the module's docstring)."""
    now = now or timezone.now()
    task = Task.objects.select_related("campaign").filter(pk=task_id).first()
    if task is None:
        raise SpadokError("campaign.not_found", str(task_id))
    campaign = task.campaign
    why = campaign.open_on(timezone.localdate(now))
    if why is not None:
        raise SpadokError("campaign.closed", f"{campaign.name} ({why})")
    if user_role(actor) is None:
        raise SpadokError("campaign.not_member", campaign.name)
    with transaction.atomic():
        # One claim at a time per person: their membership row is the lock.
        member = (
            Membership.objects.select_for_update().filter(campaign=campaign, user=actor).first()
        )
        if member is None:
            raise SpadokError("campaign.not_member", campaign.name)
        held = Task.objects.filter(claimed_by=actor, state=TaskState.OPEN, claim_expires_at__gt=now)
        if held.filter(pk=task.pk).exists():
            task.refresh_from_db()
            return task
        if held.count() >= max_claims():
            raise SpadokError("campaign.too_many_claims", str(max_claims()))
        before = Task.objects.filter(pk=task.pk).values("claimed_by_id", "claim_expires_at").first()
        until = now + dt.timedelta(hours=campaign.claim_hours)
        won = (
            Task.objects.filter(pk=task.pk, state=TaskState.OPEN)
            .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now))
            .update(claimed_by=actor, claimed_at=now, claim_expires_at=until, updated_at=now)
        )
        if not won:
            current = Task.objects.get(pk=task.pk)
            if current.state == TaskState.DONE:
                raise SpadokError("campaign.task_done", current.site.name())
            expires = current.claim_expires_at
            raise SpadokError(
                "campaign.task_taken", expires.strftime("%Y-%m-%d %H:%M UTC") if expires else "-"
            )
        events = []
        if before and before["claimed_by_id"] and before["claimed_by_id"] != actor.pk:
            events.append(_event(task, None, "expired", holder=before["claimed_by_id"]))
        events.append(_event(task, actor, "claimed", until=until.isoformat()))
        TaskEvent.objects.bulk_create(events)
    task.refresh_from_db()
    return task


def task_release(*, actor: Any, task_id: int) -> Task:
    """Give a claimed task back (its holder, or a coordinator for anyone's claim)."""
    task = Task.objects.select_related("campaign").filter(pk=task_id).first()
    if task is None:
        raise SpadokError("campaign.not_found", str(task_id))
    with transaction.atomic():
        holder = task.claimed_by_id
        if holder is None or (
            holder != actor.pk and not selectors.may_coordinate(actor, task.campaign)
        ):
            raise SpadokError("campaign.not_claimed", task.site.name())
        if Task.objects.filter(pk=task.pk, claimed_by_id=holder).update(
            claimed_by=None, claimed_at=None, claim_expires_at=None, updated_at=timezone.now()
        ):
            _event(task, actor, "released", holder=holder).save()
    task.refresh_from_db()
    return task


def claims_expire(*, now: dt.datetime | None = None) -> int:
    """Clear the claims that ran out, with an "expired" event each (they count as open
    already: this keeps the record). Safe to run any number of times."""
    now = now or timezone.now()
    expired = 0
    stale = list(
        Task.objects.filter(claimed_by__isnull=False, claim_expires_at__lte=now).values_list(
            "pk", "claimed_by_id"
        )[:10_000]
    )
    for pk, holder in stale:
        with transaction.atomic():
            if Task.objects.filter(pk=pk, claimed_by_id=holder, claim_expires_at__lte=now).update(
                claimed_by=None, claimed_at=None, claim_expires_at=None, updated_at=now
            ):
                TaskEvent.objects.create(
                    task_id=pk, action="expired", data={"holder": holder}, at=now
                )
                expired += 1
    return expired


# -- captures: completing and opening again ------------------------------------------------


def _captures_of_site(site_id: str, since: dt.datetime) -> list[Capture]:
    return list(
        Capture.objects.filter(selectors.site_captures_q([site_id]), created_at__gte=since)
        .select_related("record")
        .order_by("-created_at")[:200]
    )


def _better_capture(task: Task, exclude: str) -> tuple[Capture, str | None] | None:
    """Another capture of the task's site, sent since the task was added, that is not poor."""
    captures = [c for c in _captures_of_site(task.site_id, task.added_at) if c.pk != exclude]
    verdicts = selectors.capture_verdicts(captures)
    for capture in captures:
        if verdicts[capture.pk] not in prio.NEEDS_RECAPTURE:
            return capture, verdicts[capture.pk]
    return None


def _complete(task: Task, capture: Capture, verdict: str | None, now: dt.datetime) -> TaskEvent:
    Task.objects.filter(pk=task.pk).update(
        state=TaskState.DONE,
        completed_by=capture.contributor_id,
        completed_at=now,
        capture=capture,
        verdict=verdict or "",
        claimed_by=None,
        claimed_at=None,
        claim_expires_at=None,
        updated_at=now,
    )
    return _event(task, capture.contributor, "completed", capture, verdict=verdict or "")


def _reopen(
    task: Task, capture: Capture, verdict: str, reason: str, now: dt.datetime
) -> list[TaskEvent]:
    better = _better_capture(task, exclude=capture.pk)
    if better is not None:
        other, other_verdict = better
        return [_complete(task, other, other_verdict, now)]
    # The task goes back to the person who sent the capture, for another try.
    holder = capture.contributor_id
    is_member = (
        holder is not None
        and Membership.objects.filter(campaign_id=task.campaign_id, user_id=holder).exists()
    )
    hours = Campaign.objects.values_list("claim_hours", flat=True).get(pk=task.campaign_id)
    Task.objects.filter(pk=task.pk).update(
        state=TaskState.OPEN,
        completed_by=None,
        completed_at=None,
        capture=capture,
        verdict=verdict,
        reopened=task.reopened + 1,
        claimed_by_id=holder if is_member else None,
        claimed_at=now if is_member else None,
        claim_expires_at=now + dt.timedelta(hours=hours) if is_member else None,
        updated_at=now,
    )
    return [_event(task, None, "reopened", capture, verdict=verdict, reason=reason)]


def capture_sync(*, capture_id: str) -> dict[str, int]:
    """Bring the tasks of the capture's site level with it; safe to run any number of times.

    A capture of a task's site sent since the task was added completes it
    (whoever sent it: the site is covered); its verdict is recorded; a poor or
    failed verdict, a reviewer's request for a new capture, or the capture
    being moved to another site opens the task again.
    """
    capture = Capture.objects.select_related("record").filter(pk=capture_id).first()
    if capture is None:
        return {}
    site_id = selectors.capture_site_id(capture)
    verdict = selectors.verdict_of(capture, latest_decisions([capture.pk]).get(capture.pk))
    linked = set(Task.objects.filter(capture=capture).values_list("site_id", flat=True))
    site_status_refresh(site_ids=[s for s in {site_id, *linked} if s])
    now = timezone.now()
    counts: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        events: list[TaskEvent] = []
        moved = (
            Task.objects.select_for_update()
            .filter(capture=capture, state=TaskState.DONE, campaign__state=CampaignState.ACTIVE)
            .exclude(site_id=site_id)
        )
        for task in moved:
            events += _reopen(task, capture, "", "moved", now)
            counts["reopened"] += 1
        tasks = (
            Task.objects.select_for_update().filter(
                site_id=site_id, campaign__state=CampaignState.ACTIVE
            )
            if site_id
            else Task.objects.none()
        )
        for task in tasks:
            if task.state == TaskState.DONE and task.capture_id == capture.pk:
                if verdict in prio.NEEDS_RECAPTURE:
                    events += _reopen(task, capture, str(verdict), "verdict", now)
                    counts["reopened"] += 1
                elif (verdict or "") != task.verdict:
                    Task.objects.filter(pk=task.pk).update(verdict=verdict or "", updated_at=now)
                    events.append(_event(task, None, "verdict", capture, verdict=verdict or ""))
                    counts["verdict"] += 1
            elif task.state == TaskState.OPEN and capture.created_at >= task.added_at:
                if verdict in prio.NEEDS_RECAPTURE:
                    if task.capture_id != capture.pk or task.verdict != verdict:
                        Task.objects.filter(pk=task.pk).update(
                            capture=capture, verdict=str(verdict), updated_at=now
                        )
                        events.append(_event(task, None, "poor", capture, verdict=verdict))
                        counts["poor"] += 1
                else:
                    events.append(_complete(task, capture, verdict, now))
                    counts["completed"] += 1
        TaskEvent.objects.bulk_create(events)
    return dict(counts)


# -- what the ranking knows about each site ----------------------------------------------------


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def _damage_grid() -> dict[tuple[int, int], list[tuple[str, float, float, dt.date]]]:
    grid: dict[tuple[int, int], list[tuple[str, float, float, dt.date]]] = defaultdict(list)
    rows = Site.objects.filter(
        damage_status__in=DAMAGE_NEARBY,
        damage_date__isnull=False,
        latitude__isnull=False,
        longitude__isnull=False,
    ).values_list("id", "latitude", "longitude", "damage_date")
    for sid, lat, lon, day in rows.iterator(chunk_size=5_000):
        if lat is None or lon is None or day is None:
            continue
        grid[(math.floor(lat * 10), math.floor(lon * 10))].append((sid, lat, lon, day))
    return grid


def _nearby_damage(
    grid: dict[tuple[int, int], list[tuple[str, float, float, dt.date]]],
    site_id: str,
    lat: float | None,
    lon: float | None,
) -> dt.date | None:
    if lat is None or lon is None or not grid:
        return None
    cells_lat = math.ceil(prio.NEARBY_DAMAGE_KM / 11.1) + 1
    cells_lon = math.ceil(cells_lat / max(math.cos(math.radians(lat)), 0.1))
    ci, cj = math.floor(lat * 10), math.floor(lon * 10)
    best: dt.date | None = None
    for i in range(ci - cells_lat, ci + cells_lat + 1):
        for j in range(cj - cells_lon, cj + cells_lon + 1):
            for other, olat, olon, day in grid.get((i, j), ()):
                if other == site_id or (best is not None and day <= best):
                    continue
                if prio.distance_km(lat, lon, olat, olon) <= prio.NEARBY_DAMAGE_KM:
                    best = day
    return best


def site_status_refresh(*, site_ids: Iterable[str]) -> int:
    """Recount each site's captures, their best verdict, the latest one, and the damage
    nearby; one row per site in :class:`SiteStatus`. Safe to run any number of times."""
    ids = sorted(set(site_ids))
    if not ids:
        return 0
    grid = _damage_grid()
    now = timezone.now()
    written = 0
    for part in _chunks(ids):
        captures = list(
            Capture.objects.filter(selectors.site_captures_q(list(part)))
            .select_related("record")
            .only("id", "state", "stats", "created_at", "suggested_site_id", "record__site_id")
        )
        verdicts = selectors.capture_verdicts(captures)
        per_site: dict[str, list[Capture]] = defaultdict(list)
        for capture in captures:
            sid = selectors.capture_site_id(capture)
            if sid:
                per_site[sid].append(capture)
        rows = []
        for sid, lat, lon in Site.objects.filter(pk__in=part).values_list(
            "id", "latitude", "longitude"
        ):
            mine = per_site.get(sid, [])
            rows.append(
                SiteStatus(
                    site_id=sid,
                    captures=len(mine),
                    best_verdict=prio.best_verdict(verdicts[c.pk] for c in mine) or "",
                    latest_capture_at=max((c.created_at for c in mine), default=None),
                    nearby_damage_on=_nearby_damage(grid, sid, lat, lon),
                    refreshed_at=now,
                )
            )
        SiteStatus.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["site"],
            update_fields=[
                "captures",
                "best_verdict",
                "latest_capture_at",
                "nearby_damage_on",
                "refreshed_at",
            ],
        )
        written += len(rows)
        _tasks_follow_sites(part)
    return written


def _tasks_follow_sites(site_ids: Sequence[str]) -> int:
    """Copy a moved site's place onto its tasks (rare: merges move points)."""
    where = {
        sid: (selectors.lat_band(lat), lon if lat is not None else None)
        for sid, lat, lon in Site.objects.filter(pk__in=list(site_ids)).values_list(
            "id", "latitude", "longitude"
        )
    }
    moved = 0
    for task_id, sid, band, lon in Task.objects.filter(site_id__in=list(site_ids)).values_list(
        "id", "site_id", "lat_band", "longitude"
    ):
        if sid in where and (band, lon) != where[sid]:
            Task.objects.filter(pk=task_id).update(lat_band=where[sid][0], longitude=where[sid][1])
            moved += 1
    return moved


def statuses_refresh() -> int:
    """Refresh every target site of the active campaigns (damage lists change by import)."""
    ids = list(
        Task.objects.filter(campaign__state=CampaignState.ACTIVE)
        .values_list("site_id", flat=True)
        .distinct()
    )
    return site_status_refresh(site_ids=ids)

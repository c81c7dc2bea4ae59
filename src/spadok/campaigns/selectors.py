"""Reads of campaigns: who may do what, what to scan next, how far a campaign is.

Campaign pages are for people who are signed in (anyone may join); the only
public surface is the national coverage map (:func:`coverage_regions`), which
counts sites by the public 3D rule and shows no campaign work. Every point a
page or the API shows goes through :func:`spadok.sites.selectors.public_point`:
a volunteer sees a sensitive site on the 0.1° grid, as everyone does, and
distances to it are measured to that point. Volunteers appear by their
pseudonymous display name only.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from spadok.campaigns.models import (
    Campaign,
    CampaignState,
    MemberRole,
    Membership,
    Task,
    TaskState,
)
from spadok.catalogue.models import Capture, CaptureState, Decision, ReviewDecision
from spadok.catalogue.selectors import (
    SEAL_ROLES,
    latest_decisions,
    sees_exact_location,
    user_role,
)
from spadok.core import priority as prio
from spadok.sites.models import Site
from spadok.sites.selectors import COARSE_DEGREES, public_point

DEFAULT_RADIUS_KM = 25.0  # a day's round trip on local roads
MAX_RADIUS_KM = 500.0
DEFAULT_LIMIT = 30
MAX_LIMIT = 100
# Without a place, or in a crowded city, at most this many candidates are ranked.
MAX_CANDIDATES = 20_000
PROGRESS_DAYS = 30  # captures per day shown on the dashboard
MAX_DUPLICATES_SHOWN = 6


# -- who may do what ----------------------------------------------------------------


def may_create_campaign(user: Any) -> bool:
    """Curators and administrators start campaigns (and coordinate every campaign)."""
    return user_role(user) in SEAL_ROLES


def membership_of(user: Any, campaign: Campaign) -> Membership | None:
    if user_role(user) is None:
        return None
    return Membership.objects.filter(campaign=campaign, user=user).first()


def may_coordinate(user: Any, campaign: Campaign) -> bool:
    """Curators, administrators and the campaign's named coordinators."""
    if may_create_campaign(user):
        return True
    member = membership_of(user, campaign)
    return member is not None and member.role == MemberRole.COORDINATOR


def access_campaign(user: Any, campaign_id: str) -> Campaign:
    """The campaign for a signed-in person; 404 for anyone else or for no such campaign."""
    if user_role(user) is None:
        raise Http404("no such campaign")
    campaign = Campaign.objects.select_related("region").filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("no such campaign")
    return campaign


def access_task(user: Any, task_id: int | str) -> Task:
    """A task of a campaign the person may open (see :func:`access_campaign`)."""
    if user_role(user) is None:
        raise Http404("no such task")
    try:
        pk = int(task_id)
    except (TypeError, ValueError):
        raise Http404("no such task") from None
    task = (
        Task.objects.select_related("campaign", "site__region", "claimed_by__profile")
        .defer("site__region__geometry")
        .filter(pk=pk)
        .first()
    )
    if task is None:
        raise Http404("no such task")
    return task


def campaigns_for(user: Any) -> QuerySet[Campaign]:
    """Every campaign (for signed-in people), active ones first, with counts."""
    return Campaign.objects.annotate(
        n_tasks=Count("tasks", distinct=True),
        n_done=Count("tasks", filter=Q(tasks__state=TaskState.DONE), distinct=True),
        n_members=Count("memberships", distinct=True),
    ).order_by("state", "-created_at")


def joined_campaign_ids(user: Any) -> list[str]:
    if user_role(user) is None:
        return []
    return list(
        Membership.objects.filter(user=user, campaign__state=CampaignState.ACTIVE).values_list(
            "campaign_id", flat=True
        )
    )


# -- quality of captures -------------------------------------------------------------


def verdict_of(capture: Capture, decision: ReviewDecision | None) -> str | None:
    """A capture's quality verdict: ``good``, ``usable``, ``poor``, ``failed``, or None.

    None while it is processed. A reviewer asking for a new capture (or
    rejecting it) makes it ``poor``; failed processing is ``failed``; then the
    verdict its processing wrote (reconstruction's report); then an approved
    capture is ``good`` and any other processed one ``usable``.
    """
    if decision is not None and decision.decision in (Decision.RECAPTURE, Decision.REJECT):
        return "poor"
    if capture.state == CaptureState.FAILED:
        return "failed"
    if capture.state != CaptureState.READY:
        return None
    stated = prio.verdict_from_stats(capture.stats)
    if stated is not None:
        return stated
    if decision is not None and decision.decision == Decision.APPROVE:
        return "good"
    return "usable"


def capture_verdicts(captures: list[Capture]) -> dict[str, str | None]:
    decisions = latest_decisions([c.pk for c in captures])
    return {c.pk: verdict_of(c, decisions.get(c.pk)) for c in captures}


def site_captures_q(site_ids: list[str]) -> Q:
    """Captures of these sites: through their record's site, or the contributor's pick
    while the record has none."""
    return Q(record__site_id__in=site_ids) | Q(
        record__site__isnull=True, suggested_site_id__in=site_ids
    )


def capture_site_id(capture: Capture) -> str | None:
    """The site a capture documents (its record's, else the one its contributor picked)."""
    return capture.record.site_id or capture.suggested_site_id


def duplicates_of(capture: Capture, *, limit: int = MAX_DUPLICATES_SHOWN) -> list[Capture]:
    """Good captures already on the site this capture lands on (for the review queue).

    A reviewer then decides whether the new one adds anything (another side,
    the damage since) or repeats what the archive has.
    """
    site_id = capture_site_id(capture)
    if site_id is None:
        return []
    others = list(
        Capture.objects.filter(site_captures_q([site_id]), state=CaptureState.READY)
        .exclude(pk=capture.pk)
        .select_related("record")
        .prefetch_related("derivatives")
        .order_by("-created_at")[:200]
    )
    verdicts = capture_verdicts(others)
    return [c for c in others if verdicts[c.pk] == "good"][:limit]


# -- what to scan next --------------------------------------------------------------


@dataclass
class Place:
    latitude: float
    longitude: float
    label: str = ""


@dataclass
class NearTask:
    task: Task
    priority: prio.Priority
    distance_km: float | None
    point: tuple[float, float, float | None] | None
    mine: bool = False


def _today(now: dt.datetime) -> dt.date:
    return timezone.localtime(now).date()


def lat_band(latitude: float | None) -> int | None:
    """The 0.1° band of a latitude (a task's index holds it with the longitude)."""
    return None if latitude is None else math.floor(latitude * 10)


FACT_FIELDS = (
    "id",
    "site__latitude",
    "site__longitude",
    "site__sensitive",
    "site__damage_status",
    "site__damage_date",
    "urgency",
    "site__campaign_status__best_verdict",
    "site__campaign_status__latest_capture_at",
    "site__campaign_status__nearby_damage_on",
    "claimed_by_id",
    "claim_expires_at",
)


def _facts(row: tuple[Any, ...], distance: float | None) -> prio.TaskFacts:
    latest = row[8]
    return prio.TaskFacts(
        damage_status=row[4] or "",
        damage_date=row[5],
        nearby_damage_on=row[9],
        urgency=row[6],
        best_verdict=row[7] or None,
        latest_capture_on=latest.date() if latest else None,
        distance_km=distance,
    )


def _coarse(value: float) -> float:
    return round(round(value / COARSE_DEGREES) * COARSE_DEGREES, 1)


def tasks_near(
    *,
    user: Any,
    place: Place | None,
    radius_km: float = DEFAULT_RADIUS_KM,
    limit: int = DEFAULT_LIMIT,
    campaign: Campaign | None = None,
    now: dt.datetime | None = None,
) -> list[NearTask]:
    """Open tasks near a place, highest priority first (see :mod:`spadok.core.priority`).

    The tasks of ``campaign``, or of every active campaign the person joined.
    Tasks another volunteer holds are left out; the person's own claims are in,
    marked ``mine``. One query reads the facts of the candidates in the box
    around the place, found through the tasks' (campaign, band, longitude)
    index, as tuples; they are scored, and only the chosen ones are loaded as
    objects (with their reasons). See ADR 0011.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    if campaign is not None:
        ids = [campaign.pk] if campaign.open_on(today) is None else []
    else:
        # joined campaigns that hand out tasks today (not before they begin, not after)
        ids = list(
            Campaign.objects.filter(pk__in=joined_campaign_ids(user))
            .exclude(starts_on__gt=today)
            .exclude(ends_on__lt=today)
            .values_list("pk", flat=True)
        )
    if not ids:
        return []
    radius_km = min(MAX_RADIUS_KM, max(0.1, radius_km))
    limit = min(MAX_LIMIT, max(1, limit))
    mine_q = Q(claimed_by=user) if user_role(user) is not None else Q(pk__in=[])
    tasks = Task.objects.filter(campaign_id__in=ids, state=TaskState.OPEN).filter(
        Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now) | mine_q
    )
    if place is not None:
        # A sensitive site is measured to its grid point, up to half a cell away.
        dlat = math.degrees(radius_km / prio.EARTH_RADIUS_KM) + COARSE_DEGREES
        dlon = dlat / max(math.cos(math.radians(place.latitude)), 0.01)
        low, high = lat_band(place.latitude - dlat), lat_band(place.latitude + dlat)
        assert low is not None and high is not None
        tasks = tasks.filter(
            lat_band__in=list(range(low, high + 1)),
            longitude__gte=place.longitude - dlon,
            longitude__lte=place.longitude + dlon,
        )
    exact = sees_exact_location(user)
    pk = getattr(user, "pk", None)
    today = _today(now)
    scored: list[tuple[float, float, int]] = []
    facts_of: dict[int, prio.TaskFacts] = {}
    points: dict[int, tuple[float, float, float | None] | None] = {}
    mine: set[int] = set()
    rows = tasks.order_by().values_list(*FACT_FIELDS)[:MAX_CANDIDATES]
    for row in rows:
        task_id, lat, lon = row[0], row[1], row[2]
        point: tuple[float, float, float | None] | None = None
        if lat is not None and lon is not None:
            point = (
                (_coarse(lat), _coarse(lon), 11_000.0) if row[3] and not exact else (lat, lon, None)
            )
        distance = None
        if place is not None:
            if point is None:
                continue
            distance = prio.distance_km(place.latitude, place.longitude, point[0], point[1])
            if distance > radius_km:
                continue
        if row[10] == pk and row[11] is not None and row[11] > now:
            mine.add(task_id)
        facts = _facts(row, distance)
        facts_of[task_id] = facts
        points[task_id] = point
        scored.append(
            (-prio.score(facts, today), math.inf if distance is None else distance, task_id)
        )
    chosen = [task_id for _s, _d, task_id in heapq.nsmallest(limit, scored)]
    by_id = (
        Task.objects.select_related("campaign", "site__region")
        .only(*NEAR_TASK_FIELDS)
        .order_by()
        .in_bulk(chosen)
    )
    out = []
    for task_id in chosen:
        facts = facts_of[task_id]
        out.append(
            NearTask(
                task=by_id[task_id],
                priority=prio.priority(facts, today),
                distance_km=facts.distance_km,
                point=points[task_id],
                mine=task_id in mine,
            )
        )
    return out


# What a chosen task shows: no region outline, no provenance, no campaign polygon.
NEAR_TASK_FIELDS = (
    "id",
    "urgency",
    "wanted",
    "note",
    "state",
    "claimed_by_id",
    "claim_expires_at",
    "verdict",
    "campaign__id",
    "campaign__name",
    "campaign__state",
    "site__id",
    "site__names",
    "site__type",
    "site__settlement",
    "site__damage_status",
    "site__sensitive",
    "site__latitude",
    "site__longitude",
    "site__region__code",
    "site__region__names",
)


def task_priority(task: Task, user: Any, place: Place | None = None) -> NearTask:
    """One task's priority and point, as :func:`tasks_near` would give it."""
    row = Task.objects.filter(pk=task.pk).values_list(*FACT_FIELDS).get()
    point = public_point(task.site, user)
    distance = None
    if place is not None and point is not None:
        distance = prio.distance_km(place.latitude, place.longitude, point[0], point[1])
    now = timezone.now()
    return NearTask(
        task=task,
        priority=prio.priority(_facts(row, distance), _today(now)),
        distance_km=distance,
        point=point,
        mine=task.claim_active(now) and task.claimed_by_id == getattr(user, "pk", None),
    )


def settlement_place(name: str) -> Place | None:
    """The middle of the registry's sites in a settlement of this name, or None."""
    name = " ".join(name.split())[:200]
    if len(name) < 2:
        return None
    rows = list(
        Site.objects.filter(
            settlement__iexact=name, sensitive=False, latitude__isnull=False
        ).values_list("latitude", "longitude", "settlement")[:500]
    )
    if not rows:
        return None
    lats = sorted(float(r[0]) for r in rows if r[0] is not None and r[1] is not None)
    lons = sorted(float(r[1]) for r in rows if r[0] is not None and r[1] is not None)
    if not lats:
        return None
    return Place(latitude=lats[len(lats) // 2], longitude=lons[len(lons) // 2], label=rows[0][2])


def claims_of(user: Any, *, now: dt.datetime | None = None) -> QuerySet[Task]:
    """The tasks this person holds now, soonest to expire first."""
    now = now or timezone.now()
    return (
        Task.objects.filter(claimed_by=user, state=TaskState.OPEN, claim_expires_at__gt=now)
        .select_related("campaign", "site__region")
        .defer("site__region__geometry")
        .order_by("claim_expires_at")
    )


def own_captures_for_task(user: Any, task: Task, *, limit: int = 10) -> list[Capture]:
    """The person's recent captures that are not yet filed under a site: one of them may
    be this task's (the task page links each to its describe form, with the site chosen)."""
    return list(
        Capture.objects.filter(
            contributor=user,
            record__site__isnull=True,
            suggested_site__isnull=True,
            created_at__gte=task.added_at - dt.timedelta(days=1),
        )
        .select_related("record")
        .order_by("-created_at")[:limit]
    )


# -- progress -------------------------------------------------------------------------


STATUS_DONE = "done"
STATUS_CLAIMED = "claimed"
STATUS_RECAPTURE = "recapture"
STATUS_OPEN = "open"


def task_status(task: Task, now: dt.datetime) -> str:
    if task.state == TaskState.DONE:
        return STATUS_DONE
    if task.claim_active(now):
        return STATUS_CLAIMED
    if task.verdict in prio.NEEDS_RECAPTURE:
        return STATUS_RECAPTURE
    return STATUS_OPEN


@dataclass
class Progress:
    total: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    goal_sites: int | None = None
    goal_percent: int | None = None
    per_day: list[tuple[dt.date, int]] = field(default_factory=list)
    goal_per_day: int | None = None
    max_per_day: int = 0
    volunteers: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, int] = field(default_factory=dict)


def display_name(user: Any) -> str:
    """The pseudonymous display name (never the user name or the e-mail address)."""
    profile = getattr(user, "profile", None)
    return str(getattr(profile, "display_name", "") or "")


def campaign_progress(campaign: Campaign, *, now: dt.datetime | None = None) -> Progress:
    """Counts by status, captures per day against the goal, volunteers, quality."""
    now = now or timezone.now()
    today = _today(now)
    tasks = list(
        Task.objects.filter(campaign=campaign).only(
            "id",
            "state",
            "claimed_by_id",
            "claim_expires_at",
            "completed_by_id",
            "verdict",
            "site_id",
        )
    )
    progress = Progress(total=len(tasks))
    statuses = Counter(task_status(t, now) for t in tasks)
    progress.statuses = {
        s: statuses.get(s, 0) for s in (STATUS_DONE, STATUS_CLAIMED, STATUS_RECAPTURE, STATUS_OPEN)
    }
    progress.goal_sites = campaign.goal_sites
    if campaign.goal_sites:
        progress.goal_percent = min(100, round(100 * statuses[STATUS_DONE] / campaign.goal_sites))
    progress.quality = dict(
        Counter(t.verdict or "pending" for t in tasks if t.state == TaskState.DONE)
    )

    start = campaign.starts_on or timezone.localtime(campaign.created_at).date()
    first = max(start, today - dt.timedelta(days=PROGRESS_DAYS - 1))
    last = min(today, campaign.ends_on) if campaign.ends_on else today
    site_ids = [t.site_id for t in tasks]
    counts: dict[dt.date, int] = {}
    by_user: Counter[int] = Counter()
    if site_ids and first <= last:
        captures = Capture.objects.filter(
            site_captures_q(site_ids), created_at__date__gte=start, created_at__date__lte=last
        )
        for day, n in (
            captures.filter(created_at__date__gte=first)
            .annotate(day=TruncDate("created_at"))
            .values_list("day")
            .annotate(n=Count("pk"))
            .values_list("day", "n")
        ):
            counts[day] = n
        by_user.update(
            dict(
                captures.exclude(contributor=None)
                .values_list("contributor_id")
                .annotate(n=Count("pk"))
                .values_list("contributor_id", "n")
            )
        )
    days = (last - first).days + 1 if first <= last else 0
    progress.per_day = [
        (first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0))
        for i in range(days)
    ]
    progress.goal_per_day = campaign.goal_captures_per_day
    progress.max_per_day = max(
        [n for _d, n in progress.per_day] + [campaign.goal_captures_per_day or 0, 1]
    )

    completed = Counter(t.completed_by_id for t in tasks if t.state == TaskState.DONE)
    holding = Counter(t.claimed_by_id for t in tasks if t.claim_active(now))
    rows: list[dict[str, Any]] = []
    for member in Membership.objects.filter(campaign=campaign).select_related("user__profile"):
        uid = member.user_id
        rows.append(
            {
                "name": display_name(member.user),  # pseudonymous: never a user name or e-mail
                "coordinator": member.role == MemberRole.COORDINATOR,
                "completed": completed.get(uid, 0),
                "claims": holding.get(uid, 0),
                "captures": by_user.get(uid, 0),
            }
        )
    rows.sort(key=lambda r: (-r["completed"], -r["captures"], r["name"].casefold()))
    progress.volunteers = rows
    return progress


def campaign_features(
    campaign: Campaign, user: Any, *, lang: str | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The campaign's targets as GeoJSON points with their status, for its coverage map."""
    now = now or timezone.now()
    out = []
    tasks = (
        Task.objects.filter(campaign=campaign)
        .select_related("site")
        .only(
            "id",
            "state",
            "claimed_by_id",
            "claim_expires_at",
            "verdict",
            "urgency",
            "site__id",
            "site__names",
            "site__latitude",
            "site__longitude",
            "site__sensitive",
            "site__damage_status",
        )
    )
    for task in tasks:
        point = public_point(task.site, user)
        if point is None:
            continue
        out.append(
            {
                "type": "Feature",
                "id": task.pk,
                "geometry": {"type": "Point", "coordinates": [point[1], point[0]]},
                "properties": {
                    "task": task.pk,
                    "name": task.site.name(lang),
                    "status": task_status(task, now),
                    "damage_status": task.site.damage_status,
                    "urgency": task.urgency,
                    "approximate": point[2] is not None,
                    "url": task.get_absolute_url(),
                },
            }
        )
    return out


# -- the national coverage map (public) -------------------------------------------------


def coverage_regions(*, lang: str) -> list[dict[str, Any]]:
    """Each region's outline with its sites, those with a public 3D model, and those without.

    Only public facts: the site registry and the public 3D rule. Campaign work
    (claims, who is where) is not shown to the public.
    """
    from spadok.sites.geojson import region_features

    features = region_features(lang=lang)
    for f in features:
        p = f["properties"]
        p["without_3d"] = max(0, p["sites"] - p["with_3d"])
        p["share_3d"] = round(p["with_3d"] / p["sites"], 4) if p["sites"] else 0.0
        p.pop("damaged", None)
    return features


def coverage_totals(features: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for f in features:
        for key in ("sites", "with_3d", "without_3d"):
            totals[key] += int(f["properties"][key])
    return dict(totals)

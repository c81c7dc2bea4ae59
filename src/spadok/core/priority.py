"""What to scan next: the priority of a site that a campaign wants captured.

Django-free, so that the ranking can be read, tested and tuned on its own. A
task's priority is a sum of points, each with a stable reason code that the
pages show ("damaged", "no capture yet", "3 km away"):

* **threat**: the site's own damage status, how recent its damage is, recent
  damage at other sites nearby (shelling tends to return), and the urgency a
  coordinator set;
* **coverage**: no capture yet counts most, then a failed or poor one, then a
  usable one; a good capture counts nothing; an old capture gains a little
  with every year (the building may have changed since);
* **distance**: one point off per kilometre, so a threatened site 20 km away
  still comes before an untouched one next door, but a site scanned well
  yesterday never comes before a threatened one with nothing.

See docs/adr/0011-campaign-priority-and-claims.md for why these weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

# The processing verdicts (spadok.core.reconstruct.report.VERDICTS), best first.
VERDICTS = ("good", "usable", "poor", "failed")
VERDICT_RANK = {"good": 3, "usable": 2, "poor": 1, "failed": 0}
# Verdicts after which the site still needs a capture (the task opens again).
NEEDS_RECAPTURE = frozenset({"poor", "failed"})

# -- the weights (points) ----------------------------------------------------------
DAMAGE_POINTS = {"threatened": 30.0, "damaged": 35.0, "destroyed": 25.0, "looted": 20.0}
RECENT_DAMAGE_POINTS = 25.0  # at damage today, halving every RECENT_DAMAGE_HALF_LIFE_DAYS
RECENT_DAMAGE_HALF_LIFE_DAYS = 180.0
NEARBY_DAMAGE_POINTS = 20.0  # damage at another site within NEARBY_DAMAGE_KM
NEARBY_DAMAGE_HALF_LIFE_DAYS = 90.0
NEARBY_DAMAGE_KM = 10.0
URGENCY_POINTS = 15.0  # per level a coordinator sets (0-3)
MAX_URGENCY = 3
COVERAGE_POINTS = {None: 40.0, "failed": 35.0, "poor": 30.0, "usable": 10.0, "good": 0.0}
AGE_POINTS_PER_YEAR = 5.0
MAX_AGE_POINTS = 15.0
DISTANCE_POINTS_PER_KM = 1.0

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class TaskFacts:
    """What is known about one target site when the volunteer asks."""

    damage_status: str = ""
    damage_date: date | None = None
    nearby_damage_on: date | None = None  # the latest damage at another site nearby
    urgency: int = 0
    best_verdict: str | None = None  # None: no capture of the site yet
    latest_capture_on: date | None = None
    distance_km: float | None = None  # None: the volunteer gave no place


@dataclass(frozen=True)
class Priority:
    score: float
    reasons: tuple[str, ...]  # stable codes, most important first
    parts: Mapping[str, float] = field(default_factory=dict)


def decay(days: float, half_life_days: float) -> float:
    """1 today, 1/2 after one half-life, …; 0 for dates in the future is not wanted: 1."""
    return 0.5 ** (max(0.0, days) / half_life_days)


def verdict_from_stats(stats: Mapping[str, Any] | None) -> str | None:
    """The verdict a processing step wrote into a capture's statistics, if any.

    Reconstruction (photos, video, LiDAR) ends with a report whose verdict is
    ``good``, ``usable``, ``poor`` or ``failed``; it is kept as ``verdict`` or
    inside ``reconstruction``/``report``. Finished scans carry none.
    """
    if not stats:
        return None
    for holder in (stats, stats.get("reconstruction"), stats.get("report")):
        if isinstance(holder, Mapping):
            value = holder.get("verdict")
            if isinstance(value, str) and value in VERDICT_RANK:
                return value
    return None


def best_verdict(verdicts: Iterable[str | None]) -> str | None:
    """The best of several captures' verdicts; None when there is none."""
    known = [v for v in verdicts if v in VERDICT_RANK]
    return max(known, key=VERDICT_RANK.__getitem__) if known else None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def priority(facts: TaskFacts, today: date) -> Priority:
    """The points of one task and the reasons behind them."""
    parts: dict[str, float] = {}
    damage = DAMAGE_POINTS.get(facts.damage_status, 0.0)
    if damage:
        parts[facts.damage_status or "damaged"] = damage
        if facts.damage_date is not None:
            days = (today - facts.damage_date).days
            parts["recent_damage"] = RECENT_DAMAGE_POINTS * decay(
                days, RECENT_DAMAGE_HALF_LIFE_DAYS
            )
    if facts.nearby_damage_on is not None:
        days = (today - facts.nearby_damage_on).days
        parts["damage_nearby"] = NEARBY_DAMAGE_POINTS * decay(days, NEARBY_DAMAGE_HALF_LIFE_DAYS)
    urgency = min(MAX_URGENCY, max(0, facts.urgency))
    if urgency:
        parts["urgent"] = URGENCY_POINTS * urgency
    verdict = facts.best_verdict if facts.best_verdict in VERDICT_RANK else None
    coverage = COVERAGE_POINTS[verdict]
    if coverage:
        parts["no_capture" if verdict is None else f"{verdict}_capture"] = coverage
    if verdict is not None and facts.latest_capture_on is not None:
        years = max(0, (today - facts.latest_capture_on).days) / 365.25
        age = min(MAX_AGE_POINTS, AGE_POINTS_PER_YEAR * years)
        if age >= 1.0:
            parts["old_capture"] = age
    if facts.distance_km is not None:
        parts["distance"] = -DISTANCE_POINTS_PER_KM * facts.distance_km
    reasons = tuple(
        name
        for name, _points in sorted(parts.items(), key=lambda p: -p[1])
        if name != "distance" and _points >= 1.0
    )
    return Priority(score=round(sum(parts.values()), 3), reasons=reasons, parts=parts)


def score(facts: TaskFacts, today: date) -> float:
    """:func:`priority`'s score alone, without its reasons: the fast path that ranks
    thousands of candidates (a test holds the two equal)."""
    total = 0.0
    damage = DAMAGE_POINTS.get(facts.damage_status, 0.0)
    if damage:
        total += damage
        if facts.damage_date is not None:
            days = (today - facts.damage_date).days
            total += RECENT_DAMAGE_POINTS * decay(days, RECENT_DAMAGE_HALF_LIFE_DAYS)
    if facts.nearby_damage_on is not None:
        days = (today - facts.nearby_damage_on).days
        total += NEARBY_DAMAGE_POINTS * decay(days, NEARBY_DAMAGE_HALF_LIFE_DAYS)
    total += URGENCY_POINTS * min(MAX_URGENCY, max(0, facts.urgency))
    verdict = facts.best_verdict if facts.best_verdict in VERDICT_RANK else None
    total += COVERAGE_POINTS[verdict]
    if verdict is not None and facts.latest_capture_on is not None:
        years = max(0, (today - facts.latest_capture_on).days) / 365.25
        age = min(MAX_AGE_POINTS, AGE_POINTS_PER_YEAR * years)
        if age >= 1.0:
            total += age
    if facts.distance_km is not None:
        total -= DISTANCE_POINTS_PER_KM * facts.distance_km
    return round(total, 3)


K = TypeVar("K")


def rank(
    items: Iterable[tuple[K, TaskFacts]], today: date, limit: int | None = None
) -> list[tuple[K, Priority]]:
    """Items by priority, highest first; ties go to the nearer, then to the smaller key."""
    scored = [(key, priority(facts, today), facts.distance_km) for key, facts in items]
    scored.sort(key=lambda s: (-s[1].score, math.inf if s[2] is None else s[2], s[0]))
    chosen = scored if limit is None else scored[: max(0, limit)]
    return [(key, p) for key, p, _d in chosen]

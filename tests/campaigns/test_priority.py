"""What to scan next: the ranking on its own, then "tasks near me" over sites built in
known states (damage, captures of known quality and age, urgency, distance)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spadok.core import priority as prio
from tests.campaigns.conftest import HOME

TODAY = dt.date(2026, 5, 1)


def _rank(items: dict[str, prio.TaskFacts]) -> list[str]:
    return [key for key, _p in prio.rank(items.items(), TODAY)]


def test_a_threatened_site_with_nothing_comes_before_a_site_scanned_yesterday() -> None:
    order = _rank(
        {
            "church scanned well yesterday, next door": prio.TaskFacts(
                best_verdict="good", latest_capture_on=TODAY - dt.timedelta(days=1), distance_km=0.5
            ),
            "threatened museum, nothing yet, 20 km": prio.TaskFacts(
                damage_status="threatened", distance_km=20
            ),
        }
    )
    assert order == [
        "threatened museum, nothing yet, 20 km",
        "church scanned well yesterday, next door",
    ]


def test_each_part_of_the_priority_counts() -> None:
    base = prio.TaskFacts(distance_km=5)
    plain = prio.priority(base, TODAY)
    assert plain.reasons == ("no_capture",)
    assert plain.score == pytest.approx(40 - 5)
    # A poor capture is almost as wanted as none; a usable one much less; a good one not at all.
    scores = {
        v: prio.priority(prio.TaskFacts(best_verdict=v, distance_km=5), TODAY).score
        for v in ("failed", "poor", "usable", "good")
    }
    assert plain.score > scores["failed"] > scores["poor"] > scores["usable"] > scores["good"]
    # Damage of the site itself: more when recent.
    old = prio.TaskFacts(damage_status="damaged", damage_date=TODAY - dt.timedelta(days=900))
    new = prio.TaskFacts(damage_status="damaged", damage_date=TODAY - dt.timedelta(days=10))
    assert prio.priority(new, TODAY).score > prio.priority(old, TODAY).score
    assert prio.priority(new, TODAY).reasons[:2] == ("no_capture", "damaged")
    assert "recent_damage" in prio.priority(new, TODAY).reasons
    # Damage nearby, fading with time.
    near = prio.priority(prio.TaskFacts(nearby_damage_on=TODAY - dt.timedelta(days=3)), TODAY)
    assert (
        "damage_nearby" in near.reasons
        and near.score > prio.priority(prio.TaskFacts(), TODAY).score
    )
    # The coordinator's urgency, capped at 3.
    urgent = prio.priority(prio.TaskFacts(urgency=9, best_verdict="good"), TODAY)
    assert urgent.score == pytest.approx(prio.URGENCY_POINTS * prio.MAX_URGENCY)
    assert urgent.reasons == ("urgent",)
    # A good capture grows old: after three years it is wanted a little again.
    aged = prio.TaskFacts(best_verdict="good", latest_capture_on=TODAY - dt.timedelta(days=3 * 366))
    assert prio.priority(aged, TODAY).reasons == ("old_capture",)
    assert prio.priority(aged, TODAY).score == pytest.approx(prio.MAX_AGE_POINTS)


def test_ties_go_to_the_nearer_then_the_smaller_key() -> None:
    same = {"b": prio.TaskFacts(distance_km=3), "a": prio.TaskFacts(distance_km=3)}
    assert _rank(same) == ["a", "b"]
    assert _rank({"far": prio.TaskFacts(distance_km=9), "near": prio.TaskFacts(distance_km=2)}) == [
        "near",
        "far",
    ]


def test_verdicts_from_the_processing_report() -> None:
    assert prio.verdict_from_stats({"verdict": "poor"}) == "poor"
    assert prio.verdict_from_stats({"reconstruction": {"verdict": "good"}}) == "good"
    assert prio.verdict_from_stats({"report": {"verdict": "nonsense"}}) is None
    assert prio.verdict_from_stats({"triangles": 12}) is None
    assert prio.best_verdict(["poor", None, "usable", "failed"]) == "usable"
    assert prio.best_verdict([None]) is None


def test_distance_is_great_circle() -> None:
    # Kyiv to Kharkiv, about 410 km.
    assert prio.distance_km(50.4501, 30.5234, 49.9935, 36.2304) == pytest.approx(409, abs=5)


# -- tasks near me, on the database ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.db_both
def test_tasks_near_are_ordered_by_threat_coverage_and_distance(
    people: dict[str, Any], make_site: Any, capture_of: Any, campaign: Any
) -> None:
    from spadok.campaigns import selectors, services
    from spadok.campaigns.models import Task

    today = dt.date.today()
    sites = {
        # Damaged three years ago (its damage hardly counts as recent now), nothing yet, 5 km.
        "damaged-nothing": make_site(
            "Damaged, nothing",
            5,
            damage_status="damaged",
            damage_date=today - dt.timedelta(days=1100),
        ),
        # Nothing, 9 km south, 3 km from a site shelled ten days ago (not a target).
        "near-fresh-damage": make_site("Near fresh damage", -9),
        "urgent-good": make_site("Urgent, good capture", 1),
        "threatened-old-usable": make_site(
            "Threatened, old usable capture", 8, damage_status="threatened"
        ),
        "untouched": make_site("Untouched", 2),
        "poor": make_site("Poor capture", 3),
        "fresh-good": make_site("Scanned well yesterday", 0.5),
        "too-far": make_site("Beyond the radius", 80),
    }
    make_site(
        "Shelled ten days ago",
        -12,
        damage_status="destroyed",
        damage_date=today - dt.timedelta(days=10),
    )
    capture_of(sites["urgent-good"], verdict="good", days_ago=10)
    capture_of(sites["threatened-old-usable"], days_ago=2 * 365)  # usable: processed, not reviewed
    capture_of(sites["poor"], verdict="poor", days_ago=30)
    capture_of(sites["fresh-good"], verdict="good", days_ago=1)
    services.campaign_add_sites(
        actor=people["curator"], campaign=campaign, site_ids=[s.pk for s in sites.values()]
    )
    services.task_update(
        actor=people["curator"], task=Task.objects.get(site=sites["urgent-good"]), urgency=3
    )
    services.campaign_join(actor=people["anna"], campaign=campaign)

    found = selectors.tasks_near(user=people["anna"], place=selectors.Place(*HOME), radius_km=50)
    names = [n.task.site.names["en"] for n in found]
    assert names == [
        "Damaged, nothing",  # 35 + 40 - 5
        "Near fresh damage",  # ~18.5 + 40 - 9
        "Urgent, good capture",  # 45 - 1
        "Threatened, old usable capture",  # 30 + 10 + 10 - 8
        "Untouched",  # 40 - 2
        "Poor capture",  # 30 - 3
        "Scanned well yesterday",  # 0 - 0.5
    ]
    by_name = {n.task.site.names["en"]: n for n in found}
    assert by_name["Near fresh damage"].priority.reasons == ("no_capture", "damage_nearby")
    assert by_name["Poor capture"].priority.reasons == ("poor_capture",)
    assert by_name["Threatened, old usable capture"].priority.reasons[0] == "threatened"
    assert by_name["Untouched"].distance_km == pytest.approx(2.0, abs=0.01)
    assert all(not n.mine for n in found)


@pytest.mark.django_db
@pytest.mark.db_both
def test_tasks_near_leave_out_others_claims_and_done_tasks_and_mark_mine(
    people: dict[str, Any], make_site: Any, campaign: Any
) -> None:
    from spadok.campaigns import selectors, services
    from spadok.campaigns.models import Task, TaskState

    a, b, c = make_site("A", 1), make_site("B", 2), make_site("C", 3)
    services.campaign_add_sites(
        actor=people["curator"], campaign=campaign, site_ids=[a.pk, b.pk, c.pk]
    )
    for who in ("anna", "bohdan"):
        services.campaign_join(actor=people[who], campaign=campaign)
    task_a, task_b, task_c = (Task.objects.get(site=s) for s in (a, b, c))
    services.task_claim(actor=people["bohdan"], task_id=task_a.pk)
    services.task_claim(actor=people["anna"], task_id=task_b.pk)
    Task.objects.filter(pk=task_c.pk).update(state=TaskState.DONE)

    anna = selectors.tasks_near(user=people["anna"], place=selectors.Place(*HOME))
    assert [(n.task.pk, n.mine) for n in anna] == [(task_b.pk, True)]
    # Someone who joined nothing sees nothing; a stranger's claim is not shown to them either.
    assert selectors.tasks_near(user=people["other"], place=selectors.Place(*HOME)) == []


@pytest.mark.django_db
def test_a_sensitive_site_is_placed_and_measured_on_the_public_grid(
    people: dict[str, Any], make_site: Any, campaign: Any
) -> None:
    from spadok.campaigns import selectors, services

    secret = make_site("Hidden chapel", 3.3, 2.7, sensitive=True)
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[secret.pk])
    services.campaign_join(actor=people["anna"], campaign=campaign)
    (near,) = selectors.tasks_near(user=people["anna"], place=selectors.Place(*HOME))
    assert near.point is not None
    assert (near.point[0], near.point[1]) == (50.0, 36.2)  # the 0.1° cell, not the chapel
    assert near.point[2] == 11_000.0
    assert near.distance_km == pytest.approx(0.0, abs=0.01)
    # A curator (who may see exact points) gets the chapel's own point.
    services.campaign_join(actor=people["reviewer"], campaign=campaign)
    (exact,) = selectors.tasks_near(user=people["reviewer"], place=selectors.Place(*HOME))
    assert exact.point is not None and exact.point[0] == pytest.approx(secret.latitude)


def test_the_fast_score_is_the_prioritys_score() -> None:
    import itertools

    days = [None, TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=800)]
    for status, damage_on, nearby, urgency, verdict, captured, distance in itertools.product(
        ["", "threatened", "destroyed"],
        days,
        days,
        [0, 2],
        [None, "poor", "good"],
        days,
        [None, 7.5],
    ):
        facts = prio.TaskFacts(status, damage_on, nearby, urgency, verdict, captured, distance)
        assert prio.score(facts, TODAY) == prio.priority(facts, TODAY).score, facts

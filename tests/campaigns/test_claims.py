"""Claims under concurrency: many volunteers press "claim" at once, in threads with
their own database connections, on SQLite and (``-m db_both`` under
scripts/with-postgres) PostgreSQL. No task may end up held twice, no claim may be
lost, and nobody may exceed the limit of claims by racing it."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any

import pytest
from django.db import connection

from spadok.core.errors import SpadokError

pytestmark = [pytest.mark.db_both, pytest.mark.django_db(transaction=True)]

VOLUNTEERS = 10
TASKS = 4


def _in_threads(n: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in n threads released at the same moment; each closes its connection."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # kept and asserted on by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


def _setup(
    make_user: Any, make_site: Any, n_tasks: int, n_users: int
) -> tuple[Any, list[Any], list[Any]]:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task

    curator = make_user("coordinator", "curator")
    campaign = services.campaign_create(actor=curator, name="Race")
    sites = [make_site(f"Site {i}", i + 1) for i in range(n_tasks)]
    services.campaign_add_sites(actor=curator, campaign=campaign, site_ids=[s.pk for s in sites])
    users = [make_user(f"volunteer{i}", mfa=False) for i in range(n_users)]
    for user in users:
        services.campaign_join(actor=user, campaign=campaign)
    tasks = list(Task.objects.filter(campaign=campaign).order_by("pk"))
    return campaign, users, tasks


def test_many_volunteers_at_once_never_hold_one_task_twice(make_user: Any, make_site: Any) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task, TaskEvent

    _campaign, users, tasks = _setup(make_user, make_site, TASKS, VOLUNTEERS)
    ids = [t.pk for t in tasks]

    def claim_everything(i: int) -> list[int]:
        won = []
        order = ids[:]
        random.Random(i).shuffle(order)
        for task_id in order:
            try:
                services.task_claim(actor=users[i], task_id=task_id)
            except SpadokError as exc:
                assert exc.code == "campaign.task_taken", exc.code
            else:
                won.append(task_id)
        return won

    results = _in_threads(VOLUNTEERS, claim_everything)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    winners = [task_id for won in results for task_id in won]
    assert sorted(winners) == sorted(ids)  # every task claimed, none twice
    holders = dict(Task.objects.filter(pk__in=ids).values_list("pk", "claimed_by_id"))
    for i, won in enumerate(results):
        for task_id in won:
            assert holders[task_id] == users[i].pk
    assert TaskEvent.objects.filter(action="claimed").count() == len(ids)


def test_one_volunteer_racing_many_claims_stays_within_the_limit(
    make_user: Any, make_site: Any, settings: Any
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task

    settings.SPADOK_MAX_CLAIMS = 2
    _campaign, users, tasks = _setup(make_user, make_site, 6, 1)
    (user,) = users

    def claim(i: int) -> str:
        try:
            services.task_claim(actor=user, task_id=tasks[i].pk)
        except SpadokError as exc:
            return exc.code
        return "ok"

    results = _in_threads(len(tasks), claim)
    assert sorted(results) == ["campaign.too_many_claims"] * 4 + ["ok"] * 2
    assert Task.objects.filter(claimed_by=user).count() == 2


def test_a_claim_expires_and_another_volunteer_takes_the_task(
    make_user: Any, make_site: Any
) -> None:
    from spadok.campaigns import selectors, services
    from spadok.campaigns.models import Task, TaskEvent
    from tests.campaigns.conftest import HOME

    campaign, (anna, bohdan), (task,) = _setup(make_user, make_site, 1, 2)
    start = dt.datetime.now(dt.UTC)
    claimed = services.task_claim(actor=anna, task_id=task.pk, now=start)
    assert claimed.claim_expires_at == start + dt.timedelta(hours=campaign.claim_hours)
    with pytest.raises(SpadokError) as taken:
        services.task_claim(actor=bohdan, task_id=task.pk, now=start + dt.timedelta(hours=47))
    assert taken.value.code == "campaign.task_taken"
    place = selectors.Place(*HOME)
    assert selectors.tasks_near(user=bohdan, place=place, now=start + dt.timedelta(hours=47)) == []

    later = start + dt.timedelta(hours=campaign.claim_hours, minutes=1)
    assert [n.task.pk for n in selectors.tasks_near(user=bohdan, place=place, now=later)] == [
        task.pk
    ]
    services.task_claim(actor=bohdan, task_id=task.pk, now=later)
    assert Task.objects.get(pk=task.pk).claimed_by_id == bohdan.pk
    actions = list(
        TaskEvent.objects.filter(task=task).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["added", "claimed", "expired", "claimed"]


def test_the_expiry_job_clears_run_out_claims_once(make_user: Any, make_site: Any) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task, TaskEvent

    _campaign, (anna,), (first, second) = _setup(make_user, make_site, 2, 1)
    start = dt.datetime.now(dt.UTC)
    services.task_claim(actor=anna, task_id=first.pk, now=start - dt.timedelta(hours=49))
    services.task_claim(actor=anna, task_id=second.pk, now=start)
    assert services.claims_expire(now=start) == 1
    assert services.claims_expire(now=start) == 0
    assert Task.objects.get(pk=first.pk).claimed_by_id is None
    assert Task.objects.get(pk=second.pk).claimed_by_id == anna.pk
    assert TaskEvent.objects.filter(action="expired", task=first).count() == 1


def test_release_gives_the_task_back(make_user: Any, make_site: Any) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task

    _campaign, (anna, bohdan), (task,) = _setup(make_user, make_site, 1, 2)
    services.task_claim(actor=anna, task_id=task.pk)
    with pytest.raises(SpadokError) as other:
        services.task_release(actor=bohdan, task_id=task.pk)
    assert other.value.code == "campaign.not_claimed"
    services.task_release(actor=anna, task_id=task.pk)
    assert Task.objects.get(pk=task.pk).claimed_by_id is None
    services.task_claim(actor=bohdan, task_id=task.pk)
    assert Task.objects.get(pk=task.pk).claimed_by_id == bohdan.pk


def test_a_campaign_hands_out_tasks_only_between_its_dates(make_user: Any, make_site: Any) -> None:
    from spadok.campaigns import selectors, services
    from spadok.campaigns.models import Campaign
    from tests.campaigns.conftest import HOME

    campaign, (anna,), (task,) = _setup(make_user, make_site, 1, 1)
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 5, 31)
    )
    place = selectors.Place(*HOME)
    for day, opens in ((dt.date(2026, 2, 28), False), (dt.date(2026, 4, 1), True),
                       (dt.date(2026, 6, 1), False)):  # fmt: skip
        now = dt.datetime.combine(day, dt.time(12), dt.UTC)
        near = selectors.tasks_near(user=anna, place=place, now=now)
        assert [n.task.pk for n in near] == ([task.pk] if opens else []), day
        if not opens:
            with pytest.raises(SpadokError) as closed:
                services.task_claim(actor=anna, task_id=task.pk, now=now)
            assert closed.value.code == "campaign.closed"
            assert ("starts on" if day.month == 2 else "ended on") in closed.value.message
    claimed = services.task_claim(
        actor=anna, task_id=task.pk, now=dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)
    )
    assert claimed.claimed_by_id == anna.pk

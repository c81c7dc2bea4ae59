"""Tasks follow the captures: a capture described as the task's site completes it, a
poor verdict (a reviewer's request, a failed processing, a poor reconstruction)
opens it again, and the review queue flags a capture of a site already well covered.

The catalogue's real services are used (describe, review, processing); the job they
queue runs at once (ImmediateBackend), after the commit.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.testdata import data

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting(people: dict[str, Any], make_site: Any, campaign: Any) -> dict[str, Any]:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task

    church = make_site("St Nicholas church", 2)
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[church.pk])
    services.campaign_join(actor=people["anna"], campaign=campaign)
    task = Task.objects.get(site=church)
    services.task_claim(actor=people["anna"], task_id=task.pk)
    return {"church": church, "task": task, "campaign": campaign}


def _draft_capture(make_capture: Any, user: Any, **fields: Any) -> Any:
    from spadok.catalogue.models import Record, Visibility

    record = Record.objects.create(title="New scan", visibility=Visibility.DRAFT)
    return make_capture(record=record, contributor=user, **fields)


def _describe(capture: Any, user: Any, site: Any) -> None:
    from spadok.catalogue.contributions import capture_describe

    capture_describe(
        actor=user,
        capture=capture,
        title="St Nicholas",
        licence="cc-by-4.0",
        consent=True,
        site=site,
    )


def test_describing_a_capture_as_the_sites_completes_the_task(
    people: dict[str, Any],
    setting: dict[str, Any],
    make_capture: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from spadok.campaigns.models import SiteStatus, Task, TaskEvent, TaskState

    capture = _draft_capture(make_capture, people["anna"])
    with django_capture_on_commit_callbacks(execute=True):
        _describe(capture, people["anna"], setting["church"])
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.DONE
    assert task.capture_id == capture.pk and task.completed_by_id == people["anna"].pk
    assert task.verdict == "usable"  # processed, not reviewed yet
    assert task.claimed_by_id is None  # the claim is over
    assert TaskEvent.objects.filter(task=task, action="completed", capture=capture).count() == 1
    status = SiteStatus.objects.get(site=setting["church"])
    assert (status.captures, status.best_verdict) == (1, "usable")

    # Running the job again changes nothing.
    from spadok.campaigns.services import capture_sync

    assert capture_sync(capture_id=capture.pk) == {}
    assert TaskEvent.objects.filter(task=task, action="completed").count() == 1


def test_a_request_for_a_new_capture_opens_the_task_again_for_its_volunteer(
    people: dict[str, Any],
    setting: dict[str, Any],
    make_capture: Any,
    client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from spadok.campaigns.models import Task, TaskState
    from spadok.catalogue.contributions import review_decide

    capture = _draft_capture(make_capture, people["anna"])
    with django_capture_on_commit_callbacks(execute=True):
        _describe(capture, people["anna"], setting["church"])
    assert Task.objects.get(pk=setting["task"].pk).state == TaskState.DONE
    with django_capture_on_commit_callbacks(execute=True):
        review_decide(
            actor=people["reviewer"],
            capture=capture,
            decision="recapture",
            reason="The north wall is missing: walk all the way round.",
        )
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.OPEN and task.verdict == "poor" and task.reopened == 1
    assert task.claimed_by_id == people["anna"].pk  # handed back for another try
    page = client_for(people["anna"]).get(task.get_absolute_url())
    body = page.content.decode()
    assert "data-recapture" in body and "The north wall is missing" in body


def test_failed_processing_reopens_the_task(
    people: dict[str, Any],
    setting: dict[str, Any],
    make_capture: Any,
    tmp_path: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from spadok.campaigns.models import Task, TaskState
    from spadok.catalogue.models import Capture, CaptureState
    from spadok.catalogue.services import capture_process

    whole = data("awkward", "trimesh_models", "fuze.ply").read_bytes()
    broken = tmp_path / "fuze.ply"
    broken.write_bytes(whole[: len(whole) // 2])  # cut off half-way, as a dropped upload
    capture = _draft_capture(
        make_capture, people["anna"], original=broken, state=CaptureState.RECEIVED
    )
    with django_capture_on_commit_callbacks(execute=True):
        _describe(capture, people["anna"], setting["church"])
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.DONE and task.verdict == ""  # sent, being processed
    with django_capture_on_commit_callbacks(execute=True):
        assert capture_process(capture_id=capture.pk) == "failed:format.corrupt"
    assert Capture.objects.get(pk=capture.pk).state == CaptureState.FAILED
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.OPEN and task.verdict == "failed"


def test_a_poor_reconstruction_leaves_the_task_wanted(
    people: dict[str, Any],
    setting: dict[str, Any],
    make_capture: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from spadok.campaigns import selectors
    from spadok.campaigns.models import Task, TaskState

    poor = _draft_capture(
        make_capture, people["anna"], stats={"reconstruction": {"verdict": "poor", "advice": []}}
    )
    with django_capture_on_commit_callbacks(execute=True):
        _describe(poor, people["anna"], setting["church"])
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.OPEN and task.verdict == "poor"
    assert selectors.task_status(task, task.updated_at) == "claimed"  # still Anna's
    # A good capture from someone else then completes it.
    good = _draft_capture(make_capture, people["bohdan"], stats={"verdict": "good"})
    with django_capture_on_commit_callbacks(execute=True):
        _describe(good, people["bohdan"], setting["church"])
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.DONE and task.capture_id == good.pk and task.verdict == "good"
    assert task.completed_by_id == people["bohdan"].pk


def test_a_capture_moved_to_another_site_by_the_reviewer_reopens_the_task(
    people: dict[str, Any],
    setting: dict[str, Any],
    make_capture: Any,
    make_site: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from spadok.campaigns.models import Task, TaskState
    from spadok.catalogue.contributions import review_decide

    elsewhere = make_site("Another church", 40)
    capture = _draft_capture(make_capture, people["anna"])
    with django_capture_on_commit_callbacks(execute=True):
        _describe(capture, people["anna"], setting["church"])
    assert Task.objects.get(pk=setting["task"].pk).state == TaskState.DONE
    with django_capture_on_commit_callbacks(execute=True):
        review_decide(
            actor=people["reviewer"],
            capture=capture,
            decision="approve",
            visibility="public",
            site=elsewhere,
        )
    task = Task.objects.get(pk=setting["task"].pk)
    assert task.state == TaskState.OPEN and task.reopened == 1


def test_an_old_capture_does_not_complete_a_new_task(
    people: dict[str, Any], make_site: Any, campaign: Any, capture_of: Any
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task, TaskState

    site = make_site("Scanned in 2023", 4)
    old = capture_of(site, verdict="good", days_ago=800)
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[site.pk])
    services.capture_sync(capture_id=old.pk)
    task = Task.objects.get(site=site)
    assert task.state == TaskState.OPEN  # the site is covered, but not by this campaign
    assert task.site.campaign_status.best_verdict == "good"


def test_the_review_queue_flags_a_capture_of_a_site_with_good_captures(
    people: dict[str, Any],
    make_site: Any,
    make_capture: Any,
    capture_of: Any,
    client_for: Any,
) -> None:
    from spadok.catalogue.contributions import review_decide

    covered = make_site("Well covered cathedral", 3)
    first = capture_of(covered, verdict="good", days_ago=20)
    approved = capture_of(covered, days_ago=10)  # good because a reviewer approved it
    usable_only = capture_of(covered, days_ago=5)  # neither: not shown beside
    review_decide(
        actor=people["reviewer"], capture=approved, decision="approve", visibility="public"
    )
    fresh = make_site("Nobody scanned this yet", 9)

    repeat = _draft_capture(make_capture, people["anna"])
    _describe(repeat, people["anna"], covered)
    new = _draft_capture(make_capture, people["bohdan"])
    _describe(new, people["bohdan"], fresh)

    body = client_for(people["reviewer"]).get("/review/").content.decode()
    block = body.split(f'data-duplicates="{repeat.pk}"', 1)[1].split("</div>", 1)[0]
    assert (
        f'data-duplicate-of="{first.pk}"' in block and f'data-duplicate-of="{approved.pk}"' in block
    )
    assert usable_only.pk not in block
    assert f'data-duplicates="{new.pk}"' not in body
    assert body.count('data-flag="duplicate"') == 1

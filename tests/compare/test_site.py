"""Comparisons in the archive: the job, its idempotence, the nudge, and who may see what."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.compare import cases

pytestmark = pytest.mark.django_db


def _jobs(comparison_id: str) -> list[Any]:
    from django_tasks_db.models import DBTaskResult

    return [j for j in DBTaskResult.objects.all() if comparison_id in j.args_kwargs["args"]]


def _run(comparison: Any) -> str:
    from spadok.compare.tasks import run_comparison

    return str(run_comparison.call(comparison.id))


@pytest.fixture
def done(pair, quick, django_capture_on_commit_callbacks) -> Any:  # type: ignore[no-untyped-def]
    """The pair's comparison, made by its job."""
    from spadok.compare import services

    before, after = pair
    with django_capture_on_commit_callbacks(execute=True):
        comparison = services.comparison_request(before=before, after=after, params=quick)
    assert _run(comparison) == "done"
    comparison.refresh_from_db()
    return comparison


# -- the job ----------------------------------------------------------------------------------


def test_asking_twice_gives_one_comparison_and_one_job(  # type: ignore[no-untyped-def]
    pair, quick, django_capture_on_commit_callbacks
) -> None:
    from spadok.compare import services
    from spadok.compare.models import Comparison

    before, after = pair
    with django_capture_on_commit_callbacks(execute=True):
        first = services.comparison_request(before=before, after=after, params=quick)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.comparison_request(before=before, after=after, params=quick)
    assert first.id == again.id and Comparison.objects.count() == 1
    (job,) = _jobs(first.id)
    assert job.task_path == "spadok.compare.tasks.run_comparison"


def test_the_job_measures_the_dent_and_running_it_again_changes_nothing(  # type: ignore[no-untyped-def]
    done, dent_files
) -> None:
    from spadok.catalogue.storage import get_storage
    from spadok.compare.models import Comparison, ComparisonState
    from spadok.compare.tasks import run_comparison

    assert done.state == ComparisonState.READY and done.error_code == ""
    report = done.report
    assert report["verdict"] == "changed"
    assert report["lost_volume"] == pytest.approx(dent_files.lost_volume, rel=0.05)
    assert cases.rotation_error_degrees(report["alignment"]["transform"], dent_files) < 0.05
    storage = get_storage()
    assert set(done.files) == {"heatmap", "before", "after", "report"}
    for item in done.files.values():
        assert item["key"].startswith(f"extensions/spadok-comparisons/{done.id}/")
        assert storage.digest(item["key"], "sha256") == item["sha256"]
    files = dict(done.files)
    assert str(run_comparison.call(done.id)) == "already-done"
    done.refresh_from_db()
    assert done.files == files and Comparison.objects.count() == 1


def test_captures_that_do_not_align_fail_with_a_code(  # type: ignore[no-untyped-def]
    capture_of, quick
) -> None:
    from spadok.catalogue.models import Record
    from spadok.compare import services
    from spadok.compare.models import ComparisonState

    record = Record.objects.create(title="Two things")
    comparison = services.comparison_request(
        before=capture_of(cases.data(*cases.GARGOYLE), record),
        after=capture_of(cases.data(*cases.BUNNY), record),  # 1300 times smaller
        params=quick,
    )
    assert _run(comparison) == "failed:compare.not_aligned"
    comparison.refresh_from_db()
    assert comparison.state == ComparisonState.FAILED
    assert comparison.error_code == "compare.not_aligned" and "nudge" in comparison.error_message
    assert comparison.files == {} and comparison.report["verdict"] == "failed"
    assert _run(comparison) == "failed:compare.not_aligned"  # the same inputs, the same verdict


def test_a_capture_is_not_compared_with_itself(pair, quick) -> None:  # type: ignore[no-untyped-def]
    from spadok.compare import services
    from spadok.core.errors import SpadokError

    with pytest.raises(SpadokError) as err:
        services.comparison_request(before=pair[0], after=pair[0], params=quick)
    assert err.value.code == "compare.not_comparable"


# -- the nudge ----------------------------------------------------------------------------------


def test_a_nudge_queues_a_new_comparison_from_the_alignment(  # type: ignore[no-untyped-def]
    ready, make_user, client_for, django_capture_on_commit_callbacks, dent_files
) -> None:
    from spadok.compare.models import Comparison

    client = client_for(make_user("volunteer"))
    url = reverse("compare:nudge", args=[ready.id])
    form = {"tx": "1.5", "ty": "0", "tz": "0", "rx": "0", "ry": "0", "rz": "3", "refine": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form)
    nudged = Comparison.objects.exclude(id=ready.id).get()
    assert response.status_code == 302 and response["Location"] == nudged.get_absolute_url()
    assert nudged.nudged_from_id == ready.id and len(_jobs(nudged.id)) == 1
    assert nudged.params["translate"] == [1.5, 0.0, 0.0] and nudged.params["rotate"] == [0, 0, 3]
    start = [v for row in ready.report["alignment"]["transform"] for v in row]
    assert nudged.params["initial"] == pytest.approx(start)
    assert _run(nudged) == "done"
    nudged.refresh_from_db()
    assert nudged.report["alignment"]["method"] == "nudge+icp"
    assert cases.rotation_error_degrees(nudged.report["alignment"]["transform"], dent_files) < 0.05
    # the same nudge again is the same comparison
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, form)
    assert Comparison.objects.count() == 2
    # bad offsets: a message, nothing queued
    response = client.post(url, {**form, "rx": "720"}, follow=True)
    assert Comparison.objects.count() == 2
    assert b"not valid" in response.content


def test_the_public_cannot_nudge(ready, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for().post(reverse("compare:nudge", args=[ready.id]), {"tx": "1"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# -- who sees what -------------------------------------------------------------------------------


def _urls(comparison: Any) -> list[str]:
    return [
        reverse("compare:comparison", args=[comparison.id]),
        reverse("compare:status", args=[comparison.id]),
        reverse("compare:file", args=[comparison.id, "heatmap"]),
        reverse("compare:file", args=[comparison.id, "report"]),
    ]


def test_a_public_pair_is_shown_to_everyone(ready, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    page, status, glb, report = (client.get(u) for u in _urls(ready))
    assert page.status_code == 200 and status.status_code == 200
    assert glb.status_code == 200 and glb["Content-Type"] == "model/gltf-binary"
    assert b"".join(glb.streaming_content)[:4] == b"glTF"
    assert report.status_code == 200 and "public" in report["Cache-Control"]
    html = page.content.decode()
    for key in ("changed_area", "lost_volume", "added_volume", "rms", "overlap", "threshold"):
        assert f'data-figure="{key}"' in html, key


@pytest.mark.parametrize("how", ["sealed record", "after moved to a sealed record"])
def test_the_public_never_sees_a_comparison_with_a_sealed_capture(  # type: ignore[no-untyped-def]
    ready, client_for, make_user, how
) -> None:
    from spadok.catalogue.models import AccessLog, Capture, Record, Visibility

    reader = make_user("reader", "curator")
    if how == "sealed record":
        record = ready.before.record
        Record.objects.filter(pk=record.pk).update(visibility=Visibility.SEALED)
    else:
        record = Record.objects.create(title="Sealed", visibility=Visibility.SEALED)
        Capture.objects.filter(pk=ready.after_id).update(record=record)
    record.sealed_readers.set([reader])
    for url in _urls(ready):
        assert client_for().get(url).status_code == 404, url
        assert client_for(make_user(f"someone-{len(url)}")).get(url).status_code == 404, url
    page = client_for(reader).get(_urls(ready)[0])
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert AccessLog.objects.filter(user=reader, action="comparison:view").exists()


def test_the_record_page_offers_a_comparison_of_two_captures(  # type: ignore[no-untyped-def]
    pair, client_for
) -> None:
    from spadok.catalogue.models import Capture, CaptureState

    before, _after = pair
    url = before.record.get_absolute_url()
    offer = reverse("compare:record-compare", args=[before.record_id]).encode()
    assert offer in client_for().get(url).content
    Capture.objects.filter(pk=pair[1].pk).update(state=CaptureState.FAILED)
    assert offer not in client_for().get(url).content


def test_the_compare_form(pair, client_for, make_user, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from spadok.compare.models import Comparison

    before, after = pair
    url = reverse("compare:record-compare", args=[before.record_id])
    anonymous = client_for()
    page = anonymous.get(url)
    assert page.status_code == 200 and b"Sign in" in page.content
    assert anonymous.post(url, {"before": before.id, "after": after.id}).status_code == 302
    assert Comparison.objects.count() == 0
    client = client_for(make_user("volunteer"))
    same = client.post(url, {"before": before.id, "after": before.id, "heatmap_on": "after"})
    assert same.status_code == 400 and b"two different captures" in same.content
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(
            url,
            {"before": before.id, "after": after.id, "heatmap_on": "before", "threshold": "0.5"},
        )
    comparison = Comparison.objects.get()
    assert made.status_code == 302 and made["Location"] == comparison.get_absolute_url()
    assert comparison.params["threshold"] == 0.5 and comparison.params["heatmap_on"] == "before"
    page = client.get(comparison.get_absolute_url())
    assert b"data-comparison-status" in page.content and comparison.state == "queued"
    status = client.get(reverse("compare:status", args=[comparison.id])).json()
    assert status["state"] == "queued" and status["progress"] == 0


def test_pages_name_no_contributor_and_no_path(ready, client_for, make_user) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import Capture

    volunteer = make_user("hidden-volunteer")
    Capture.objects.filter(pk=ready.before_id).update(contributor=volunteer)
    page = client_for().get(reverse("compare:comparison", args=[ready.id])).content.decode()
    report = b"".join(client_for().get(_urls(ready)[3]).streaming_content).decode()
    for text in (page, report):
        assert "hidden-volunteer" not in text and "example.org" not in text
        assert "/tmp" not in text and "spadok-compare-" not in text


def test_the_record_page_lists_finished_comparisons_only(ready, client_for) -> None:  # type: ignore[no-untyped-def]
    from spadok.compare.models import Comparison, ComparisonState

    url = ready.before.record.get_absolute_url()
    link = reverse("compare:comparison", args=[ready.id]).encode()
    assert link in client_for().get(url).content
    Comparison.objects.filter(pk=ready.pk).update(state=ComparisonState.FAILED)
    assert link not in client_for().get(url).content

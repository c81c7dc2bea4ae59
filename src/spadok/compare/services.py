"""The write path for comparisons: ask for one, run it, nudge it.

A comparison is a derivative of its two captures and its parameters, and can
always be made again from them: its files (heat map, the two aligned models,
the report) are kept in every storage root beside the OCFL objects, under the
root's extension folder ``extensions/spadok-comparisons/<id>/``, not as
objects of their own (see docs/adr/0010-before-and-after.md).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from spadok.catalogue.models import Capture, CaptureState
from spadok.catalogue.storage import get_storage
from spadok.compare.models import Comparison, ComparisonState
from spadok.core import inputs
from spadok.core.compare import Params, compare_files, parse_params
from spadok.core.errors import SpadokError
from spadok.core.pipeline import file_digests

log = logging.getLogger(__name__)

FILE_PREFIX = "extensions/spadok-comparisons"
FILES = {
    "heatmap": ("heatmap.glb", "model/gltf-binary"),
    "before": ("before.glb", "model/gltf-binary"),
    "after": ("after.glb", "model/gltf-binary"),
    "report": ("report.json", "application/json"),
}
COMPARABLE_KINDS = frozenset({"mesh", "scene", "pointcloud", "splat"})
MAX_ATTEMPTS = 3  # runs that may start before a comparison gives up (a worker that keeps dying)


def comparable(capture: Capture) -> bool:
    """A capture whose geometry a comparison can read: processed, a mesh or points."""
    return capture.state == CaptureState.READY and capture.kind in COMPARABLE_KINDS


def comparison_request(
    *,
    before: Capture,
    after: Capture,
    params: Params,
    requested_by: Any = None,
    nudged_from: Comparison | None = None,
) -> Comparison:
    """The comparison of these captures with these parameters, queued if it is new.

    Asking again for the same one returns it unchanged (one row per pair and
    parameters); one that failed unexpectedly is queued again.
    """
    if before.pk == after.pk:
        raise SpadokError("compare.not_comparable", "a capture cannot be compared with itself")
    for capture in (before, after):
        if not comparable(capture):
            raise SpadokError(
                "compare.not_comparable", f"the capture {capture.id} is not a processed model"
            )
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    with transaction.atomic():
        comparison, made = Comparison.objects.get_or_create(
            before=before,
            after=after,
            params_key=params.key(),
            defaults={
                "params": params.canonical(),
                "requested_by": user,
                "nudged_from": nudged_from,
            },
        )
        again = (
            not made
            and comparison.state == ComparisonState.FAILED
            and comparison.error_code == "processing.failed"
        )
        if again:
            Comparison.objects.filter(id=comparison.id).update(
                state=ComparisonState.QUEUED, attempts=0, error_code="", error_message=""
            )
            comparison.refresh_from_db()
        if made or again:
            transaction.on_commit(lambda: enqueue_comparison(comparison.id))
    return comparison


def comparison_nudge(
    *,
    comparison: Comparison,
    translate: tuple[float, float, float],
    rotate: tuple[float, float, float],
    threshold: float | None,
    refine: bool = True,
    requested_by: Any = None,
) -> Comparison:
    """A new comparison that starts from this one's alignment moved by the offsets."""
    transform = (comparison.report or {}).get("alignment", {}).get("transform")
    if transform is None:
        transform = comparison.params.get("initial")
    data = dict(comparison.params)
    data.update(
        initial=transform,
        translate=list(translate),
        rotate=list(rotate),
        threshold=threshold,
        refine=refine,
    )
    params = parse_params(data)
    return comparison_request(
        before=comparison.before,
        after=comparison.after,
        params=params,
        requested_by=requested_by,
        nudged_from=comparison,
    )


def enqueue_comparison(comparison_id: str) -> None:
    from spadok.compare.tasks import run_comparison

    run_comparison.enqueue(comparison_id)


def _progress_writer(comparison_id: str) -> Any:
    """Progress from the job's own thread only (see catalogue.services._progress_writer)."""
    owner = threading.get_ident()

    def report(step: str, fraction: float) -> None:
        if threading.get_ident() == owner:
            Comparison.objects.filter(id=comparison_id).update(
                step=step[:32], progress=round(fraction, 3)
            )

    return report


def fetch_master(capture: Capture, workdir: Path) -> inputs.Unit:
    """The capture's model file among its originals, fetched from storage into ``workdir``."""
    storage = get_storage()
    src = workdir / "original"
    for item in capture.originals:
        storage.fetch(item["key"], src / item["path"])
    if capture.primary_file and "!" not in capture.primary_file:
        return inputs.Unit(label=capture.primary_file, primary=src / capture.primary_file, root=src)
    found = list(inputs.expand([src / capture.originals[0]["path"]], workdir / "unpacked"))
    units = [u for u in found if isinstance(u, inputs.Unit)]
    if units:
        inner = capture.primary_file.split("!", 1)[-1]
        chosen = [u for u in units if u.primary.relative_to(u.root).as_posix() == inner]
        return (chosen or units)[0]
    failure = next((u for u in found if isinstance(u, inputs.Failed)), None)
    raise failure.error if failure else SpadokError("input.no_model", capture.source_name)


def _fail(comparison_id: str, code: str, message: str, report: dict[str, Any] | None) -> None:
    Comparison.objects.filter(id=comparison_id).update(
        state=ComparisonState.FAILED,
        error_code=code,
        error_message=message,
        report=report or {},
        finished_at=timezone.now(),
    )


def comparison_run(*, comparison_id: str) -> str:
    """Make the comparison's files and report; safe to run any number of times."""
    comparison = Comparison.objects.select_related("before", "after").get(id=comparison_id)
    if comparison.state == ComparisonState.READY and comparison.files:
        return "already-done"
    if comparison.state == ComparisonState.FAILED and comparison.error_code:
        return f"failed:{comparison.error_code}"  # the same inputs fail the same way
    if comparison.attempts >= MAX_ATTEMPTS:
        err = SpadokError(
            "processing.failed", f"the worker stopped in each of {comparison.attempts} attempts"
        )
        _fail(comparison_id, err.code, err.message, None)
        return f"failed:{err.code}"
    Comparison.objects.filter(id=comparison_id).update(
        state=ComparisonState.RUNNING,
        attempts=comparison.attempts + 1,
        step="load",
        progress=0.0,
        error_code="",
        error_message="",
    )
    workdir = Path(tempfile.mkdtemp(prefix="spadok-compare-"))
    try:
        before = fetch_master(comparison.before, workdir / "before")
        after = fetch_master(comparison.after, workdir / "after")
        out = workdir / "out"
        report = compare_files(
            before.primary,
            after.primary,
            out,
            parse_params(comparison.params),
            before_root=before.root,
            after_root=after.root,
            limits=settings.SPADOK.limits,
            progress=_progress_writer(comparison_id),
        )
        data = _public_report(report.as_dict())
        if report.verdict == "failed":
            error = report.error or {"code": "processing.failed", "message": ""}
            _fail(comparison_id, error["code"], error["message"], data)
            return f"failed:{error['code']}"
        (out / "report.json").write_text(_json(data), "utf-8")
        files = _store(comparison_id, out)
        with transaction.atomic():
            Comparison.objects.select_for_update().filter(id=comparison_id).first()
            Comparison.objects.filter(id=comparison_id).update(
                state=ComparisonState.READY,
                report=data,
                files=files,
                step="done",
                progress=1.0,
                finished_at=timezone.now(),
            )
        return "done"
    except SpadokError as exc:
        _fail(comparison_id, exc.code, exc.message, None)
        return f"failed:{exc.code}"
    except Exception as exc:
        log.exception("comparison %s failed", comparison_id)
        err = SpadokError("processing.failed", type(exc).__name__)
        _fail(comparison_id, err.code, err.message, None)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _json(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, indent=2)


def _public_report(data: dict[str, Any]) -> dict[str, Any]:
    """The report as pages and downloads show it: file names only, never a path of ours."""
    for side in ("before", "after"):
        if isinstance(data.get(side), dict) and "name" in data[side]:
            data[side]["name"] = Path(str(data[side]["name"])).name
    return data


def _store(comparison_id: str, out: Path) -> dict[str, Any]:
    storage = get_storage()
    files: dict[str, Any] = {}
    for role, (name, mime) in FILES.items():
        path = out / name
        key = f"{FILE_PREFIX}/{comparison_id}/{name}"
        storage.put_file(key, path)
        files[role] = {
            "key": key,
            "size": path.stat().st_size,
            "sha256": file_digests(path, ("sha256",))["sha256"],
            "mime": mime,
        }
    return files

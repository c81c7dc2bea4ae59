"""The write path for records, captures and derivatives.

Every change to the catalogue goes through these functions. Files reach
storage before the rows that point at them are committed, so a crash leaves
at worst unreferenced files (which the audit reports), never a row that
points at nothing; a failed ingest deletes what it wrote.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from spadok.catalogue.models import Capture, CaptureState, Derivative, Record
from spadok.catalogue.storage import get_storage
from spadok.core import inputs, pipeline
from spadok.core.derive.policy import POLICY_NAME, POLICY_VERSION, DerivativeFile
from spadok.core.errors import SpadokError

log = logging.getLogger(__name__)

POLICY = f"{POLICY_NAME}/{POLICY_VERSION}"
MAX_PROCESS_ATTEMPTS = 3  # runs of capture_process that may start before it gives up


def original_key(capture_id: str, relpath: str) -> str:
    return f"captures/{capture_id}/original/{relpath}"


def derivative_key(capture_id: str, filename: str) -> str:
    return f"captures/{capture_id}/derivatives/{POLICY_NAME}-{POLICY_VERSION}/{filename}"


@dataclass
class Original:
    """One original file to keep: where it is now and its name inside the capture."""

    path: Path
    relpath: str


def originals_for(unit: inputs.Unit, files: list[Path]) -> tuple[list[Original], str]:
    """The files to keep byte for byte, and the name of the model among them.

    A zip that held exactly one model is kept whole, as the volunteer sent it.
    """
    if unit.container is not None and unit.container_units == 1:
        inner = unit.primary.relative_to(unit.root).as_posix()
        return [Original(unit.container, unit.container.name)], f"{unit.container.name}!{inner}"
    root = unit.root.resolve()
    out: list[Original] = []
    for path in files:
        resolved = path.resolve()
        rel = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path.name
        if not any(o.relpath == rel for o in out):
            out.append(Original(resolved, rel))
    return out, out[0].relpath


def _store_originals(capture_id: str, originals: list[Original]) -> list[dict[str, Any]]:
    storage = get_storage()
    stored = []
    for orig in originals:
        digests = pipeline.file_digests(orig.path)
        key = original_key(capture_id, orig.relpath)
        storage.put_file(key, orig.path)
        stored.append(
            {
                "path": orig.relpath,
                "key": key,
                "size": orig.path.stat().st_size,
                "sha256": digests["sha256"],
                "sha512": digests["sha512"],
            }
        )
    return stored


def _store_derivatives(capture_id: str, files: list[DerivativeFile]) -> list[dict[str, Any]]:
    storage = get_storage()
    rows = []
    for d in files:
        key = derivative_key(capture_id, d.path.name)
        digests = pipeline.file_digests(d.path, ("sha256",))
        storage.put_file(key, d.path)
        rows.append(
            {
                "role": d.role,
                "key": key,
                "mime": d.mime,
                "size": d.path.stat().st_size,
                "sha256": digests["sha256"],
                "tool": d.tool[:300],
                "params": d.params,
                "stats": d.stats,
            }
        )
    return rows


def _delete_keys(keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            log.warning("could not remove %s after a failed ingest", key, exc_info=True)


def _title_for(unit: inputs.Unit) -> str:
    stem = Path(unit.label.split("!")[-1]).stem.replace("_", " ").strip()
    return stem[:300] or "Untitled scan"


def capture_ingest(
    *,
    unit: inputs.Unit,
    record: Record | None = None,
    title: str | None = None,
    progress: pipeline.ProgressFn | None = None,
) -> Capture:
    """Ingest one model found on this machine: process, store, then file it.

    Raises :class:`SpadokError` for bad input, in which case nothing is kept.
    """
    limits = settings.SPADOK.limits
    workdir = Path(tempfile.mkdtemp(prefix="spadok-ingest-"))
    written: list[str] = []
    try:
        processed = pipeline.process(
            unit.primary, workdir, root=unit.root, limits=limits, progress=progress
        )
        originals, primary_name = originals_for(unit, processed.asset.files)
        capture = Capture(
            kind=processed.asset.kind,
            format=processed.asset.format,
            source_name=unit.label[:500],
            primary_file=primary_name[:500],
            stats=processed.stats,
            timings=processed.timings,
            state=CaptureState.READY,
            step="done",
            progress=1.0,
            attempts=1,
        )
        stored = _store_originals(capture.id, originals)
        written += [s["key"] for s in stored]
        rows = _store_derivatives(capture.id, processed.derivatives)
        written += [r["key"] for r in rows]
        with transaction.atomic():
            if record is None:
                record = Record.objects.create(title=title or _title_for(unit))
            capture.record = record
            capture.originals = stored
            capture.save(force_insert=True)
            Derivative.objects.bulk_create(
                [Derivative(capture=capture, policy=POLICY, **row) for row in rows]
            )
        return capture
    except BaseException:
        _delete_keys(written)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def capture_create_received(*, record: Record, files: list[Original], source_name: str) -> Capture:
    """File a capture whose originals arrived (e.g. an upload) and queue its processing."""
    capture = Capture(record=record, source_name=source_name[:500], state=CaptureState.RECEIVED)
    stored = _store_originals(capture.id, files)
    try:
        with transaction.atomic():
            capture.originals = stored
            capture.primary_file = stored[0]["path"] if stored else ""
            capture.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_processing(capture.id))
    except BaseException:
        _delete_keys([s["key"] for s in stored])
        raise
    return capture


def enqueue_processing(capture_id: str) -> None:
    from spadok.catalogue.tasks import process_capture

    process_capture.enqueue(capture_id)


def _set_progress(capture_id: str, step: str, fraction: float) -> None:
    Capture.objects.filter(id=capture_id).update(step=step, progress=round(fraction, 3))


def _progress_writer(capture_id: str) -> pipeline.ProgressFn:
    """Record progress from the processing thread only.

    The pipeline may report from its helper threads; each thread would open
    its own database connection (left open afterwards, and blocked by the
    job's transaction in tests), so those reports are skipped: progress is
    a hint, the next report from the job's thread brings it up to date.
    """
    owner = threading.get_ident()

    def report(step: str, fraction: float) -> None:
        if threading.get_ident() == owner:
            _set_progress(capture_id, step, fraction)

    return report


def capture_process(*, capture_id: str) -> str:
    """Make the derivatives of a stored capture; safe to run any number of times."""
    capture = Capture.objects.get(id=capture_id)
    if capture.state == CaptureState.READY and capture.derivatives.filter(policy=POLICY).exists():
        return "already-done"
    if capture.attempts >= MAX_PROCESS_ATTEMPTS:
        # Each attempt counts before it starts, so a capture that kills its
        # worker (out of memory, say) ends here instead of looping forever.
        err = SpadokError(
            "processing.failed", f"the worker stopped in each of {capture.attempts} attempts"
        )
        Capture.objects.filter(id=capture_id).update(
            state=CaptureState.FAILED, error_code=err.code, error_message=err.message
        )
        return f"failed:{err.code}"
    Capture.objects.filter(id=capture_id).update(
        state=CaptureState.PROCESSING,
        attempts=capture.attempts + 1,
        error_code="",
        error_message="",
    )
    storage = get_storage()
    workdir = Path(tempfile.mkdtemp(prefix="spadok-process-"))
    try:
        src = workdir / "original"
        for item in capture.originals:
            storage.fetch(item["key"], src / item["path"])
        found = [u for u in inputs.expand([src / capture.originals[0]["path"]], workdir)]
        if capture.primary_file and "!" not in capture.primary_file:
            found = [
                inputs.Unit(
                    label=capture.primary_file, primary=src / capture.primary_file, root=src
                )
            ]
        units = [u for u in found if isinstance(u, inputs.Unit)]
        if not units:
            failure = next((u for u in found if isinstance(u, inputs.Failed)), None)
            raise failure.error if failure else SpadokError("input.no_model", capture.source_name)
        unit = units[0]
        processed = pipeline.process(
            unit.primary,
            workdir / "work",
            root=unit.root,
            limits=settings.SPADOK.limits,
            progress=_progress_writer(capture_id),
        )
        rows = _store_derivatives(capture_id, processed.derivatives)
        with transaction.atomic():
            # Two runs of one job (a worker presumed dead that was not) finish
            # one after the other instead of colliding on the unique constraint.
            Capture.objects.select_for_update().filter(id=capture_id).first()
            Derivative.objects.filter(capture_id=capture_id, policy=POLICY).delete()
            Derivative.objects.bulk_create(
                [Derivative(capture_id=capture_id, policy=POLICY, **row) for row in rows]
            )
            Capture.objects.filter(id=capture_id).update(
                state=CaptureState.READY,
                kind=processed.asset.kind,
                format=processed.asset.format,
                stats=processed.stats,
                timings=processed.timings,
                step="done",
                progress=1.0,
            )
        return "done"
    except SpadokError as exc:
        Capture.objects.filter(id=capture_id).update(
            state=CaptureState.FAILED, error_code=exc.code, error_message=exc.message
        )
        return f"failed:{exc.code}"
    except Exception as exc:
        log.exception("processing %s failed", capture_id)
        err = SpadokError("processing.failed", type(exc).__name__)
        Capture.objects.filter(id=capture_id).update(
            state=CaptureState.FAILED, error_code=err.code, error_message=err.message
        )
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

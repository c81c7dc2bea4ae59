"""The write path for records, captures and derivatives.

Every change to the catalogue goes through these functions. A capture is
an OCFL object (see :mod:`spadok.preservation.services`); its files reach
storage, as a committed version, before the rows that point at them, so a
crash leaves at worst a complete object the catalogue does not list yet
(``spadok rebuild-index`` files it), never a row that points at nothing.
Bad input fails before anything is stored.
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
from django.utils import timezone

from spadok.catalogue.contributions import contributor_metadata
from spadok.catalogue.models import Capture, CaptureState, Derivative, Record, Visibility
from spadok.catalogue.reconstruction import reconstruct_capture
from spadok.catalogue.signals import send_capture_changed
from spadok.catalogue.storage import get_storage
from spadok.core import inputs, pipeline
from spadok.core.derive.policy import POLICY_NAME, POLICY_VERSION, DerivativeFile, policy_table
from spadok.core.errors import SpadokError
from spadok.core.reconstruct.detect import capture_kind
from spadok.evidence.services import custody_append, custody_files
from spadok.preservation import services as preservation
from spadok.preservation.models import EventType, Outcome, PreservationEvent
from spadok.search.index import refresh_records

log = logging.getLogger(__name__)

POLICY = f"{POLICY_NAME}/{POLICY_VERSION}"
MAX_PROCESS_ATTEMPTS = 3  # runs of capture_process that may start before it gives up


ORIGINAL_DIR = "original/"
DERIVATIVE_DIR = f"derivatives/{POLICY_NAME}-{POLICY_VERSION}/"


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


def _keep_originals(
    capture: Capture,
    originals: list[Original],
    digests: dict[str, dict[str, str]] | None = None,
) -> list[PreservationEvent]:
    """Write the originals as v1 of the capture's object; fill ``capture.originals``.

    ``digests`` (relpath -> {"sha256": .., and perhaps "sha512": ..}) are digests
    taken when the files arrived: storage checks its copy against them while writing it.
    """
    now = timezone.now()
    arrival = {
        "capture": capture.id,
        "record": capture.record.id,
        "title": capture.record.title,
        "source": capture.source_name,
        "received_at": now.isoformat(),
        "files": [{"path": o.relpath, "size": o.path.stat().st_size} for o in originals],
    }
    facts = preservation.object_create(
        object_id=capture.id,
        originals=[(o.path, o.relpath) for o in originals],
        arrival=arrival,
        digests=digests,
    )
    capture.originals = [{"path": o.relpath, **facts[ORIGINAL_DIR + o.relpath]} for o in originals]
    total = sum(int(o["size"]) for o in capture.originals)
    return [
        _event(
            capture.id,
            EventType.INGESTION,
            f"{len(originals)} original file(s), {total:,} bytes",
            now,
        ),
        _event(
            capture.id,
            EventType.MESSAGE_DIGEST,
            "sha512 and sha256 of every original, as written",
            now,
            {o["path"]: o["sha512"] for o in capture.originals},
        ),
    ]


def _event(
    object_id: str,
    event_type: str,
    detail: str,
    when: Any,
    data: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
) -> PreservationEvent:
    """An event not yet saved: it goes into the object first, then into the database."""
    return PreservationEvent(
        object_id=object_id,
        event_type=event_type,
        outcome=outcome,
        detail=detail,
        data=data or {},
        agent=preservation.AGENT,
        occurred_at=when,
        in_object=True,
    )


def _site_metadata(record: Record) -> dict[str, Any] | None:
    site = record.site
    if site is None:
        return None
    return {"id": site.id, "wikidata": site.wikidata, "names": site.names}


def capture_metadata(capture: Capture, derivatives: list[Derivative]) -> dict[str, Any]:
    """The descriptive record kept inside the object: enough to rebuild the catalogue."""
    record = capture.record
    return {
        "spadok": preservation.AGENT,
        "record": {
            "id": record.id,
            "title": record.title,
            "description": record.description,
            "visibility": record.visibility,
            "embargo_until": record.embargo_until.isoformat() if record.embargo_until else None,
            "created_at": record.created_at.isoformat() if record.created_at else None,
            # The site it documents: its id, and its Wikidata id and names so that a
            # rebuilt catalogue can re-link it even to a registry imported afresh.
            "site": _site_metadata(record),
        },
        "capture": {
            "id": capture.id,
            "record": record.id,
            "created_at": capture.created_at.isoformat() if capture.created_at else None,
            "kind": capture.kind,
            "format": capture.format,
            "state": capture.state,
            "source_name": capture.source_name,
            "primary_file": capture.primary_file,
            "originals": [
                {k: o[k] for k in ("path", "size", "sha256", "sha512")} for o in capture.originals
            ],
            "stats": capture.stats,
            "timings": capture.timings,
            "description": _description(capture),
            "contributor": contributor_metadata(capture),  # pseudonymous; name only if credited
        },
        "derivatives": [
            {
                "role": d.role,
                "policy": d.policy,
                "path": DERIVATIVE_DIR + d.key.rsplit("/", 1)[-1],
                "mime": d.mime,
                "size": d.size,
                "sha256": d.sha256,
                "tool": d.tool,
                "params": d.params,
                "stats": d.stats,
            }
            for d in derivatives
        ],
        "policy": policy_table(),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _description(capture: Capture) -> dict[str, Any]:
    """What the contributor said (the archive keeps the exact location; pages do not show it)."""
    return {
        "captured_at": _iso(capture.captured_at),
        "latitude": capture.latitude,
        "longitude": capture.longitude,
        "location_precision_m": capture.location_precision_m,
        "location_source": capture.location_source,
        "licence": capture.licence,
        "consent_at": _iso(capture.consent_at),
        "flag_private_interior": capture.flag_private_interior,
        "flag_faces": capture.flag_faces,
    }


def _add_derivatives(
    capture: Capture, files: list[DerivativeFile], events: list[PreservationEvent]
) -> list[Derivative]:
    """Add the derivatives and the metadata as one new version of the object."""
    now = timezone.now()
    logical = [(d.path, DERIVATIVE_DIR + d.path.name) for d in files]
    rows = [
        Derivative(
            capture_id=capture.id,
            policy=POLICY,
            role=d.role,
            key="",
            mime=d.mime,
            size=d.path.stat().st_size,
            sha256="",
            tool=d.tool[:300],
            params=d.params,
            stats=d.stats,
        )
        for d in files
    ]
    events.append(
        _event(
            capture.id,
            EventType.CREATION,
            f"{len(files)} derivative(s) by policy {POLICY}",
            now,
            {"roles": [d.role for d in files], "tools": sorted({d.tool for d in files})},
        )
    )
    for row, d in zip(rows, files, strict=True):
        row.sha256 = pipeline.file_digests(d.path, ("sha256",))["sha256"]
        row.key = DERIVATIVE_DIR + d.path.name  # the logical path until the keys are known
    history = [e.as_premis() for e in [*preservation.events_of(capture.id), *events]]
    facts = preservation.object_add_files(
        object_id=capture.id,
        files=logical,
        message=f"derivatives by policy {POLICY}, with the record and its events",
        record=capture_metadata(capture, rows),
        events=history,
    )
    for row, (_path, lp) in zip(rows, logical, strict=True):
        row.key = facts[lp]["key"]
    return rows


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
    """Ingest one model found on this machine: process, preserve, then file it.

    Raises :class:`SpadokError` for bad input, in which case nothing is kept:
    the model is read and its derivatives made before anything is stored.
    """
    limits = settings.SPADOK.limits
    workdir = Path(tempfile.mkdtemp(prefix="spadok-ingest-"))
    try:
        processed = pipeline.process(
            unit.primary, workdir, root=unit.root, limits=limits, progress=progress
        )
        originals, primary_name = originals_for(unit, processed.asset.files)
        if record is None:
            record = Record(title=title or _title_for(unit))
            new_record = True
        else:
            new_record = False
        capture = Capture(
            record=record,
            kind=processed.asset.kind,
            format=processed.asset.format,
            source_name=unit.public_name[:500],
            primary_file=primary_name[:500],
            stats=processed.stats,
            timings=processed.timings,
            state=CaptureState.READY,
            step="done",
            progress=1.0,
            attempts=1,
            created_at=timezone.now(),
        )
        events = _keep_originals(capture, originals)
        events.append(_validation_event(capture, processed))
        rows = _add_derivatives(capture, processed.derivatives, events)
        with transaction.atomic():
            if new_record:
                record.save(force_insert=True)
            capture.save(force_insert=True)
            Derivative.objects.bulk_create(rows)
            PreservationEvent.objects.bulk_create(events)
            custody_append(capture=capture, action="capture.ingested", data=custody_files(capture))
        preservation.replicate(capture.id)
        refresh_records([record.id])
        return capture
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _validation_event(capture: Capture, processed: pipeline.Processed) -> PreservationEvent:
    asset = processed.asset
    return _event(
        capture.id,
        EventType.VALIDATION,
        f"identified as {asset.format} ({asset.kind}) and read in full",
        timezone.now(),
        {"format": asset.format, "warnings": list(asset.warnings)[:20]},
        Outcome.WARNING if asset.warnings else Outcome.SUCCESS,
    )


def record_create(
    *, title: str, visibility: str = Visibility.DRAFT, record_id: str | None = None
) -> Record:
    """A new record with no captures yet (its first capture follows).

    ``record_id``: an id to make it under (see :func:`spadok.catalogue.ids.derived_id`).
    """
    record = Record(
        **({"id": record_id} if record_id else {}),
        title=title.strip()[:300] or "Untitled scan",
        visibility=visibility,
    )
    record.save(force_insert=True)
    refresh_records([record.id])
    return record


def capture_create_received(
    *,
    record: Record,
    files: list[Original],
    source_name: str,
    digests: dict[str, dict[str, str]] | None = None,
    capture_id: str | None = None,
) -> Capture:
    """File a capture whose originals arrived (e.g. an upload) and queue its processing.

    ``digests``: see :func:`_keep_originals` (an upload's arrival digests).
    ``capture_id``: the id to file it under, the same on every try (see
    :func:`spadok.catalogue.ids.derived_id`): a try that died after writing the
    object finds it on the next (with these digests) instead of leaving it behind.
    """
    capture = Capture(
        **({"id": capture_id} if capture_id else {}),
        record=record,
        source_name=source_name[:500],
        state=CaptureState.RECEIVED,
        created_at=timezone.now(),
    )
    events = _keep_originals(capture, files, digests)
    capture.primary_file = capture.originals[0]["path"] if capture.originals else ""
    with transaction.atomic():
        capture.save(force_insert=True)
        PreservationEvent.objects.bulk_create(events)
        transaction.on_commit(lambda: enqueue_processing(capture.id))
    preservation.replicate(capture.id)
    return capture


def capture_write_metadata(*, capture_id: str) -> str | None:
    """Write the capture's record and its events so far into its object."""
    capture = Capture.objects.select_related("record").get(id=capture_id)
    derivatives = list(capture.derivatives.filter(policy=POLICY))
    version = preservation.object_write_metadata(
        object_id=capture_id, record=capture_metadata(capture, derivatives)
    )
    if version is not None:
        preservation.replicate(capture_id)
    return version


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
    custody_append(
        capture=capture, action="processing.started", data={"attempt": capture.attempts + 1}
    )
    storage = get_storage()
    workdir = Path(tempfile.mkdtemp(prefix="spadok-process-"))
    try:
        src = workdir / "original"
        for item in capture.originals:
            storage.fetch(item["key"], src / item["path"])
        whole = src / capture.originals[0]["path"] if len(capture.originals) == 1 else src
        if capture_kind(whole) is not None:
            return _process_reconstruction(capture, whole, workdir)
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
        return _finish_processing(capture, processed, processed.derivatives)
    except SpadokError as exc:
        return _processing_failed(capture, exc)
    except Exception as exc:
        log.exception("processing %s failed", capture_id)
        _processing_failed(capture, SpadokError("processing.failed", type(exc).__name__))
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _process_reconstruction(capture: Capture, source: Path, workdir: Path) -> str:
    """Photos, a video or a LiDAR capture: reconstruct, then derive from the model."""
    made = reconstruct_capture(source, workdir, progress=_progress_writer(capture.id))
    if made.processed is None:
        Capture.objects.filter(id=capture.id).update(stats={"reconstruction": made.summary})
        return _processing_failed(capture, made.error())
    made.processed.stats["reconstruction"] = made.summary
    return _finish_processing(capture, made.processed, made.derivatives, made.summary["kind"])


def _processing_failed(capture: Capture, exc: SpadokError) -> str:
    Capture.objects.filter(id=capture.id).update(
        state=CaptureState.FAILED, error_code=exc.code, error_message=exc.message
    )
    custody_append(capture=capture, action="processing.failed", data={"error": exc.code})
    send_capture_changed(capture.id)
    return f"failed:{exc.code}"


def _finish_processing(
    capture: Capture,
    processed: pipeline.Processed,
    files: list[DerivativeFile],
    capture_format: str | None = None,
) -> str:
    """File the derivatives of a processed capture as one new version, then mark it ready."""
    capture_id = capture.id
    capture.refresh_from_db()
    capture.kind = processed.asset.kind
    capture.format = capture_format or processed.asset.format
    capture.stats = processed.stats
    capture.timings = processed.timings
    capture.state = CaptureState.READY
    capture.step, capture.progress = "done", 1.0
    events = [_validation_event(capture, processed)]
    rows = _add_derivatives(capture, files, events)
    with transaction.atomic():
        # Two runs of one job (a worker presumed dead that was not) finish
        # one after the other instead of colliding on the unique constraint.
        Capture.objects.select_for_update().filter(id=capture_id).first()
        Derivative.objects.filter(capture_id=capture_id, policy=POLICY).delete()
        Derivative.objects.bulk_create(rows)
        PreservationEvent.objects.bulk_create(events)
        Capture.objects.filter(id=capture_id).update(
            state=CaptureState.READY,
            kind=capture.kind,
            format=capture.format,
            stats=capture.stats,
            timings=capture.timings,
            step="done",
            progress=1.0,
        )
        custody_append(
            capture=capture,
            action="processing.finished",
            data={"derivatives": {r.role: r.sha256 for r in rows}},
        )
    preservation.replicate(capture_id)
    refresh_records([capture.record_id])
    send_capture_changed(capture_id)
    return "done"

"""The write path of uploads: create, append, finish (file as a capture), cancel, expire.

An upload's bytes go to a part file under one writer's lock; the row records
what was acknowledged. When the last byte arrives the whole file's sha256,
taken as the bytes arrived, is recorded before anything else touches it, the
upload is marked complete and the job :func:`spadok.uploads.tasks.finish_upload`
is queued; the last PATCH answers at once (filing 2 GB takes longer than
proxies wait). The job files it through
:func:`spadok.catalogue.services.capture_create_received` (an OCFL object whose
copy is hashed as it is written: its sha512, which the inventory is keyed by,
and its sha256, checked against the arrival sha256; then its processing is
queued), notes the stored sha512 on the upload, and deletes the part. The job
is idempotent: a retry after a crash finds the capture already made.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from spadok.catalogue import services as catalogue
from spadok.catalogue.ids import derived_id
from spadok.catalogue.models import Capture, Record, Visibility
from spadok.core import pipeline
from spadok.core.errors import SpadokError
from spadok.core.preservation.ocfl import OcflError
from spadok.evidence.services import custody_append, upload_arrival
from spadok.uploads import parts, selectors
from spadok.uploads.models import Upload, UploadChunk, UploadState
from spadok.uploads.tus import Checksum, safe_filename

log = logging.getLogger(__name__)

RETRY_FILING_AFTER = timedelta(minutes=5)  # the periodic job retries filing after this
ORPHAN_AFTER = timedelta(hours=1)  # files in the uploads folder with no open upload


def paths_of(upload_id: uuid.UUID) -> parts.Paths:
    return parts.Paths(Path(settings.SPADOK.uploads_path), upload_id)


def _expiry() -> Any:
    return timezone.now() + timedelta(hours=settings.SPADOK.upload_expiry_hours)


def upload_create(*, user: Any, length: int, metadata: dict[str, str]) -> Upload:
    """A new, empty upload of ``length`` bytes; checks the size, the quota and the record."""
    cfg = settings.SPADOK
    filename = safe_filename(metadata.get("filename") or metadata.get("name") or "")
    if length > cfg.limits.max_file_bytes:
        raise SpadokError(
            "upload.too_large",
            f"{filename} has {length:,} bytes; the limit is {cfg.limits.max_file_bytes:,}",
        )
    if length == 0:
        raise SpadokError("input.empty", filename)
    used = selectors.bytes_uploaded_today(user=user)
    if used + length > cfg.upload_bytes_per_day:
        raise SpadokError(
            "upload.quota",
            f"{used:,} of {cfg.upload_bytes_per_day:,} bytes used in the last 24 hours, "
            f"and {filename} has {length:,}",
        )
    record = None
    if metadata.get("record"):
        record = selectors.record_for_upload(user=user, record_id=metadata["record"].strip())
    upload = Upload.objects.create(
        user=user,
        filename=filename,
        title=(metadata.get("title") or "").strip()[:300],
        length=length,
        metadata=metadata,
        record=record,
        expires_at=_expiry(),
    )
    paths = paths_of(upload.id)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.part.touch()
    return upload


def upload_append(
    *,
    user: Any,
    upload_id: uuid.UUID,
    offset: int,
    read: Callable[[int], bytes],
    length: int,
    checksum: Checksum | None = None,
) -> Upload:
    """Write one PATCH's body at ``offset``; queue the filing when the last byte arrives.

    Raises ``upload.offset_mismatch`` unless ``offset`` is what the server has,
    checked under the upload's lock, so that of two writers at the same offset
    one wins and the other is told; ``upload.checksum_mismatch`` when the piece
    does not match its ``Upload-Checksum`` (the piece is discarded).
    """
    upload = selectors.upload_for_user(user=user, upload_id=upload_id)
    paths = paths_of(upload.id)
    with parts.locked(paths):
        upload = selectors.upload_for_user(user=user, upload_id=upload_id)  # as of the lock
        if offset != upload.offset:
            raise SpadokError(
                "upload.offset_mismatch",
                f"the request starts at byte {offset:,}, the server has {upload.offset:,}",
            )
        if upload.state != UploadState.UPLOADING:
            if length == 0:
                return upload  # a client asking again at the end
            raise SpadokError("upload.finished", upload.capture_id or str(upload.id))
        if offset + length > upload.length:
            raise SpadokError(
                "upload.exceeds_length",
                f"{offset:,} + {length:,} bytes is more than the file's {upload.length:,}",
            )
        if not paths.part.exists() or paths.part.stat().st_size < offset:
            Upload.objects.filter(id=upload.id).update(
                state=UploadState.EXPIRED, error_code="upload.expired"
            )
            raise SpadokError("upload.expired", f"{upload.id}: its part file is gone")
        running = parts.running_for(paths, offset)
        written = parts.append(
            paths.part, offset, read, expected=length, checksum=checksum, running=running
        )
        now = timezone.now()
        with transaction.atomic():
            if written.length:
                UploadChunk.objects.create(
                    upload=upload,
                    offset=offset,
                    length=written.length,
                    sha256=written.sha256,
                    whole=written.whole,
                    received_at=now,
                )
            Upload.objects.filter(id=upload.id).update(
                offset=F("offset") + written.length, expires_at=_expiry(), updated_at=now
            )
        upload.refresh_from_db()
        if upload.offset == running.offset:  # committed: the next PATCH goes on from here
            parts.keep_running(upload.id, running)
        if written.checksum_ok is False:
            raise SpadokError(
                "upload.checksum_mismatch",
                f"{checksum.algorithm if checksum else ''} of the piece at byte {offset:,}",
            )
        if upload.offset != upload.length:
            return upload
        _complete_locked(upload, paths, running)
    enqueue_finish(upload.id)  # after the lock is released: the job takes it
    return upload


def enqueue_finish(upload_id: uuid.UUID) -> None:
    """Queue the filing job once the upload's new state is committed.

    Should queueing fail, the upload stays complete and
    :func:`uploads_expire` files it after ``RETRY_FILING_AFTER``.
    """
    from spadok.uploads.tasks import finish_upload

    def enqueue() -> None:
        try:
            finish_upload.enqueue(str(upload_id))
        except Exception:
            log.exception(
                "could not queue the filing of upload %s; the periodic job will", upload_id
            )

    transaction.on_commit(enqueue)


def _complete_locked(upload: Upload, paths: parts.Paths, running: parts.Running) -> None:
    """Record the whole file's sha256, before anything else touches it.

    They were taken as the bytes arrived (``running``); the file is read again
    only if that state does not cover it (it always does, unless a bug says otherwise).
    """
    started = time.monotonic()
    parts.forget_running(upload.id)
    if running.offset == upload.length == paths.part.stat().st_size:
        digests = running.digests()
    else:
        log.warning("upload %s: running digests at %s, reading the file", upload.id, running.offset)
        digests = pipeline.file_digests(paths.part, ("sha256",))
    Upload.objects.filter(id=upload.id).update(
        state=UploadState.COMPLETE,
        sha256=digests["sha256"],
        completed_at=timezone.now(),
    )
    upload.refresh_from_db()
    log.info(
        "upload %s complete: %s bytes, digests in %.2fs",
        upload.id,
        upload.length,
        time.monotonic() - started,
    )


def upload_finish(*, upload_id: uuid.UUID) -> Upload:
    """File a complete upload as a capture (again, if an earlier try failed); idempotent."""
    upload = Upload.objects.get(id=upload_id)
    if upload.state != UploadState.COMPLETE:
        return upload  # filed (or given up) already: a retried job has nothing to do
    paths = paths_of(upload.id)
    with parts.locked(paths):
        return _finish_locked(upload, paths)


def _finish_locked(upload: Upload, paths: parts.Paths) -> Upload:
    upload.refresh_from_db()
    if upload.state != UploadState.COMPLETE:
        return upload
    started = time.monotonic()
    paths.folder.mkdir(parents=True, exist_ok=True)
    target = paths.folder / upload.filename
    if paths.part.exists():
        os.replace(paths.part, target)  # the original keeps the name it was sent with
    if not target.exists():
        return _fail(upload, SpadokError("upload.expired", f"{upload.id}: its file is gone"))
    try:
        record = upload.record
        if record is None:
            # Under an id of its own that a retry makes again: a try killed before
            # noting the record leaves no empty record behind.
            record_id = _derived(upload, "r")
            record = Record.objects.filter(id=record_id).first() or catalogue.record_create(
                title=upload.title or _title_from(upload.filename),
                visibility=Visibility.DRAFT,
                record_id=record_id,
            )
            Upload.objects.filter(id=upload.id).update(record=record)
        capture_id = capture_id_for(upload)
        capture = (
            Capture.objects.filter(id=capture_id).first()
            or _capture_already_made(upload)
            or catalogue.capture_create_received(
                record=record,
                files=[catalogue.Original(target, upload.filename)],
                source_name=upload.filename,
                # the arrival sha256: the copy into storage is checked against it as
                # it is written (and its sha512 taken), instead of a read before
                digests={upload.filename: {"sha256": upload.sha256}},
                capture_id=capture_id,
            )
        )
    except OcflError as exc:
        if exc.code != "ocfl.digest_mismatch":
            raise
        # the file in the uploads folder is not the file that arrived: never keep it
        log.error("upload %s: the copy differs from the arrival digests (%s)", upload.id, exc)
        return _fail(upload, SpadokError("upload.digest_mismatch", exc.detail))
    except SpadokError as exc:  # storage down, say: the bytes stay; the job tries again
        log.warning("filing upload %s failed: %s", upload.id, exc)
        Upload.objects.filter(id=upload.id).update(error_code=exc.code, error_message=exc.message)
        upload.refresh_from_db()
        return upload
    if upload.user_id and selectors.has_contributor_field():
        Capture.objects.filter(id=capture.id, contributor__isnull=True).update(
            contributor=upload.user_id
        )
    stored = capture.originals[0] if capture.originals else {}
    if stored.get("sha256") != upload.sha256 or not stored.get("sha512"):
        log.error(
            "upload %s: stored digests %s differ from arrival %s",
            upload.id,
            stored.get("sha256"),
            upload.sha256,
        )
        Upload.objects.filter(id=upload.id).update(capture=capture)
        return _fail(upload, SpadokError("upload.digest_mismatch", f"capture {capture.id}"))
    # the sha512 of the bytes stored, whose sha256 is the one taken on arrival
    Upload.objects.filter(id=upload.id).update(sha512=stored["sha512"])
    upload.refresh_from_db()
    custody_append(
        capture=capture, action="upload.received", actor=upload.user, data=upload_arrival(upload)
    )
    Upload.objects.filter(id=upload.id).update(
        state=UploadState.DONE, capture=capture, error_code="", error_message=""
    )
    paths.remove()
    upload.refresh_from_db()
    log.info(
        "upload %s filed as capture %s in %.2fs", upload.id, capture.id, time.monotonic() - started
    )
    return upload


def capture_id_for(upload: Upload) -> str:
    """The id the upload's capture gets, the same on every try of the filing job.

    A worker killed after writing the object but before the capture row would
    otherwise leave that object behind, and the retry would file a second copy.
    """
    return _derived(upload, "c")


def _derived(upload: Upload, prefix: str) -> str:
    assert upload.completed_at is not None
    key = f"upload:{upload.id}" if prefix == "c" else f"upload:{upload.id}:{prefix}"
    return derived_id(prefix, when=upload.completed_at, key=key)


def _capture_already_made(upload: Upload) -> Capture | None:
    """The capture an earlier try made before it could note it (a crash in between)."""
    if upload.record_id is None or upload.completed_at is None:
        return None
    for capture in Capture.objects.filter(
        record_id=upload.record_id,
        source_name=upload.filename[:500],
        created_at__gte=upload.completed_at,
    ):
        if capture.originals and capture.originals[0].get("sha256") == upload.sha256:
            return capture
    return None


def _fail(upload: Upload, error: SpadokError) -> Upload:
    Upload.objects.filter(id=upload.id).update(
        state=UploadState.FAILED, error_code=error.code, error_message=error.message
    )
    upload.refresh_from_db()
    return upload


def _title_from(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename[1:] else filename
    return stem.replace("_", " ").strip()[:300] or "Untitled scan"


def upload_terminate(*, user: Any, upload_id: uuid.UUID) -> None:
    """Cancel an unfinished upload and delete its bytes (tus termination)."""
    upload = selectors.upload_for_user(user=user, upload_id=upload_id)
    paths = paths_of(upload.id)
    with parts.locked(paths):
        upload = selectors.upload_for_user(user=user, upload_id=upload_id)
        if upload.state == UploadState.DONE:
            raise SpadokError("upload.finished", upload.capture_id or str(upload.id))
        Upload.objects.filter(id=upload.id).update(state=UploadState.TERMINATED)
        paths.remove()


def uploads_expire() -> dict[str, int]:
    """Drop unfinished uploads past their expiry, retry stuck filings, remove orphan files.

    Safe to run at any time and from several workers: an upload being written
    is skipped (its writer holds the lock and extends the expiry).
    """
    now = timezone.now()
    counts = {"expired": 0, "filed": 0, "orphans": 0}
    for upload in Upload.objects.filter(state=UploadState.UPLOADING, expires_at__lte=now):
        paths = paths_of(upload.id)
        try:
            with parts.locked(paths, wait_s=0):
                if Upload.objects.filter(
                    id=upload.id, state=UploadState.UPLOADING, expires_at__lte=now
                ).update(state=UploadState.EXPIRED):
                    paths.remove()
                    counts["expired"] += 1
        except SpadokError:
            continue  # being written right now: not expired after all
    stuck = Upload.objects.filter(
        state=UploadState.COMPLETE, completed_at__lte=now - RETRY_FILING_AFTER
    )
    for upload in stuck:
        try:
            if upload_finish(upload_id=upload.id).state == UploadState.DONE:
                counts["filed"] += 1
        except SpadokError:
            continue
    counts["orphans"] = _remove_orphans(now)
    return counts


def _remove_orphans(now: Any) -> int:
    root = Path(settings.SPADOK.uploads_path)
    if not root.is_dir():
        return 0
    open_states = [UploadState.UPLOADING, UploadState.COMPLETE]
    removed = 0
    for entry in root.iterdir():
        try:
            upload_id = uuid.UUID(entry.name.split(".", 1)[0])
        except ValueError:
            continue
        age = now.timestamp() - entry.stat().st_mtime
        if age < ORPHAN_AFTER.total_seconds():
            continue
        if Upload.objects.filter(id=upload_id, state__in=open_states).exists():
            continue
        paths_of(upload_id).remove()
        removed += 1
    return removed

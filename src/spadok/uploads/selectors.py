"""Reads of uploads, with the access checks the views rely on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, F, Sum, When
from django.utils import timezone

from spadok.catalogue.models import Capture, Record
from spadok.core.errors import SpadokError
from spadok.uploads.models import Upload, UploadState


def upload_for_user(*, user: Any, upload_id: uuid.UUID | str) -> Upload:
    """The user's own upload, still open or finished; another user's is 'not found'."""
    upload = Upload.objects.filter(id=upload_id, user_id=user.pk).first()
    if upload is None or upload.state == UploadState.TERMINATED:
        raise SpadokError("upload.not_found", str(upload_id))
    if upload.state == UploadState.EXPIRED or upload.expired:
        raise SpadokError("upload.expired", str(upload_id))
    return upload


def bytes_uploaded_today(*, user: Any) -> int:
    """Bytes this user started uploading in the last 24 hours.

    An upload counts with its whole length from its creation (the space is
    promised then); one cancelled or expired counts with what it sent.
    """
    since = timezone.now() - timedelta(hours=24)
    stopped = [UploadState.TERMINATED, UploadState.EXPIRED]
    total = Upload.objects.filter(user_id=user.pk, created_at__gte=since).aggregate(
        n=Sum(Case(When(state__in=stopped, then=F("offset")), default=F("length")))
    )["n"]
    return int(total or 0)


def has_contributor_field() -> bool:
    return any(f.name == "contributor" for f in Capture._meta.get_fields())


def record_for_upload(*, user: Any, record_id: str) -> Record:
    """A record this user may add a capture to: staff, or one with a capture of theirs."""
    record = Record.objects.filter(id=record_id).first()
    if record is None:
        raise SpadokError("upload.record_unavailable", record_id)
    if user.is_active and user.is_staff:
        return record
    if Upload.objects.filter(user_id=user.pk, capture__record_id=record.id).exists():
        return record
    if has_contributor_field() and record.captures.filter(contributor_id=user.pk).exists():
        return record
    raise SpadokError("upload.record_unavailable", record_id)


def upload_limits(*, user: Any) -> dict[str, int]:
    cfg = settings.SPADOK
    used = bytes_uploaded_today(user=user)
    return {
        "max_file_bytes": cfg.limits.max_file_bytes,
        "bytes_per_day": cfg.upload_bytes_per_day,
        "bytes_left_today": max(0, cfg.upload_bytes_per_day - used),
    }


def upload_status(upload: Upload) -> dict[str, Any]:
    """What GET /api/uploads/<id> answers."""
    error = None
    if upload.error_code:
        error = {"code": upload.error_code, "message": upload.error_message}
    return {
        "id": str(upload.id),
        "filename": upload.filename,
        "offset": upload.offset,
        "length": upload.length,
        "state": upload.state,
        "capture": upload.capture_id,
        "record": upload.record_id,
        "sha256": upload.sha256 or None,
        "expires_at": upload.expires_at.isoformat()
        if upload.state == UploadState.UPLOADING
        else None,
        "error": error,
    }


__all__ = [
    "bytes_uploaded_today",
    "record_for_upload",
    "upload_for_user",
    "upload_limits",
    "upload_status",
]

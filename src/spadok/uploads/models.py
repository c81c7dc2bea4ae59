"""Resumable uploads: the row is the truth about how many bytes arrived.

The bytes themselves are in a part file under ``settings.SPADOK.uploads_path``
(see :mod:`spadok.uploads.parts`). Writes go through
:mod:`spadok.uploads.services` only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class UploadState(models.TextChoices):
    UPLOADING = "uploading", "uploading"
    COMPLETE = "complete", "every byte arrived; being filed"  # digests recorded, no capture yet
    DONE = "done", "filed as a capture"
    FAILED = "failed", "failed"
    TERMINATED = "terminated", "cancelled by the uploader"
    EXPIRED = "expired", "expired unfinished"


class Upload(models.Model):
    """One file on its way in, from a tus client."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="uploads"
    )
    filename = models.CharField(max_length=255)
    title = models.CharField(max_length=300, blank=True)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict)  # the decoded Upload-Metadata, as sent
    state = models.CharField(
        max_length=16, choices=UploadState.choices, default=UploadState.UPLOADING, db_index=True
    )
    # The record the capture goes to: asked for in the metadata, or made when the
    # last byte arrives (kept here so that a retried filing reuses it).
    record = models.ForeignKey(
        "catalogue.Record", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    capture = models.ForeignKey(
        "catalogue.Capture", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sha256 = models.CharField(max_length=64, blank=True)  # of the whole file, as it arrived
    # of the copy in storage, noted when it is filed (its sha256 is the arrival's)
    sha512 = models.CharField(max_length=128, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="upload_user_created")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.offset}/{self.length}, {self.state})"

    @property
    def expired(self) -> bool:
        return self.state == UploadState.UPLOADING and self.expires_at <= timezone.now()


class UploadChunk(models.Model):
    """One PATCH's bytes as they were written: where, how many, and their sha256."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="chunks")
    offset = models.BigIntegerField()
    length = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    whole = models.BooleanField(default=True)  # False: the client went away mid-piece
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["upload", "offset"]
        indexes = [models.Index(fields=["upload", "offset"], name="uploadchunk_upload_offset")]

    def __str__(self) -> str:
        return f"{self.upload_id} @{self.offset}+{self.length}"

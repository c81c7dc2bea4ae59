"""S3-compatible object storage (AWS, SeaweedFS, MinIO, Ceph...).

All remote-storage calls live in this module. An S3 PUT is atomic by nature:
an object is visible whole or not at all; large files go up in parts.

Write-once option (``?lock=governance|compliance&retention_days=N``): a
``retain=True`` write carries S3 Object Lock headers (mode, and "retain until"
= now + N days), so that version of the object cannot be deleted or changed by
anyone before then, spadok and an intruder with its keys included (COMPLIANCE:
not even the account root; GOVERNANCE: only a principal allowed
``s3:BypassGovernanceRetention``). The bucket must have been created with
Object Lock enabled (that also turns versioning on); this is checked on the
first write. Consequences of a versioned bucket, by S3's rules:

* Writing to a key that holds a retained object adds a new version on top: it
  is allowed, and the retained version stays. (A retry rewrites originals.)
* A DELETE of the plain key only adds a delete marker; the retained version
  stays, readable by its version id. :meth:`S3Storage.delete` does not do that
  to a retained object: it raises :class:`PermissionError`. Listings and reads
  skip delete markers, so to spadok such a key is absent (the audit reports it
  missing and restores it from another root).
* Replaced versions and retained leftovers keep costing storage until their
  retention ends; a lifecycle rule that expires noncurrent versions cleans up.
"""

from __future__ import annotations

import errno
import os
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from spadok.core.storage.base import Storage, check_key, check_prefix

LOCK_MODES = {"governance": "GOVERNANCE", "compliance": "COMPLIANCE"}


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        lock: str | None = None,
        retention_days: int | None = None,
        url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = url or f"s3://{bucket}/{self.prefix}"
        if (lock is None) != (retention_days is None):
            raise ValueError(f"{self.url}: lock and retention_days go together")
        if lock is not None and lock.lower() not in LOCK_MODES:
            raise ValueError(f"{self.url}: lock must be governance or compliance, not {lock!r}")
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"{self.url}: retention_days must be at least 1")
        self.lock_mode = LOCK_MODES[lock.lower()] if lock is not None else None
        self.retention_days = retention_days
        self._lock_checked = False
        self._lock_guard = threading.Lock()
        session = boto3.session.Session(profile_name=profile) if profile else boto3
        self.client = session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                s3={"addressing_style": "path"},
            ),
        )

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parsed = urllib.parse.urlparse(url)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        days = query.get("retention_days")
        return cls(
            parsed.netloc,
            parsed.path,
            endpoint=query.get("endpoint"),
            region=query.get("region"),
            profile=query.get("profile"),
            lock=query.get("lock"),
            retention_days=int(days) if days else None,
            url=url,
        )

    # -- write-once --------------------------------------------------------------------

    def check_lock(self) -> None:
        """With ``lock`` configured: make sure the bucket has Object Lock (once).

        Raises :class:`~spadok.config.ConfigError` when it does not: retained
        writes would otherwise fail one by one (or, on a lax server, not be
        retained at all).
        """
        if self.lock_mode is None or self._lock_checked:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        from spadok.config import ConfigError

        with self._lock_guard:
            if self._lock_checked:
                return
            try:
                found = self.client.get_object_lock_configuration(Bucket=self.bucket)
                enabled = found.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
            except ClientError as exc:
                if _code(exc) not in _NO_LOCK_CODES:
                    raise OSError(f"{self.url}: cannot read the Object Lock set-up: {exc}") from exc
                enabled = None
            except BotoCoreError as exc:
                raise OSError(f"{self.url}: {exc}") from exc
            if enabled != "Enabled":
                raise ConfigError(
                    f"SPADOK_STORAGE: {_plain(self.url)} asks for lock={self.lock_mode.lower()}"
                    f" (write-once originals), but bucket {self.bucket!r} does not have S3"
                    " Object Lock enabled. Create the bucket with Object Lock enabled (aws s3api"
                    " create-bucket --object-lock-enabled-for-bucket; boto3"
                    " ObjectLockEnabledForBucket=True) and use that, or remove lock= and"
                    " retention_days= from the URL to store without retention."
                )
            self._lock_checked = True

    def _lock_args(self, retain: bool) -> dict[str, Any]:
        """The Object Lock parameters of a write (none unless retained and configured)."""
        self.check_lock()
        if not retain or self.lock_mode is None:
            return {}
        assert self.retention_days is not None
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        return {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": until}

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Report the server's failures as OSError (missing objects as FileNotFoundError)."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            if _not_found(exc):
                raise FileNotFoundError(key) from None
            if _code(exc) == "AccessDenied":
                raise PermissionError(errno.EACCES, f"{self.url}: {key}: {exc}") from exc
            raise OSError(f"{self.url}: {key}: {exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise OSError(f"{self.url}: {key}: {exc}") from exc

    def put_file(self, key: str, path: Path, *, retain: bool = False) -> None:
        full = self._key(key)
        extra = self._lock_args(retain)
        # One PUT, or a multipart upload that is aborted on failure: either way
        # the object appears whole or not at all.
        with path.open("rb") as src, self._errors(key):
            self.client.upload_fileobj(src, self.bucket, full, ExtraArgs=extra or None)

    def put_bytes(self, key: str, data: bytes, *, retain: bool = False) -> None:
        full = self._key(key)
        extra = self._lock_args(retain)
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, **extra)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        full = self._key(key)

        @contextmanager
        def stream() -> Iterator[Any]:
            with self._errors(key):
                obj = self.client.get_object(Bucket=self.bucket, Key=full)
            body = obj["Body"]
            try:
                yield body
            finally:
                body.close()

        return stream()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """One ranged GET (point-cloud tiles are byte ranges of one object)."""
        if length <= 0:
            return b""
        with self._errors(key):
            obj = self.client.get_object(
                Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{start + length - 1}"
            )
        body = obj["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def _head(self, key: str) -> dict[str, Any] | None:
        full = self._key(key)
        try:
            with self._errors(key):
                return self.client.head_object(Bucket=self.bucket, Key=full)
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        """Delete the object; PermissionError if it is retained.

        On a versioned bucket S3 would "delete" a retained object by adding a
        delete marker (and keep the version): a success that deletes nothing,
        so spadok refuses it instead of hiding the object from itself.
        """
        full = self._key(key)
        head = self._head(key)
        if head is None:
            return  # nothing there (and no needless delete marker on a versioned bucket)
        until = head.get("ObjectLockRetainUntilDate")
        held = head.get("ObjectLockLegalHoldStatus") == "ON"
        if held or (head.get("ObjectLockMode") and until and until > datetime.now(UTC)):
            why = "under legal hold" if held else f"retained until {until:%Y-%m-%d %H:%M}"
            raise PermissionError(errno.EACCES, f"{self.url}: {key} is {why}; it cannot be deleted")
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=full)

    def list(self, prefix: str = "") -> Iterator[str]:
        prefix = check_prefix(prefix)
        folder = self._key(prefix) if prefix else self.prefix
        full = f"{folder}/" if folder else ""
        cut = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    yield item["Key"][cut:]


# What servers answer GetObjectLockConfiguration for a bucket without Object Lock
# (AWS, SeaweedFS, MinIO).
_NO_LOCK_CODES = {
    "ObjectLockConfigurationNotFoundError",
    "ObjectLockConfigurationNotFound",
    "NoSuchObjectLockConfiguration",
    "InvalidRequest",
    "404",
}


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _not_found(exc: Any) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound"}


def _plain(url: str) -> str:
    """The URL without its query (endpoints may carry secrets in odd set-ups)."""
    return url.split("?", 1)[0]

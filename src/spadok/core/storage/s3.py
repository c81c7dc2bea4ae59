"""S3-compatible object storage (AWS, SeaweedFS, MinIO, Ceph...).

All remote-storage calls live in this module. An S3 PUT is atomic by nature:
an object is visible whole or not at all; large files go up in parts.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from spadok.core.storage.base import Storage, check_key, check_prefix


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = url or f"s3://{bucket}/{self.prefix}"
        self.client = boto3.client(
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
        return cls(
            parsed.netloc,
            parsed.path,
            endpoint=query.get("endpoint"),
            region=query.get("region"),
            url=url,
        )

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
            raise OSError(f"{self.url}: {key}: {exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise OSError(f"{self.url}: {key}: {exc}") from exc

    def put_file(self, key: str, path: Path) -> None:
        full = self._key(key)
        # One PUT, or a multipart upload that is aborted on failure: either way
        # the object appears whole or not at all.
        with path.open("rb") as src, self._errors(key):
            self.client.upload_fileobj(src, self.bucket, full)

    def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)

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
        full = self._key(key)
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


def _not_found(exc: Any) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}

"""The tus 1.0 protocol's headers and their parsing, without Django.

https://tus.io/protocols/resumable-upload: core, creation, creation-with-upload,
termination, checksum and expiration. Each parser raises
:class:`~spadok.core.errors.SpadokError` with an ``upload.*`` code; :data:`STATUS`
maps a code to the HTTP status the protocol asks for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from spadok.core.errors import SpadokError

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha256", "sha1", "md5")
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
CAPTURE_HEADER = "Spadok-Capture"

STATUS: dict[str, int] = {
    "upload.auth_required": 401,
    "upload.csrf_failed": 403,
    "upload.record_unavailable": 403,
    "upload.too_large": 413,
    "upload.quota": 413,  # not 429: Uppy retries 429 forever; a quota lasts a day
    "upload.exceeds_length": 413,
    "upload.not_found": 404,
    "upload.expired": 410,
    "upload.offset_mismatch": 409,
    "upload.finished": 409,
    "upload.checksum_mismatch": 460,
    "upload.content_type": 415,
    "upload.version": 412,
    "upload.locked": 423,
    "upload.bad_request": 400,
    "upload.digest_mismatch": 500,
    "storage.unavailable": 503,
}


def status_for(code: str) -> int:
    return STATUS.get(code, 400 if code.startswith(("input.", "zip.", "format.")) else 500)


MAX_DIGITS = 19  # 2**63 - 1, the largest offset or length the database keeps, has 19


def check_version(value: str | None) -> None:
    if value != VERSION:
        raise SpadokError("upload.version", repr(value or "no Tus-Resumable header"))


def parse_length(value: str | None, name: str) -> int:
    if value is None or value == "":
        raise SpadokError("upload.bad_request", f"{name} is missing")
    if not value.isascii() or not value.isdigit():
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise SpadokError("upload.bad_request", f"{name} must be a whole number ≥ 0, not {shown!r}")
    # int() refuses strings of more than 4,300 digits (a ValueError); no size has 20.
    if len(value.lstrip("0")) > MAX_DIGITS:
        raise SpadokError("upload.bad_request", f"{name} has {len(value):,} digits")
    return int(value.lstrip("0") or "0")


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs; the value may be absent.

    Values are decoded as UTF-8 (a name like "Софія собор.glb" arrives base64-encoded).
    """
    out: dict[str, str] = {}
    if not value or not value.strip():
        return out
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if len(parts) not in (1, 2) or not parts[0]:
            raise SpadokError("upload.bad_request", f"Upload-Metadata pair {pair.strip()!r}")
        key = parts[0]
        if not key.isascii() or key in out:
            raise SpadokError("upload.bad_request", f"Upload-Metadata key {key!r}")
        if len(parts) == 1:
            out[key] = ""
            continue
        try:
            out[key] = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SpadokError(
                "upload.bad_request", f"Upload-Metadata value of {key!r} is not base64 UTF-8"
            ) from None
        if "\x00" in out[key]:
            # No name, title or id holds one, and PostgreSQL refuses to store it.
            raise SpadokError(
                "upload.bad_request", f"Upload-Metadata value of {key!r} holds a NUL character"
            )
    return out


def encode_metadata(values: dict[str, str]) -> str:
    """The inverse of :func:`parse_metadata` (for clients and tests)."""
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in values.items()
    )


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    def new(self) -> Any:
        return hashlib.new(self.algorithm)


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; None when absent."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise SpadokError("upload.bad_request", f"Upload-Checksum {value!r}")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise SpadokError(
            "upload.bad_request",
            f"checksum algorithm {algorithm!r}; use one of {', '.join(CHECKSUM_ALGORITHMS)}",
        )
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise SpadokError("upload.bad_request", "the checksum digest is not base64") from None
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise SpadokError("upload.bad_request", f"the {algorithm} digest has the wrong length")
    return Checksum(algorithm, digest)


def http_date(when: datetime) -> str:
    """RFC 9110 date, as Upload-Expires wants it."""
    return format_datetime(when, usegmt=True)


MAX_NAME_BYTES = 255


def safe_filename(name: str, fallback: str = "upload") -> str:
    """A file name fit to keep: no folders, no control characters, at most 255 bytes.

    Spaces and non-ASCII letters stay (normalised to NFC, as phones differ).
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in {"", ".", ".."}:
        name = fallback
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        keep_ext = dot and 0 < len(ext) <= 16 and stem
        name = f"{stem[:-1]}.{ext}" if keep_ext else name[:-1]
    return name

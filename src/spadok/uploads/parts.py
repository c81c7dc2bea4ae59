"""Part files: the bytes of unfinished uploads, one writer at a time.

Each upload has ``<id>.part`` (the bytes so far) and ``<id>.lock`` (held with
``flock`` by the one request writing it) in the uploads folder. The database row
says how many bytes were acknowledged; anything in the part file past that
offset (a server killed mid-write) is cut off by the next writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spadok.core.errors import SpadokError
from spadok.uploads.tus import Checksum

READ_BYTES = 1024 * 1024  # one read from the request at a time; nothing larger is held
LOCK_WAIT_S = 10.0  # a second writer waits this long, then gets 423 (Locked)


@dataclass(frozen=True)
class Paths:
    root: Path
    upload_id: uuid.UUID

    @property
    def part(self) -> Path:
        return self.root / f"{self.upload_id}.part"

    @property
    def lock(self) -> Path:
        return self.root / f"{self.upload_id}.lock"

    @property
    def folder(self) -> Path:
        """Where the finished file waits under its own name until it is stored."""
        return self.root / str(self.upload_id)

    def remove(self) -> None:
        self.part.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.lock.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(paths: Paths, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the upload's write lock; raise ``upload.locked`` after ``wait_s``."""
    paths.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SpadokError("upload.locked", str(paths.upload_id)) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass(frozen=True)
class Written:
    length: int  # bytes kept (0 when a checksum failed)
    sha256: str  # of the bytes kept
    whole: bool  # the body arrived in full (False: the client went away mid-piece)
    checksum_ok: bool | None  # None: no checksum was asked for


def append(
    path: Path,
    offset: int,
    read: Callable[[int], bytes],
    *,
    expected: int,
    checksum: Checksum | None = None,
) -> Written:
    """Append up to ``expected`` bytes from ``read`` at ``offset``; fsync before returning.

    A client that goes away keeps what arrived, unless it asked for a checksum,
    which cannot be checked on part of a piece: then the piece is discarded.
    The caller holds the lock.
    """
    with path.open("r+b" if path.exists() else "w+b") as fh:
        fh.truncate(offset)  # bytes past the acknowledged offset were never acknowledged
        fh.seek(offset)
        digest = hashlib.sha256()
        check = checksum.new() if checksum else None
        written = 0
        whole = True
        while written < expected:
            try:
                buf = read(min(READ_BYTES, expected - written))
            except Exception:  # the connection broke: keep what arrived
                buf = b""
            if not buf:
                whole = False
                break
            fh.write(buf)
            digest.update(buf)
            if check is not None:
                check.update(buf)
            written += len(buf)
        checksum_ok = None
        if checksum is not None and check is not None:
            checksum_ok = whole and check.digest() == checksum.digest
            if not checksum_ok:
                fh.truncate(offset)
                written = 0
                digest = hashlib.sha256()
        fh.flush()
        os.fsync(fh.fileno())
    return Written(written, digest.hexdigest(), whole, checksum_ok)

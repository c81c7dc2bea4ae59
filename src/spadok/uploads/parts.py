"""Part files: the bytes of unfinished uploads, one writer at a time.

Each upload has ``<id>.part`` (the bytes so far) and ``<id>.lock`` (held with
``flock`` by the one request writing it) in the uploads folder. The database row
says how many bytes were acknowledged; anything in the part file past that
offset (a server killed mid-write) is cut off by the next writer.

Every byte is hashed as it arrives: the piece's sha256 (kept per PATCH) and
the whole file's running sha256 (kept per upload in this process, see
:class:`Running`). The two hashes run on threads of their own, fed in order
from short queues (hashlib releases the GIL), while the request thread reads
and writes, and a third thread starts the disk writing behind it (see
:class:`Flusher`), so that the fsync before the answer has little left to do.
The sha512 that OCFL keys its inventory by is taken by the filing job while it
copies the file into storage, checked there against this arrival sha256 (see
:mod:`spadok.uploads.services`): on two cores an sha512 on arrival, at half
the speed of an sha256, cost more CPU than anything else an upload does (ADR 0014).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spadok.core.errors import SpadokError
from spadok.uploads.tus import Checksum

# One read from the request at a time. Granian hands the body over in reads of
# this size; 1 MiB was the fastest on loopback (256 KiB and 8 MiB were slower),
# and with QUEUE_DEPTH buffers per hash thread at most a few MiB are held.
READ_BYTES = 1024 * 1024
QUEUE_DEPTH = 4
# Hash on threads of their own (False: on the request thread). Threads gained 55-85% in a
# loopback test with idle cores, nothing measurable on a 2-core machine under full load.
HASH_THREADS = True
REHASH_BYTES = 8 * 1024 * 1024  # reads when a process takes over an upload (page cache)
# Start writing to disk behind the request every this many bytes (see Flusher).
FLUSH_BYTES = 16 * 1024 * 1024
LOCK_WAIT_S = 10.0  # a second writer waits this long, then gets 423 (Locked)
RUNNING_KEPT = 256  # running whole-file digests kept per process (small objects)


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
        forget_running(self.upload_id)
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


# -- hashing on arrival ------------------------------------------------------------


class HashPipe:
    """Feed each buffer, in order, to groups of hash objects, one thread per group.

    The queues are short, so a slow hash slows the reader instead of piling up
    buffers: memory stays flat whatever the size of the piece.
    """

    def __init__(self, groups: list[list[Any]], threads: bool | None = None) -> None:
        self._queues: list[queue.Queue[bytes | None]] = []
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._closed = False
        self._inline: list[Any] = []
        for group in groups:
            if not group:
                continue
            if not (HASH_THREADS if threads is None else threads):
                self._inline.extend(group)
                continue
            q: queue.Queue[bytes | None] = queue.Queue(QUEUE_DEPTH)
            thread = threading.Thread(
                target=self._run, args=(q, group), name="upload-hash", daemon=True
            )
            self._queues.append(q)
            self._threads.append(thread)
            thread.start()

    def _run(self, q: queue.Queue[bytes | None], group: list[Any]) -> None:
        try:
            while (buf := q.get()) is not None:
                for h in group:
                    h.update(buf)
        except BaseException as exc:  # handed to close()
            self._errors.append(exc)
            while q.get() is not None:  # drain, so that the reader never blocks
                pass

    def update(self, buf: bytes) -> None:
        for q in self._queues:
            q.put(buf)
        for h in self._inline:
            h.update(buf)

    def close(self) -> None:
        """Wait until every buffer is hashed (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]


@dataclass
class Running:
    """The whole file's sha256 over its first ``offset`` bytes.

    Hash objects cannot be saved, so each web process keeps the running state
    of the uploads it is writing (:func:`running_for`); a PATCH that reaches
    another process (or one started since) first hashes the bytes already in
    the part file, then goes on. Bytes below the acknowledged offset never
    change, so the result is the same either way.
    """

    offset: int
    sha256: Any = field(default_factory=hashlib.sha256)

    def copy(self) -> Running:
        return Running(self.offset, self.sha256.copy())

    def digests(self) -> dict[str, str]:
        return {"sha256": self.sha256.hexdigest()}


_RUNNING: OrderedDict[uuid.UUID, Running] = OrderedDict()
_RUNNING_LOCK = threading.Lock()


def running_for(paths: Paths, offset: int) -> Running:
    """The running digests at ``offset`` (the caller holds the upload's lock).

    The kept state is taken out of the cache: a writer that fails half-way
    leaves nothing behind, and the next one starts from the file.
    """
    with _RUNNING_LOCK:
        kept = _RUNNING.pop(paths.upload_id, None)
    if kept is not None and kept.offset == offset:
        return kept
    running = Running(0)
    with paths.part.open("rb", buffering=0) as fh:
        while running.offset < offset:
            buf = fh.read(min(REHASH_BYTES, offset - running.offset))
            if not buf:
                break
            running.sha256.update(buf)
            running.offset += len(buf)
    return running


def keep_running(upload_id: uuid.UUID, running: Running) -> None:
    """Keep the state for the next PATCH (after the row says the same offset)."""
    with _RUNNING_LOCK:
        _RUNNING[upload_id] = running
        _RUNNING.move_to_end(upload_id)
        while len(_RUNNING) > RUNNING_KEPT:
            _RUNNING.popitem(last=False)


def forget_running(upload_id: uuid.UUID) -> None:
    with _RUNNING_LOCK:
        _RUNNING.pop(upload_id, None)


class Flusher:
    """Write a file's new bytes to disk on a thread of its own while more arrive.

    The answer to a PATCH waits for its fsync; without this, that fsync found
    the whole piece still in memory and the disk idle until then, and the
    connection idle while the disk wrote. :meth:`written` wakes the thread
    every ``FLUSH_BYTES``; it runs ``fdatasync`` (which releases the GIL) and
    the final fsync only has the last few MiB to write.
    """

    def __init__(self, fd: int, every: int = FLUSH_BYTES) -> None:
        self._fd = fd
        self._every = every
        self._since = 0
        self._wake = threading.Event()
        self._stop = False
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="upload-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            try:
                os.fdatasync(self._fd)
            except BaseException as exc:  # handed to close(); the final fsync fails too
                self._errors.append(exc)
                return

    def written(self, n: int) -> None:
        """``n`` more bytes were written (and handed to the OS: unbuffered)."""
        self._since += n
        if self._since >= self._every:
            self._since = 0
            self._wake.set()

    def close(self) -> None:
        """Stop the thread (before the file is closed; the caller then fsyncs)."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        if self._errors:
            raise self._errors[0]


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
    running: Running | None = None,
) -> Written:
    """Append up to ``expected`` bytes from ``read`` at ``offset``; fsync before returning.

    A client that goes away keeps what arrived, unless it asked for a checksum,
    which cannot be checked on part of a piece: then the piece is discarded.
    ``running`` (the whole file's sha256 at ``offset``) is advanced by the
    bytes kept. The caller holds the lock.
    """
    if running is not None and running.offset != offset:
        raise ValueError(f"running digests at {running.offset}, piece at {offset}")
    before = running.copy() if running is not None and checksum is not None else None
    digest = hashlib.sha256()
    # an sha256 checksum is the piece's digest: the same bytes are not hashed twice
    check = None if checksum is None or checksum.algorithm == "sha256" else checksum.new()
    pipe = HashPipe(
        [
            [digest, *([check] if check is not None else [])],
            [running.sha256] if running is not None else [],
        ]
    )
    written = 0
    whole = True
    try:
        with path.open("r+b" if path.exists() else "w+b", buffering=0) as fh:
            fh.truncate(offset)  # bytes past the acknowledged offset were never acknowledged
            fh.seek(offset)
            flusher = Flusher(fh.fileno())
            try:
                while written < expected:
                    try:
                        buf = read(min(READ_BYTES, expected - written))
                    except Exception:  # the connection broke: keep what arrived
                        buf = b""
                    if not buf:
                        whole = False
                        break
                    view = memoryview(buf)
                    while view:  # an unbuffered write may take part of it
                        view = view[fh.write(view) :]
                    pipe.update(buf)
                    written += len(buf)
                    flusher.written(len(buf))
            finally:
                flusher.close()
            pipe.close()
            checksum_ok = None
            if checksum is not None:
                found = (check if check is not None else digest).digest()
                checksum_ok = whole and found == checksum.digest
                if not checksum_ok:
                    fh.truncate(offset)
                    written = 0
                    digest = hashlib.sha256()
                    if running is not None and before is not None:
                        running.sha256 = before.sha256
            os.fsync(fh.fileno())
    except BaseException:
        pipe.close()
        raise
    if running is not None:
        running.offset = offset + written
    return Written(written, digest.hexdigest(), whole, checksum_ok)

"""One streaming digest routine for every fixity check (ingest, audit, bag export).

Files are read in large chunks into one reused buffer: hashlib releases the GIL
on big updates, so several threads hash in parallel at close to ``sha512sum``'s
speed, and memory stays flat however large the file.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from spadok.core.storage.base import Storage

CHUNK = 8 * 1024 * 1024
QUEUE_DEPTH = 2  # chunks waiting per hash thread: memory stays flat


def _read_into(fh: Any, buf: bytearray) -> int:
    """Fill ``buf`` from a raw or buffered stream; 0 at the end."""
    readinto = getattr(fh, "readinto", None)
    if readinto is not None:
        try:
            return readinto(buf) or 0
        except (io.UnsupportedOperation, AttributeError, NotImplementedError):
            pass
    data = fh.read(len(buf))
    buf[: len(data)] = data
    return len(data)


def hash_stream(
    fh: BinaryIO, algorithms: Iterable[str] = ("sha512",), *, chunk: int = CHUNK
) -> tuple[dict[str, str], int]:
    """Digests of everything left in ``fh`` and the number of bytes read."""
    hashers = [(name, hashlib.new(name)) for name in algorithms]
    buf = bytearray(chunk)
    view = memoryview(buf)
    size = 0
    while n := _read_into(fh, buf):
        part = view[:n]
        for _, h in hashers:
            h.update(part)
        size += n
    return {name: h.hexdigest() for name, h in hashers}, size


def hash_file(
    path: Path, algorithms: Iterable[str] = ("sha512",), *, chunk: int = CHUNK
) -> tuple[dict[str, str], int]:
    """Digests of a local file, read unbuffered (the page cache is the buffer)."""
    with open(path, "rb", buffering=0) as fh:
        return hash_stream(fh, algorithms, chunk=chunk)  # type: ignore[arg-type]


def hash_key(
    storage: Storage, key: str, algorithms: Iterable[str] = ("sha512",)
) -> tuple[dict[str, str], int]:
    """Digests of a stored object, straight from disk when the storage is local."""
    local = storage.local_path(key)
    if local is not None:
        return hash_file(local, algorithms)
    with storage.open(key) as fh:
        return hash_stream(fh, algorithms, chunk=1024 * 1024)


class _HashThread:
    """One hash fed in order from a short queue on a thread of its own.

    hashlib releases the GIL on big updates: with two digests of a copy, each on
    its thread, the copy and both hashes run at once instead of one after another.
    """

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="copy-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.hasher.update(data)
                except BaseException as exc:  # raised by join()
                    self._error = exc

    def update(self, data: bytes) -> None:
        self._queue.put(data)

    def join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


class _HashingReader(io.RawIOBase):
    """A read-only, forward-only view of a file that hashes what it hands out.

    With more than one algorithm each hashes on its own thread (a copy of every
    chunk is queued: the caller reuses its buffer); the digests are ready after
    :meth:`finish`.
    """

    def __init__(self, path: Path, algorithms: tuple[str, ...]) -> None:
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 (closed in close())
        self.hashers = {name: hashlib.new(name) for name in algorithms}
        self.hasher = self.hashers[algorithms[0]]
        self._threads = (
            [_HashThread(h) for h in self.hashers.values()] if len(algorithms) > 1 else []
        )
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = self._fh.readinto(buf) or 0
        if n:
            part = memoryview(buf)[:n]
            if self._threads:
                data = bytes(part)
                for t in self._threads:
                    t.update(data)
            else:
                for h in self.hashers.values():
                    h.update(part)
            self.size += n
        return n

    def finish(self) -> None:
        """Wait until every byte read so far is hashed."""
        threads, self._threads = self._threads, []
        for t in threads:
            t.join()

    def close(self) -> None:
        self._fh.close()
        self.finish()
        super().close()


class HashingPath(type(Path())):  # type: ignore[misc]
    """A path whose ``open("rb")`` hashes exactly the bytes a storage backend copies.

    ``Storage.put_file`` opens its source through ``path.open``; handing it this
    path verifies a caller's digest *while copying*, without a second read. The
    stream is not seekable, so a backend reads it once, front to back. If a backend
    bypasses ``open`` (``os.sendfile`` on the name), ``readers`` stays empty and the
    caller must verify the stored copy instead.
    """

    algorithm = "sha512"
    also: tuple[str, ...] = ()  # more digests of the same read (copied_digests)

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if mode != "rb":
            return super().open(mode, *args, **kwargs)
        reader = _HashingReader(Path(self), (self.algorithm, *self.also))
        self.readers.append(reader)
        return io.BufferedReader(reader, CHUNK)

    @classmethod
    def of(cls, path: Path, algorithm: str = "sha512", also: tuple[str, ...] = ()) -> HashingPath:
        hp = cls(path)
        hp.algorithm = algorithm
        hp.also = tuple(a for a in also if a != algorithm)
        hp.readers = []
        return hp

    def copied_digest(self) -> tuple[str, int] | None:
        """(digest, size) of the last complete read, or None if nothing read through us."""
        readers: list[_HashingReader] = self.readers
        if not readers:
            return None
        last = readers[-1]
        last.finish()
        return last.hasher.hexdigest(), last.size

    def copied_digests(self) -> tuple[dict[str, str], int] | None:
        """Every digest (``algorithm`` and ``also``) of the last complete read, and its size."""
        readers: list[_HashingReader] = self.readers
        if not readers:
            return None
        last = readers[-1]
        last.finish()
        return {name: h.hexdigest() for name, h in last.hashers.items()}, last.size

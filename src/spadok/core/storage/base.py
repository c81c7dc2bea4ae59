"""One storage interface with a local-folder and an S3 implementation.

Keys are POSIX-style relative paths ("captures/<id>/original/model.obj").
Every write is atomic: a reader sees the whole object or none of it.
:class:`Replicated` writes to every root, primary first, and reads from the
first root that has the object.

Write-once option: ``put_file``/``put_bytes`` take ``retain=True`` for objects
that must outlive an intruder (the originals). A root configured for it keeps
them under a retention period (S3 Object Lock: see :mod:`.s3`); on a local
folder retention is only a read-only file mode (see :mod:`.local`); a root
without the option ignores it. Deleting a retained object raises
:class:`PermissionError`: it never silently succeeds.
"""

from __future__ import annotations

import hashlib
import logging
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from spadok.core.errors import SpadokError

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024


def check_key(key: str) -> str:
    """Refuse keys that could escape a storage root or mean different things per backend.

    A key is a relative POSIX path in normal form: no ``..`` or ``.`` parts, no
    empty parts (``a//b``, a trailing ``/``), no backslash or NUL, and no part
    named like the local backend's temporary files.
    """
    pure = PurePosixPath(key)
    if (
        not key
        or pure.is_absolute()
        or pure.as_posix() != key
        or any(p in {"..", "."} or p.startswith(".tmp-") for p in pure.parts)
        or "\\" in key
        or "\x00" in key
    ):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A folder-like prefix for :meth:`Storage.list`: "" or a valid key, "/" allowed at the end."""
    stripped = prefix.rstrip("/")
    return check_key(stripped) if stripped else ""


class Storage(ABC):
    """A place that keeps objects by key."""

    url: str

    @abstractmethod
    def put_file(self, key: str, path: Path, *, retain: bool = False) -> None:
        """Copy a local file to ``key`` atomically (``retain``: write-once, see above)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, retain: bool = False) -> None: ...

    @abstractmethod
    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A readable binary stream of the object."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (absent: nothing to do); PermissionError if it is retained."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key in the folder ``prefix`` (and below it), in no particular order.

        ``list("captures/c1")`` yields ``captures/c1/...`` but not ``captures/c10/...``.
        """

    def local_path(self, key: str) -> Path | None:
        """A path on this machine holding the object, when there is one."""
        return None

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of the object from ``start`` (fewer at its end).

        Point-cloud tiles are byte ranges of one object. This default reads up
        to the range and discards what comes before; roots that can seek or
        ask for a range (S3) do better.
        """
        with self.open(key) as fh:
            if fh.seekable():
                fh.seek(start)
            else:
                left = start
                while left > 0:
                    skipped = fh.read(min(CHUNK, left))
                    if not skipped:
                        return b""
                    left -= len(skipped)
            return fh.read(length)

    def fetch(self, key: str, dest: Path) -> Path:
        """Copy the object to a local file and return its path."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open(key) as src, dest.open("wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        return dest

    def digest(self, key: str, algorithm: str = "sha512") -> str:
        h = hashlib.new(algorithm)
        with self.open(key) as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        return h.hexdigest()


class Replicated(Storage):
    """The primary and its replicas behind the one interface.

    A write succeeds when the primary has the object; a replica that fails is
    logged and caught up later by the audit (it is not an error for the user).
    A replica that failed is left alone for ``retry_after_s`` so that one that
    is down does not slow every write by its connection retries.
    """

    def __init__(self, roots: list[Storage], *, retry_after_s: float = 60.0) -> None:
        if not roots:
            raise ValueError("at least one storage root is needed")
        self.roots = roots
        self.url = ",".join(r.url for r in roots)
        self.retry_after_s = retry_after_s
        self._down_until: dict[int, float] = {}

    @property
    def primary(self) -> Storage:
        return self.roots[0]

    def _each(self, action: str, key: str, fn) -> None:  # type: ignore[no-untyped-def]
        check_key(key)
        try:
            fn(self.primary)
        except OSError as exc:
            if action == "delete" and isinstance(exc, PermissionError):
                raise  # a retained object: the caller decides (it is not an outage)
            raise SpadokError("storage.unavailable", f"{self.primary.url}: {exc}") from exc
        for i, replica in enumerate(self.roots[1:], start=1):
            if self._down_until.get(i, 0.0) > time.monotonic():
                log.warning("replica %s is down; skipped %s of %s", replica.url, action, key)
                continue
            try:
                fn(replica)
            except PermissionError:  # a retained object there: refused, yet the replica is up
                log.warning("replica %s refused %s of %s", replica.url, action, key, exc_info=True)
            except Exception:
                self._down_until[i] = time.monotonic() + self.retry_after_s
                log.warning("replica %s missed %s of %s", replica.url, action, key, exc_info=True)
            else:
                self._down_until.pop(i, None)

    def put_file(self, key: str, path: Path, *, retain: bool = False) -> None:
        self._each("write", key, lambda s: s.put_file(key, path, retain=retain))

    def put_bytes(self, key: str, data: bytes, *, retain: bool = False) -> None:
        self._each("write", key, lambda s: s.put_bytes(key, data, retain=retain))

    def delete(self, key: str) -> None:
        self._each("delete", key, lambda s: s.delete(key))

    def _first_with(self, key: str) -> Storage:
        for root in self.roots:
            try:
                if root.exists(key):
                    return root
            except Exception:
                log.warning("storage %s unreachable", root.url, exc_info=True)
        raise FileNotFoundError(key)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self._first_with(key).open(key)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return self._first_with(key).read_range(key, start, length)

    def exists(self, key: str) -> bool:
        try:
            self._first_with(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        return self._first_with(key).size(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.primary.list(prefix)

    def local_path(self, key: str) -> Path | None:
        for root in self.roots:
            path = root.local_path(key)
            if path is not None and path.exists():
                return path
        return None


def open_storage(url: str) -> Storage:
    """One storage root from its URL (``file:///…`` or ``s3://bucket/prefix?…``)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        from spadok.core.storage.local import LocalStorage

        return LocalStorage(Path(urllib.parse.unquote(parsed.path)), url=url)
    if parsed.scheme == "s3":
        from spadok.core.storage.s3 import S3Storage

        return S3Storage.from_url(url)
    raise ValueError(f"unsupported storage URL {url!r}")


def open_storages(urls: list[str] | tuple[str, ...]) -> Replicated:
    return Replicated([open_storage(u) for u in urls])

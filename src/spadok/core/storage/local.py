"""Storage in a local folder: write to a temporary name, fsync, rename.

``retain=True`` only makes the file read-only (mode 0444). That is a
best-effort guard against a careless overwrite in place, NOT write-once
storage: the owner of the folder (and root) can still change the mode, replace
or delete the file, and :meth:`LocalStorage.delete` does delete it. Real
retention needs S3 Object Lock (``s3://...?lock=compliance&retention_days=N``)
or a write-once medium.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from spadok.core.storage.base import Storage, check_key, check_prefix


class LocalStorage(Storage):
    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root.resolve()
        self.url = url or self.root.as_uri()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _atomic(self, key: str, write, mode: int = 0o644) -> None:  # type: ignore[no-untyped-def]
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(dest.parent)

    def put_file(self, key: str, path: Path, *, retain: bool = False) -> None:
        def write(out: BinaryIO) -> None:
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, 4 * 1024 * 1024)

        self._atomic(key, write, _mode(retain))

    def put_bytes(self, key: str, data: bytes, *, retain: bool = False) -> None:
        self._atomic(key, lambda out: out.write(data), _mode(retain))

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        prefix = check_prefix(prefix)
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                yield (Path(dirpath) / name).relative_to(self.root).as_posix()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


def _mode(retain: bool) -> int:
    return 0o444 if retain else 0o644


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Shared helpers for the preservation tests: an independent OCFL validator, fixtures.

The validator is ocfl-py's (the reference implementation). ocfl-py 2.0.2 is the
release that installs beside our pinned boto3 (2.1 pulls s3fs -> aiobotocore,
which pins an older botocore); its validator is the same code. Neither release
knows storage layout extension 0004, so we register a small class for it here:
the layout is then read and checked from the root's config.json, and we check
that every object sits where 0004 puts its id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import ocfl
import pytest
from ocfl.layout_0003_hash_and_id_n_tuple import Layout_0003_Hash_And_Id_N_Tuple
from ocfl.layout_registry import add_layout

from spadok.core.preservation import layout
from spadok.core.preservation.ocfl import OcflStore
from spadok.core.storage.base import Storage, open_storage
from spadok.core.storage.local import LocalStorage


class Layout0004(Layout_0003_Hash_And_Id_N_Tuple):
    """OCFL extension 0004-hashed-n-tuple-storage-layout, for ocfl-py's registry."""

    def __init__(self) -> None:
        super().__init__()
        self.short_object_root = False
        self.NAME = layout.NAME
        self.DESCRIPTION = layout.DESCRIPTION
        self.PARAMS = {**self.PARAMS, "shortObjectRoot": self.check_short_object_root}  # type: ignore[has-type]

    def check_short_object_root(self, value):  # type: ignore[no-untyped-def]
        if not isinstance(value, bool):
            raise ValueError("shortObjectRoot must be a boolean")
        self.short_object_root = value

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return {**super().config, "shortObjectRoot": self.short_object_root}

    def identifier_to_path(self, identifier):  # type: ignore[no-untyped-def]
        digest = hashlib.new(self.digest_algorithm, identifier.encode()).hexdigest()
        n, size = self.number_of_tuples, self.tuple_size
        tuples = [digest[i * size : (i + 1) * size] for i in range(n)]
        last = digest[n * size :] if self.short_object_root else digest
        return "/".join([*tuples, last])


add_layout(layout.NAME, Layout0004)


def _as_local_dir(storage: Storage, tmp: Path) -> Path:
    """A folder with the root's files: the root itself on disk, a download of S3."""
    if isinstance(storage, LocalStorage):
        return storage.root
    out = tmp / "mirror"
    for key in storage.list():
        storage.fetch(key, out / key)
    return out


def validation_errors(storage: Storage) -> list[str]:
    """Every error and warning ocfl-py finds in the storage root and all its objects."""
    with tempfile.TemporaryDirectory(prefix="ocfl-validate-") as tmp:
        path = _as_local_dir(storage, Path(tmp))
        root = ocfl.StorageRoot(root=str(path))
        ok = root.validate(log_warnings=True, log_errors=True, max_errors=1000)
        problems = [m for _, m in root.errors]
        if root.structure_error:
            problems.append(root.structure_error)
        if not ok and not problems:
            problems.append(f"invalid: {root.log}")
        # 0004 puts each object at the hash of its id: check that ocfl-py agrees.
        layout_impl = Layout0004()
        for dirpath, _dirs, files in os.walk(path):
            if "0=ocfl_object_1.1" in files:
                rel = Path(dirpath).relative_to(path).as_posix()
                inv = json.loads((Path(dirpath) / "inventory.json").read_text())
                if layout_impl.identifier_to_path(inv["id"]) != rel:
                    problems.append(f"{rel} is not where 0004 puts {inv['id']}")
        return problems


def assert_valid(storage: Storage, allow: tuple[str, ...] = ()) -> None:
    """No error and no warning, but for the warning codes in ``allow``."""
    problems = [
        p for p in validation_errors(storage) if not any(f"[{code}]" in p for code in allow)
    ]
    assert problems == [], "\n".join(problems)


@pytest.fixture(params=["local", "s3"])
def any_storage(request, tmp_path: Path) -> Storage:  # type: ignore[no-untyped-def]
    """A fresh storage root on local disk, then on real S3 (SeaweedFS)."""
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    server = request.getfixturevalue("s3_server")
    return open_storage(server.url())


def make_store(storage: Storage) -> OcflStore:
    store = OcflStore(storage)
    store.init_root()
    return store


def write_files(folder: Path, files: dict[str, bytes]) -> list[tuple[Path, str]]:
    """Write local source files; returns (path, logical path) pairs for the store."""
    out = []
    for logical, data in files.items():
        path = folder / logical
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out.append((path, logical))
    return out


def copy_root(src: LocalStorage, dest: Path) -> LocalStorage:
    shutil.copytree(src.root, dest)
    return LocalStorage(dest)

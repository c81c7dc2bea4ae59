"""The OCFL store: versions, deduplication, metadata, and crash safety at every write.

Every root written here is checked by ocfl-py's validator (see ocfl_helpers).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from spadok.core.preservation.ocfl import OBJECT_DECL, OcflError, OcflStore
from spadok.core.storage.base import Storage
from spadok.core.storage.local import LocalStorage
from tests.core.ocfl_helpers import (  # noqa: F401
    any_storage,
    assert_valid,
    make_store,
    validation_errors,
    write_files,
)

USER: dict[str, Any] = {"user_name": "Test Curator", "user_address": "mailto:curator@example.org"}
OID = "urn:spadok:capture:0001"


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def test_create_and_version_then_validate(any_storage: Storage, tmp_path: Path) -> None:  # noqa: F811
    store = make_store(any_storage)
    files = write_files(
        tmp_path / "v1", {"model.obj": b"v 0 0 0\n" * 1000, "tex/a.png": b"\x89PNG" + b"a" * 50}
    )
    assert store.create_object(OID, files, message="ingest", **USER) == "v1"
    assert store.exists(OID) and not store.exists("urn:other")
    assert list(store.object_ids()) == [OID]

    changed = write_files(tmp_path / "v2", {"model.obj": b"v 1 1 1\n"})
    version = store.add_version(
        OID, add=changed, add_bytes=[(b"notes", "notes.txt")], remove=["tex/a.png"],
        message="fix", **USER,
    )  # fmt: skip
    assert version == "v2"
    assert store.state(OID) == {"model.obj": sha512(b"v 1 1 1\n"), "notes.txt": sha512(b"notes")}
    assert store.state(OID, "v1")["tex/a.png"] == sha512(b"\x89PNG" + b"a" * 50)
    with store.open_logical(OID, "model.obj", "v1") as fh:
        assert fh.read() == b"v 0 0 0\n" * 1000
    key = store.content_key(OID, "notes.txt")
    assert key.endswith("/v2/content/notes.txt") and any_storage.read_bytes(key) == b"notes"

    inv = store.inventory(OID)
    assert inv["type"] == "https://ocfl.io/1.1/spec/#inventory"
    assert inv["digestAlgorithm"] == "sha512" and inv["head"] == "v2"
    assert set(inv["fixity"]["sha256"]) == {
        hashlib.sha256(d).hexdigest() for d in (b"v 0 0 0\n" * 1000, b"\x89PNG" + b"a" * 50)
    } | {hashlib.sha256(b"v 1 1 1\n").hexdigest(), hashlib.sha256(b"notes").hexdigest()}
    assert_valid(any_storage)


def test_unchanged_files_are_not_stored_again(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    store = make_store(storage)
    big = b"x" * 100_000
    store.create_object(
        OID, write_files(tmp_path / "a", {"a.bin": big, "copy.bin": big}), message="m", **USER
    )
    store.add_version(
        OID, add=write_files(tmp_path / "b", {"renamed.bin": big}), remove=["a.bin"],
        message="rename", **USER,
    )  # fmt: skip
    content = [k for k in storage.list() if "/content/" in k]
    assert len(content) == 1  # one copy of the bytes for three logical files in two versions
    assert store.content_key(OID, "renamed.bin").endswith("v1/content/a.bin")
    assert_valid(storage)


def test_given_digests_are_checked(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "root"))
    files = write_files(tmp_path / "s", {"a.txt": b"hello"})
    with pytest.raises(OcflError) as err:
        store.create_object(OID, files, digests={"a.txt": sha512(b"other")}, message="m", **USER)
    assert err.value.code == "ocfl.digest_mismatch"
    assert not store.exists(OID)
    store.create_object(OID, files, digests={"a.txt": sha512(b"hello")}, message="m", **USER)
    assert store.state(OID) == {"a.txt": sha512(b"hello")}


def test_a_file_given_only_its_sha256_gets_its_sha512_from_the_copy(
    any_storage: Storage,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An upload's arrival sha256 is checked as the file is copied; the copy takes the sha512."""
    store = make_store(any_storage)
    data = os.urandom(3 * 1024 * 1024 + 5)
    files = write_files(tmp_path / "s", {"a.bin": data, "same.bin": data, "b.txt": b"b"})
    fixity = {logical: hashlib.sha256(path.read_bytes()).hexdigest() for path, logical in files}
    assert store.create_object(OID, files, fixity=fixity, message="m", **USER) == "v1"
    assert store.state(OID) == {
        "a.bin": sha512(data),
        "same.bin": sha512(data),
        "b.txt": sha512(b"b"),
    }
    inventory = store.inventory(OID)
    assert set(inventory["fixity"]["sha256"]) == set(fixity.values())
    content = [k for k in any_storage.list() if "/content/" in k]
    assert len(content) == 2  # the two equal files are kept once
    with store.open_logical(OID, "same.bin") as fh:
        assert fh.read() == data
    assert_valid(any_storage)


def test_a_file_that_differs_from_its_given_sha256_is_not_kept(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    store = make_store(storage)
    files = write_files(tmp_path / "s", {"a.bin": b"what is on disk"})
    with pytest.raises(OcflError) as err:
        store.create_object(
            OID,
            files,
            fixity={"a.bin": hashlib.sha256(b"what arrived").hexdigest()},
            message="m",
            **USER,
        )
    assert err.value.code == "ocfl.digest_mismatch"
    assert not store.exists(OID)
    assert [k for k in storage.list() if "/content/" in k] == []


@pytest.mark.parametrize(
    "bad", ["/abs", "a/../b", "a//b", "trailing/", ".", "a/./b", "back\\slash", ".tmp-x"]
)
def test_bad_logical_paths_are_refused(tmp_path: Path, bad: str) -> None:
    store = make_store(LocalStorage(tmp_path / "root"))
    with pytest.raises(OcflError):
        store.create_object(OID, [], add_bytes=[(b"x", bad)], message="m", **USER)


def test_a_path_cannot_be_file_and_folder(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "root"))
    store.create_object(OID, [], add_bytes=[(b"x", "a")], message="m", **USER)
    with pytest.raises(OcflError):
        store.add_version(OID, add_bytes=[(b"y", "a/b")], message="m", **USER)


def test_metadata_versions_only_when_changed(any_storage: Storage) -> None:  # noqa: F811
    store = make_store(any_storage)
    record = {"title": "Église Saint-Nicolas", "place": {"lat": 50.4, "lon": 30.5}}
    events = [{"type": "ingestion", "at": "2025-01-01T00:00:00Z", "agent": "spadok"}]
    assert store.write_metadata(OID, record, events, message="record", **USER) == "v1"
    assert store.write_metadata(OID, record, events, message="again", **USER) is None
    events.append({"type": "fixity check", "at": "2025-02-01T00:00:00Z", "outcome": "pass"})
    assert store.write_metadata(OID, record, events, message="event", **USER) == "v2"
    state = store.state(OID)
    with store.open_logical(OID, "metadata/record.json") as fh:
        assert json.loads(fh.read()) == record
    with store.open_logical(OID, "metadata/events.jsonl") as fh:
        assert [json.loads(line) for line in fh.read().splitlines()] == events
    assert set(state) == {"metadata/record.json", "metadata/events.jsonl"}
    assert store.state(OID, "v1")["metadata/record.json"] == state["metadata/record.json"]
    assert_valid(any_storage)


def test_created_time_is_recorded(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "root"))
    when = datetime(2024, 2, 24, 4, 0, tzinfo=UTC)
    store.create_object(OID, [], add_bytes=[(b"x", "a")], message="m", created=when, **USER)
    assert store.inventory(OID)["versions"]["v1"]["created"] == "2024-02-24T04:00:00Z"


# --- crash safety --------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies here (BaseException: nothing in the store may catch it)."""


class CrashingStorage(Storage):
    """Delegates to a real storage and dies after ``limit`` writes or deletes."""

    def __init__(self, real: Storage, limit: int) -> None:
        self.real = real
        self.url = real.url
        self.limit = limit
        self.writes = 0

    def _tick(self) -> None:
        if self.writes >= self.limit:
            raise Crash
        self.writes += 1

    def put_file(self, key: str, path: Path, *, retain: bool = False) -> None:
        self._tick()
        self.real.put_file(key, path, retain=retain)

    def put_bytes(self, key: str, data: bytes, *, retain: bool = False) -> None:
        self._tick()
        self.real.put_bytes(key, data, retain=retain)

    def delete(self, key: str) -> None:
        self._tick()
        self.real.delete(key)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self.real.open(key)

    def exists(self, key: str) -> bool:
        return self.real.exists(key)

    def size(self, key: str) -> int:
        return self.real.size(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.real.list(prefix)

    def local_path(self, key: str) -> Path | None:
        return self.real.local_path(key)


def _count_writes(storage: Storage, action) -> int:  # type: ignore[no-untyped-def]
    counter = CrashingStorage(storage, 10**9)
    action(OcflStore(counter))
    return counter.writes


V1 = {"scan.ply": b"ply\n" + bytes(range(256)) * 40, "tex/t.jpg": b"\xff\xd8" + b"j" * 3000}
V2 = {"scan.ply": b"ply\nnew" * 500, "extra/readme.txt": b"about"}


def _create(store: OcflStore, src: Path) -> str:
    return store.create_object(OID, write_files(src, V1), message="ingest", **USER)


def _add(store: OcflStore, src: Path) -> str:
    return store.add_version(
        OID, add=write_files(src, V2), add_bytes=[(b"{}", "metadata/record.json")],
        remove=["tex/t.jpg"], message="update", **USER,
    )  # fmt: skip


def _expected_v1() -> dict[str, str]:
    return {k: sha512(v) for k, v in V1.items()}


def _expected_v2() -> dict[str, str]:
    state = {k: sha512(v) for k, v in {**V1, **V2}.items() if k != "tex/t.jpg"}
    return {**state, "metadata/record.json": sha512(b"{}")}


def _fresh(storage_factory, name: str) -> Storage:  # type: ignore[no-untyped-def]
    return storage_factory(name)


@pytest.fixture
def storage_factory(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Fresh roots by name, on the backend of the test's parameter."""
    kind = request.param

    def make(name: str) -> Storage:
        if kind == "local":
            return LocalStorage(tmp_path / name)
        from spadok.core.storage.base import open_storage

        server = request.getfixturevalue("s3_server")
        return open_storage(server.url())

    return make


@pytest.mark.parametrize("storage_factory", ["local", "s3"], indirect=True)
@pytest.mark.parametrize("step", ["create", "add_version"])
def test_crash_at_every_write_leaves_old_or_new(storage_factory, tmp_path: Path, step: str) -> None:  # type: ignore[no-untyped-def]
    base = _fresh(storage_factory, "probe")
    make_store(base)
    if step == "add_version":
        _create(OcflStore(base), tmp_path / "src1")
    total = _count_writes(
        base, lambda s: (_add if step == "add_version" else _create)(s, tmp_path / "p")
    )
    assert total >= 5
    before = _expected_v1() if step == "add_version" else None
    after = _expected_v2() if step == "add_version" else _expected_v1()
    for limit in range(total):
        storage = _fresh(storage_factory, f"crash-{limit}")
        make_store(storage)
        if step == "add_version":
            _create(OcflStore(storage), tmp_path / "src1")
        doomed = OcflStore(CrashingStorage(storage, limit))
        action = _add if step == "add_version" else _create
        with pytest.raises(Crash):
            action(doomed, tmp_path / f"s{limit}")

        # A new process: it sees the old state or the whole new version, never a part.
        fresh = OcflStore(storage)
        seen = fresh.state(OID) if fresh.exists(OID) else None
        assert seen in (before, after), f"crash after write {limit}: {seen}"
        if seen is not None:
            for logical, digest in seen.items():
                with fresh.open_logical(OID, logical) as fh:
                    assert sha512(fh.read()) == digest

        fresh.recover()
        assert_valid(storage)
        recovered = fresh.state(OID) if fresh.exists(OID) else None
        assert recovered in (before, after)
        # and the retry completes the write
        if recovered != after:
            action(fresh, tmp_path / f"r{limit}")
        assert fresh.state(OID) == after
        assert_valid(storage)


def test_recover_removes_a_half_made_object(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    store = make_store(storage)
    with pytest.raises(Crash):
        _create(OcflStore(CrashingStorage(storage, 3)), tmp_path / "s")
    assert [k for k in storage.list() if "/v1/" in k]
    removed = store.recover()
    assert removed and not store.exists(OID)
    assert sorted(p.name for p in storage.root.iterdir()) == [
        "0=ocfl_1.1", "extensions", "ocfl_layout.json",
    ]  # fmt: skip
    assert_valid(storage)


def test_recover_leaves_a_damaged_object_for_the_audit(tmp_path: Path) -> None:
    """An object whose declaration and inventory were lost is not thrown away."""
    storage = LocalStorage(tmp_path / "root")
    store = make_store(storage)
    _create(store, tmp_path / "a")
    _add(store, tmp_path / "b")
    root = store.object_root(OID)
    storage.delete(f"{root}/{OBJECT_DECL}")
    storage.put_bytes(f"{root}/inventory.json", b"garbage")
    assert store.recover() == []
    assert any(k.endswith("v2/content/scan.ply") for k in storage.list())


# A writer that adds versions forever; the test kills it with SIGKILL at random moments.
WRITER = r"""
import os, sys, random
from pathlib import Path
from spadok.core.storage.local import LocalStorage
from spadok.core.preservation.ocfl import OcflStore
root, src = Path(sys.argv[1]), Path(sys.argv[2])
store = OcflStore(LocalStorage(root))
store.init_root()
oid = "urn:spadok:capture:kill"
rng = random.Random(os.getpid())
src.mkdir(parents=True, exist_ok=True)
while True:
    files = []
    for i in range(rng.randint(1, 4)):
        p = src / f"f{i}.bin"
        p.write_bytes(os.urandom(rng.choice([10, 5000, 300_000])))
        files.append((p, f"dir{i % 2}/f{i}.bin"))
    if store.exists(oid):
        store.add_version(oid, add=files, message="more", user_name="w",
                          user_address="mailto:w@example.org")
    else:
        store.create_object(oid, files, message="first", user_name="w",
                            user_address="mailto:w@example.org")
    print(store.inventory(oid)["head"], flush=True)
"""


@pytest.mark.slow
def test_kill_minus_9_at_random_moments(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rng = random.Random(1234)
    heads: list[int] = []
    for round_ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(tmp_path / f"src{round_}")],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONPATH": "src"},
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one version done this round
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        storage = LocalStorage(root)
        store = OcflStore(storage)
        store.recover()
        assert validation_errors(storage) == [], f"round {round_}"
        inv = store.inventory("urn:spadok:capture:kill")
        heads.append(int(inv["head"][1:]))
        for version in inv["versions"]:
            for logical, digest in store.state("urn:spadok:capture:kill", version).items():
                key = store.content_key("urn:spadok:capture:kill", logical, version)
                assert storage.digest(key) == digest
    assert heads == sorted(heads) and heads[-1] > 6

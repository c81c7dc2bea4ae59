"""Fixity audit over replicas: each kind of damage is found at the right path and mended."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spadok.core.preservation.audit import audit, sync_replicas
from spadok.core.preservation.ocfl import OcflStore
from spadok.core.storage.base import Storage, open_storage
from spadok.core.storage.local import LocalStorage
from tests.core.ocfl_helpers import assert_valid, make_store, validation_errors, write_files
from tests.servers import S3Server, closed_port

USER: dict[str, Any] = {"user_name": "Test", "user_address": "mailto:t@example.org"}
A, B = "urn:spadok:capture:a", "urn:spadok:capture:b"


def _fill(store: OcflStore, tmp: Path) -> None:
    store.create_object(
        A, write_files(tmp / "a1", {"scan.ply": b"p" * 200_000, "t.png": b"png" * 99}),
        message="m", **USER,
    )  # fmt: skip
    store.add_version(A, add_bytes=[(b"{}", "metadata/record.json")], message="m", **USER)
    store.create_object(
        B, write_files(tmp / "b1", {"m.obj": b"v 1 2 3\n" * 5000}), message="m", **USER
    )


@pytest.fixture(params=["local", "s3"])
def replicas(request, tmp_path: Path) -> list[OcflStore]:  # type: ignore[no-untyped-def]
    """Two roots with the same objects: local + local, or local + S3."""
    first = make_store(LocalStorage(tmp_path / "r1"))
    if request.param == "local":
        second_storage: Storage = LocalStorage(tmp_path / "r2")
    else:
        second_storage = open_storage(request.getfixturevalue("s3_server").url())
    second = make_store(second_storage)
    _fill(first, tmp_path / "src")
    sync_replicas([first, second])
    return [first, second]


def test_clean_roots_audit_clean(replicas: list[OcflStore]) -> None:
    report = audit(replicas, workers=2)
    assert report.ok and report.issues == []
    assert report.objects_checked == 2
    assert report.files_checked == 2 * 4  # scan.ply, t.png, record.json, m.obj on each root
    assert report.bytes_checked == 2 * (200_000 + 297 + 2 + 40_000)
    assert json.loads(json.dumps(report.as_dict()))["ok"] is True


def _key(store: OcflStore, oid: str, logical: str) -> str:
    return store.content_key(oid, logical)


def flip_byte(store: OcflStore) -> tuple[str, str]:
    key = _key(store, A, "scan.ply")
    data = bytearray(store.storage.read_bytes(key))
    data[1234] ^= 0x01
    store.storage.put_bytes(key, bytes(data))
    return key, "damaged"


def truncate(store: OcflStore) -> tuple[str, str]:
    key = _key(store, B, "m.obj")
    store.storage.put_bytes(key, store.storage.read_bytes(key)[:100])
    return key, "damaged"


def delete_file(store: OcflStore) -> tuple[str, str]:
    key = _key(store, A, "t.png")
    store.storage.delete(key)
    return key, "missing"


def delete_object(store: OcflStore) -> tuple[str, str]:
    root = store.object_root(B)
    for key in list(store.storage.list(root)):
        store.storage.delete(key)
    return root, "missing_object"


def corrupt_sidecar(store: OcflStore) -> tuple[str, str]:
    key = f"{store.object_root(A)}/inventory.json.sha512"
    store.storage.put_bytes(key, b"0" * 128 + b" inventory.json\n")
    return key, "invalid_inventory"


def corrupt_inventory(store: OcflStore) -> tuple[str, str]:
    key = f"{store.object_root(A)}/inventory.json"
    store.storage.put_bytes(key, store.storage.read_bytes(key).replace(b'"v2"', b'"v3"', 1))
    return key, "invalid_inventory"


def corrupt_version_sidecar(store: OcflStore) -> tuple[str, str]:
    key = f"{store.object_root(A)}/v1/inventory.json.sha512"
    store.storage.put_bytes(key, b"f" * 128 + b" inventory.json\n")
    return f"{store.object_root(A)}/v1/inventory.json", "invalid_inventory"


FAULTS: list[Callable[[OcflStore], tuple[str, str]]] = [
    flip_byte,
    truncate,
    delete_file,
    delete_object,
    corrupt_sidecar,
    corrupt_inventory,
    corrupt_version_sidecar,
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.__name__ for f in FAULTS])
@pytest.mark.parametrize("damaged_root", [0, 1])
def test_fault_is_found_and_repaired(
    replicas: list[OcflStore], fault: Callable[[OcflStore], tuple[str, str]], damaged_root: int
) -> None:
    victim = replicas[damaged_root]
    path, kind = fault(victim)
    if fault is not delete_object:
        assert validation_errors(victim.storage) != []  # ocfl-py agrees it is broken

    found = audit(replicas, workers=2)
    assert not found.ok
    assert [(i.root, i.path, i.kind) for i in found.issues] == [(victim.url, path, kind)]

    repaired = audit(replicas, workers=2, repair=True)
    assert [i.kind for i in repaired.issues] == [kind]
    assert all(i.repaired for i in repaired.issues), repaired.as_dict()
    assert repaired.ok

    again = audit(replicas, workers=2)
    assert again.ok and again.issues == [], again.as_dict()
    for store in replicas:
        assert_valid(store.storage)


def test_damage_on_both_roots_cannot_be_repaired(tmp_path: Path) -> None:
    stores = [make_store(LocalStorage(tmp_path / f"r{i}")) for i in range(2)]
    _fill(stores[0], tmp_path / "src")
    sync_replicas(stores)
    for store in stores:
        flip_byte(store)
    report = audit(stores, repair=True)
    assert not report.ok
    assert [i.repaired for i in report.issues] == [False, False]
    assert "not repaired" in report.issues[0].detail


def test_unexpected_files_are_reported_not_deleted(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "r")
    store = make_store(storage)
    _fill(store, tmp_path / "src")
    stray = f"{store.object_root(A)}/v1/content/stray.txt"
    storage.put_bytes(stray, b"who put this here")
    storage.put_bytes("notes.txt", b"stray at the root")
    (storage.root / store.object_root(B) / ".tmp-abc.part").write_bytes(b"temp")  # ignored
    report = audit([store], repair=True)
    assert sorted((i.path, i.kind) for i in report.issues) == sorted(
        [("notes.txt", "unexpected"), (stray, "unexpected")]
    )
    assert not report.ok and storage.exists(stray)


def test_lone_root_sidecar_is_rebuilt_from_its_own_version_copy(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "r"))
    _fill(store, tmp_path / "src")
    corrupt_sidecar(store)
    report = audit([store], repair=True)
    assert [(i.kind, i.repaired) for i in report.issues] == [("invalid_inventory", True)]
    assert audit([store]).issues == []


def test_sync_replicas_catches_up_a_replica_that_was_down(tmp_path: Path) -> None:
    primary = make_store(LocalStorage(tmp_path / "p"))
    replica = make_store(LocalStorage(tmp_path / "r"))
    _fill(primary, tmp_path / "src")
    assert {a.action for a in sync_replicas([primary, replica])} == {"copied"}
    primary.add_version(B, add_bytes=[(b"later", "later.txt")], message="m", **USER)
    report = audit([primary, replica])
    assert [(i.root, i.kind) for i in report.issues] == [(replica.url, "outdated_object")]

    actions = sync_replicas([primary, replica])
    assert [(a.root, a.object_id, a.action) for a in actions] == [(replica.url, B, "updated")]
    assert sync_replicas([primary, replica]) == []
    assert replica.state(B) == primary.state(B)
    assert audit([primary, replica]).issues == []
    assert_valid(replica.storage)


def test_a_root_that_is_down_is_reported_and_the_others_audited(
    tmp_path: Path, s3_server: S3Server
) -> None:
    """A replica down during a scheduled audit: the audit finishes and says so."""
    primary = make_store(LocalStorage(tmp_path / "p"))
    _fill(primary, tmp_path / "src")
    down = OcflStore(
        open_storage(f"s3://{s3_server.bucket}/x?endpoint=http://127.0.0.1:{closed_port()}")
    )
    report = audit([primary, down], repair=True)
    assert [(i.root, i.kind, i.repaired) for i in report.issues] == [
        (down.url, "unreachable", False)
    ]
    assert not report.ok
    assert report.objects_checked == 2 and report.files_checked == 4  # the primary, in full
    assert json.loads(json.dumps(report.as_dict()))["issues"][0]["kind"] == "unreachable"
    assert sync_replicas([primary, down]) == []  # nothing to copy to, and no exception


def test_diverged_replicas_are_left_alone(tmp_path: Path) -> None:
    one = make_store(LocalStorage(tmp_path / "1"))
    two = make_store(LocalStorage(tmp_path / "2"))
    one.create_object(A, [], add_bytes=[(b"one", "x")], message="m", **USER)
    two.create_object(A, [], add_bytes=[(b"two", "x")], message="m", **USER)
    assert [a.action for a in sync_replicas([one, two])] == ["diverged"]
    report = audit([one, two], repair=True)
    assert {i.kind for i in report.issues} == {"diverged_object"} and not report.ok


def test_throughput_is_reported(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "r"))
    store.create_object(
        A, write_files(tmp_path / "s", {f"f{i}.bin": bytes([i]) * 2_000_000 for i in range(8)}),
        message="m", **USER,
    )  # fmt: skip
    report = audit([store], workers=2)
    assert report.bytes_checked == 16_000_000 and report.throughput_mb_s > 0

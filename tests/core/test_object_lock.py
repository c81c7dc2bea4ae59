"""The write-once option: originals under S3 Object Lock retention (SeaweedFS), local 0444.

What SeaweedFS 4.48 does (checked with these tests): a bucket created with
ObjectLockEnabledForBucket=True reports ObjectLockEnabled=Enabled and versioning
Enabled; PUT (single and multipart) with ObjectLockMode/RetainUntilDate stores
the retention (GetObjectRetention and HEAD show it); DELETE with the VersionId
of a retained version is refused (403 AccessDenied) in both modes; with
BypassGovernanceRetention an admin identity may delete a GOVERNANCE version
(as on AWS with s3:BypassGovernanceRetention), never a COMPLIANCE one; a DELETE
of the plain key adds a delete marker; a PUT over a retained key adds a
version; a lock header on a bucket without Object Lock is refused (400).
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spadok.config import ConfigError, validate_storage_url
from spadok.core.preservation.audit import MISSING, UNEXPECTED, audit
from spadok.core.preservation.ocfl import OcflStore, retained
from spadok.core.storage.base import Replicated
from spadok.core.storage.local import LocalStorage
from spadok.core.storage.s3 import S3Storage
from tests.core.test_ocfl import Crash, CrashingStorage
from tests.servers import S3Server

LOCKED_BUCKET = "spadok-locked"
DAYS = 3
OID = "urn:spadok:capture:lock-1"
WHEN = datetime(2024, 3, 1, tzinfo=UTC)
ORIGINAL = "original/scan.ply"
ARRIVAL = "metadata/arrival.json"


@pytest.fixture(scope="module")
def locked(s3_server: S3Server) -> S3Server:
    """The SeaweedFS server with a bucket made with Object Lock enabled."""
    client = s3_server.client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=LOCKED_BUCKET, ObjectLockEnabledForBucket=True)
    found = client.get_object_lock_configuration(Bucket=LOCKED_BUCKET)
    assert found["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    return s3_server


def locked_url(server: S3Server, mode: str = "governance", bucket: str = LOCKED_BUCKET) -> str:
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    return f"s3://{bucket}/{prefix}?endpoint={server.endpoint}&lock={mode}&retention_days={DAYS}"


def full_key(storage: S3Storage, key: str) -> str:
    return f"{storage.prefix}/{key}"


def retention(storage: S3Storage, key: str) -> dict[str, Any] | None:
    """The Object Lock retention of a key's current version, or None."""
    try:
        found = storage.client.get_object_retention(
            Bucket=storage.bucket, Key=full_key(storage, key)
        )
    except ClientError:
        return None  # AWS: NoSuchObjectLockConfiguration; SeaweedFS: ...NotFoundError
    return found.get("Retention")


def ingest(store: OcflStore, tmp_path: Path) -> None:
    original = tmp_path / "scan.ply"
    if not original.exists():  # the same bytes for every root
        original.write_bytes(b"ply\n" + os.urandom(3000))
    store.init_root()
    store.create_object(
        OID,
        [(original, ORIGINAL)],
        add_bytes=[(b'{"by": "someone"}\n', ARRIVAL)],
        message="ingest",
        user_name="spadok",
        created=WHEN,
    )
    store.add_version(
        OID,
        add_bytes=[(b"glb" * 100, "derivative/web.glb")],
        message="derive",
        user_name="spadok",
        created=WHEN,
    )


def test_the_retention_rule() -> None:
    assert retained("v1/content/original/a.obj")
    assert retained("v1/content/scan.ply")
    assert not retained("v1/content/metadata/arrival.json")
    assert not retained("v2/content/original/a.obj")
    assert not retained("v1/inventory.json")
    assert not retained("inventory.json")


def test_originals_are_retained_derivatives_and_inventories_not(
    locked: S3Server, tmp_path: Path
) -> None:
    storage = S3Storage.from_url(locked_url(locked))
    store = OcflStore(storage)
    ingest(store, tmp_path)
    root = store.object_root(OID)

    found = retention(storage, store.content_key(OID, ORIGINAL))
    assert found is not None and found["Mode"] == "GOVERNANCE"
    ahead = found["RetainUntilDate"] - datetime.now(UTC)
    assert timedelta(days=DAYS, minutes=-10) < ahead <= timedelta(days=DAYS, minutes=1)

    for key in (
        store.content_key(OID, ARRIVAL),
        store.content_key(OID, "derivative/web.glb"),
        f"{root}/inventory.json",
        f"{root}/inventory.json.sha512",
        f"{root}/v1/inventory.json",
        f"{root}/v2/inventory.json",
        f"{root}/0=ocfl_object_1.1",
    ):
        assert retention(storage, key) is None, key
    assert audit([store]).ok


def test_a_retained_original_cannot_be_deleted(locked: S3Server, tmp_path: Path) -> None:
    storage = S3Storage.from_url(locked_url(locked))
    store = OcflStore(storage)
    ingest(store, tmp_path)
    key = store.content_key(OID, ORIGINAL)
    head = storage.client.head_object(Bucket=storage.bucket, Key=full_key(storage, key))

    # Not by S3 itself, version by version ...
    with pytest.raises(ClientError) as refused:
        storage.client.delete_object(
            Bucket=storage.bucket, Key=full_key(storage, key), VersionId=head["VersionId"]
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # ... nor through spadok, which refuses rather than add a delete marker.
    with pytest.raises(PermissionError, match="retained until"):
        storage.delete(key)
    with pytest.raises(PermissionError):
        Replicated([storage]).delete(key)
    assert storage.exists(key)
    # What is not retained deletes as before.
    derivative = store.content_key(OID, "derivative/web.glb")
    storage.delete(derivative)
    assert not storage.exists(derivative)


def test_compliance_refuses_even_a_governance_bypass(locked: S3Server) -> None:
    storage = S3Storage.from_url(locked_url(locked, "compliance"))
    storage.put_bytes("a/original", b"x", retain=True)
    found = retention(storage, "a/original")
    assert found is not None and found["Mode"] == "COMPLIANCE"
    full = full_key(storage, "a/original")
    version = storage.client.head_object(Bucket=storage.bucket, Key=full)["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        storage.client.delete_object(
            Bucket=storage.bucket, Key=full, VersionId=version, BypassGovernanceRetention=True
        )
    # GOVERNANCE, for contrast: an identity allowed to bypass can delete (SeaweedFS' admin).
    gov = S3Storage.from_url(locked_url(locked, "governance"))
    gov.put_bytes("a/original", b"x", retain=True)
    full = full_key(gov, "a/original")
    version = gov.client.head_object(Bucket=gov.bucket, Key=full)["VersionId"]
    gov.client.delete_object(
        Bucket=gov.bucket, Key=full, VersionId=version, BypassGovernanceRetention=True
    )


def test_large_originals_go_up_in_parts_with_retention(locked: S3Server, tmp_path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    storage = S3Storage.from_url(locked_url(locked))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    real = storage.client.upload_fileobj

    def in_parts(*args: Any, **kwargs: Any) -> None:  # 5 MiB parts: a multipart upload
        kwargs["Config"] = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
        real(*args, **kwargs)

    storage.client.upload_fileobj = in_parts  # type: ignore[method-assign]
    storage.put_file("big/original.bin", big, retain=True)
    found = retention(storage, "big/original.bin")
    assert found is not None and found["Mode"] == "GOVERNANCE"
    assert storage.size("big/original.bin") == big.stat().st_size


def test_a_plain_delete_only_hides_the_original_and_the_audit_restores_it(
    locked: S3Server, tmp_path: Path
) -> None:
    """An intruder's DELETE on the key adds a delete marker; the version stays.

    spadok sees the key as absent (listings and HEAD skip delete markers), so the
    audit reports it missing in that root and restores it from the other root;
    the restored copy is retained again. Reading the old version back by its id is
    left to a human (it is still there until its retention ends).
    """
    storage = S3Storage.from_url(locked_url(locked))
    s3_store = OcflStore(storage)
    local_store = OcflStore(LocalStorage(tmp_path / "local"))
    ingest(s3_store, tmp_path)
    ingest(local_store, tmp_path)
    key = s3_store.content_key(OID, ORIGINAL)
    full = full_key(storage, key)
    version = storage.client.head_object(Bucket=storage.bucket, Key=full)["VersionId"]

    gone = storage.client.delete_object(Bucket=storage.bucket, Key=full)
    assert gone["DeleteMarker"] is True
    kept = storage.client.get_object(Bucket=storage.bucket, Key=full, VersionId=version)
    assert kept["Body"].read() == local_store.storage.read_bytes(key)
    assert not storage.exists(key)
    assert key not in set(storage.list())

    report = audit([s3_store, local_store], repair=True)
    assert [(i.root, i.path, i.kind, i.repaired) for i in report.issues] == [
        (storage.url, key, MISSING, True)
    ]
    assert storage.exists(key)
    found = retention(storage, key)
    assert found is not None and found["Mode"] == "GOVERNANCE"
    assert audit([s3_store, local_store]).ok


def test_recovery_leaves_a_retained_leftover_and_a_retry_succeeds(
    locked: S3Server, tmp_path: Path
) -> None:
    storage = S3Storage.from_url(locked_url(locked))
    store = OcflStore(storage)
    store.init_root()
    original = tmp_path / "scan.ply"
    original.write_bytes(b"ply\n" + os.urandom(2000))
    args: dict[str, Any] = {
        "add_bytes": [(b"{}\n", ARRIVAL)],
        "message": "ingest",
        "user_name": "spadok",
        "created": WHEN,
    }
    # Dies after the original and the arrival record are written, before any inventory.
    with pytest.raises(Crash):
        OcflStore(CrashingStorage(storage, 2)).create_object(OID, [(original, ORIGINAL)], **args)
    root = store.object_root(OID)
    leftover = f"{root}/v1/content/{ORIGINAL}"
    assert set(storage.list(root)) == {leftover, f"{root}/v1/content/{ARRIVAL}"}

    assert store.recover(OID) == [f"{root}/v1/content/{ARRIVAL}"]  # the original stays
    assert set(storage.list(root)) == {leftover}
    assert store.recover() == []  # a whole-root recovery does not crash on it either
    report = audit([store])
    assert [(i.path, i.kind) for i in report.issues] == [(leftover, UNEXPECTED)]

    assert store.create_object(OID, [(original, ORIGINAL)], **args) == "v1"
    with store.open_logical(OID, ORIGINAL) as fh:
        assert fh.read() == original.read_bytes()
    found = retention(storage, leftover)
    assert found is not None and found["Mode"] == "GOVERNANCE"
    assert audit([store]).ok


def test_without_lock_options_retain_is_a_no_op(s3_server: S3Server, tmp_path: Path) -> None:
    storage = S3Storage.from_url(s3_server.url())  # the plain bucket, no lock options
    store = OcflStore(storage)
    ingest(store, tmp_path)
    key = store.content_key(OID, ORIGINAL)
    assert retention(storage, key) is None
    storage.delete(key)
    assert not storage.exists(key)


def test_lock_on_a_bucket_without_object_lock_is_a_config_error(s3_server: S3Server) -> None:
    storage = S3Storage.from_url(locked_url(s3_server, bucket=s3_server.bucket))
    with pytest.raises(ConfigError, match="SPADOK_STORAGE") as error:
        storage.put_bytes("x", b"x", retain=True)
    message = str(error.value)
    assert "Object Lock" in message and "create" in message.lower()
    assert s3_server.bucket in message and "secret" not in message
    with pytest.raises(ConfigError):  # every write, not only retained ones
        storage.put_bytes("y", b"y")
    assert not storage.exists("x")


@pytest.mark.parametrize(
    "query",
    [
        "lock=governance",
        "retention_days=3",
        "lock=forever&retention_days=3",
        "lock=compliance&retention_days=0",
    ],
)
def test_config_refuses_half_or_bad_lock_options(query: str) -> None:
    with pytest.raises(ConfigError, match="SPADOK_STORAGE"):
        validate_storage_url(f"s3://bucket/p?endpoint=http://127.0.0.1:9000&{query}")


def test_config_accepts_lock_options() -> None:
    url = "s3://bucket/p?lock=COMPLIANCE&retention_days=3650"
    assert validate_storage_url(url) == url
    assert S3Storage.from_url(url).lock_mode == "COMPLIANCE"


# --- local folders: a read-only mode, best effort ---------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalStorage]:
    yield LocalStorage(tmp_path / "root")


def test_local_retain_makes_the_file_read_only(local: LocalStorage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"original")
    local.put_file("a/original.bin", src, retain=True)
    local.put_bytes("a/blob", b"blob", retain=True)
    local.put_bytes("a/inventory.json", b"{}")
    assert mode(local.root / "a/original.bin") == 0o444
    assert mode(local.root / "a/blob") == 0o444
    assert mode(local.root / "a/inventory.json") == 0o644
    if os.geteuid() != 0:  # root ignores file modes
        with pytest.raises(PermissionError):
            (local.root / "a/original.bin").open("r+b")
    # Best effort only: spadok itself may still replace or delete it.
    local.put_bytes("a/original.bin", b"again", retain=True)
    assert local.read_bytes("a/original.bin") == b"again"
    local.delete("a/original.bin")
    assert not local.exists("a/original.bin")


def test_replicated_passes_retain_on(tmp_path: Path) -> None:
    roots = [LocalStorage(tmp_path / "one"), LocalStorage(tmp_path / "two")]
    Replicated(roots).put_bytes("k", b"v", retain=True)
    assert [mode(r.root / "k") for r in roots] == [0o444, 0o444]


def test_ocfl_retains_only_v1_originals_locally(local: LocalStorage, tmp_path: Path) -> None:
    store = OcflStore(local)
    ingest(store, tmp_path)
    root = local.root / store.object_root(OID)
    read_only = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and mode(p) == 0o444
    )
    assert read_only == [f"v1/content/{ORIGINAL}"]

"""One contract for every storage backend, run on a local folder and on real S3 (SeaweedFS)."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest

from spadok.core.errors import SpadokError
from spadok.core.storage.base import Replicated, Storage, open_storage, open_storages
from spadok.core.storage.local import LocalStorage
from tests.servers import S3Server, closed_port

# --- helpers ---------------------------------------------------------------------------


class _Breaks(io.RawIOBase):
    """A readable file that fails with OSError after ``limit`` bytes."""

    def __init__(self, real: io.BufferedReader, limit: int) -> None:
        self.real = real
        self.limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.real.seek(offset, whence)

    def tell(self) -> int:
        return self.real.tell()

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        if self.real.tell() >= self.limit:
            raise OSError("disk read failed (test)")
        want = min(len(buf), self.limit - self.real.tell())
        data = self.real.read(want)
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.real.close()
        super().close()


class BreakingPath(type(Path())):  # type: ignore[misc]
    """A path whose file breaks half-way through reading (a failing disk, a cut mount)."""

    fail_after = 0

    def open(self, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        assert mode == "rb"
        return io.BufferedReader(_Breaks(super().open("rb"), self.fail_after))


def _breaking(path: Path, fail_after: int) -> Path:
    broken = BreakingPath(path)
    broken.fail_after = fail_after
    return broken


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path: Path) -> Storage:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    server: S3Server = request.getfixturevalue("s3_server")
    return open_storage(server.url())


# --- the contract ----------------------------------------------------------------------


def test_put_bytes_then_read(storage: Storage) -> None:
    storage.put_bytes("captures/c1/original/model.obj", b"v 0 0 0\n")
    assert storage.exists("captures/c1/original/model.obj")
    assert storage.size("captures/c1/original/model.obj") == 8
    assert storage.read_bytes("captures/c1/original/model.obj") == b"v 0 0 0\n"
    with storage.open("captures/c1/original/model.obj") as fh:
        assert fh.read(3) == b"v 0"


def test_put_file_roundtrip_and_digest(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    payload = bytes(range(256)) * 4099  # ~1 MB, not a multiple of any chunk size
    src.write_bytes(payload)
    storage.put_file("a/b/in.bin", src)
    assert storage.size("a/b/in.bin") == len(payload)
    assert storage.digest("a/b/in.bin") == hashlib.sha512(payload).hexdigest()
    assert storage.digest("a/b/in.bin", "sha256") == hashlib.sha256(payload).hexdigest()
    out = storage.fetch("a/b/in.bin", tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == payload


def test_overwrite_replaces_whole_object(storage: Storage) -> None:
    storage.put_bytes("k", b"a much longer first version")
    storage.put_bytes("k", b"short")
    assert storage.read_bytes("k") == b"short"


def test_missing_object(storage: Storage) -> None:
    assert not storage.exists("nothing/here")
    with pytest.raises(FileNotFoundError):
        storage.size("nothing/here")
    with pytest.raises(FileNotFoundError), storage.open("nothing/here") as fh:
        fh.read()
    storage.delete("nothing/here")  # deleting what is not there is not an error


def test_delete(storage: Storage) -> None:
    storage.put_bytes("x/y", b"1")
    storage.delete("x/y")
    assert not storage.exists("x/y")
    assert "x/y" not in set(storage.list())


def test_list_is_by_folder(storage: Storage) -> None:
    for key in ("captures/c1/a", "captures/c1/sub/b", "captures/c10/c", "other/d"):
        storage.put_bytes(key, b".")
    assert set(storage.list()) == {
        "captures/c1/a",
        "captures/c1/sub/b",
        "captures/c10/c",
        "other/d",
    }
    assert set(storage.list("captures/c1")) == {"captures/c1/a", "captures/c1/sub/b"}
    assert set(storage.list("captures/c1/")) == {"captures/c1/a", "captures/c1/sub/b"}
    assert set(storage.list("nowhere")) == set()


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "",
        "./a",
        "a//b",
        "a/",
        "a\\b",
        "a/.tmp-x.part",
        "nul\x00",
    ],
)
def test_bad_keys_are_refused(storage: Storage, key: str, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put_file(key, src)
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.open(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.exists(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.delete(key)


def test_list_refuses_escaping_prefix(storage: Storage) -> None:
    with pytest.raises(ValueError):
        list(storage.list("../"))


def test_failed_write_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(b"\x01" * 300_000)
    with pytest.raises(OSError, match="test"):
        storage.put_file("half/written.bin", _breaking(src, 150_000))
    assert not storage.exists("half/written.bin")
    assert list(storage.list()) == []


def test_failed_overwrite_keeps_the_old_object(storage: Storage, tmp_path: Path) -> None:
    storage.put_bytes("kept.bin", b"old")
    src = tmp_path / "new.bin"
    src.write_bytes(b"\x02" * 200_000)
    with pytest.raises(OSError):
        storage.put_file("kept.bin", _breaking(src, 100_000))
    assert storage.read_bytes("kept.bin") == b"old"
    assert list(storage.list()) == ["kept.bin"]


def test_local_failed_write_removes_its_temporary_file(tmp_path: Path) -> None:
    root = LocalStorage(tmp_path / "root")
    src = tmp_path / "f.bin"
    src.write_bytes(b"\x03" * 100_000)
    with pytest.raises(OSError):
        root.put_file("d/f.bin", _breaking(src, 50_000))
    leftovers = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert leftovers == []


def test_s3_failed_multipart_upload_leaves_nothing(s3_server: S3Server, tmp_path: Path) -> None:
    storage = open_storage(s3_server.url())
    src = tmp_path / "large.bin"
    src.write_bytes(b"\x04" * (9 * 1024 * 1024))  # above boto3's 8 MiB multipart threshold
    with pytest.raises(OSError):
        storage.put_file("large.bin", _breaking(src, 8 * 1024 * 1024 + 1000))
    assert not storage.exists("large.bin")
    assert list(storage.list()) == []


def test_s3_prefixes_keep_archives_apart(s3_server: S3Server) -> None:
    one, two = open_storage(s3_server.url()), open_storage(s3_server.url())
    one.put_bytes("same/key", b"one")
    assert not two.exists("same/key")
    assert list(two.list()) == []


# --- replication -----------------------------------------------------------------------


@pytest.fixture
def replicated(tmp_path: Path, s3_server: S3Server) -> Replicated:
    """A local primary and an S3 replica, the embedded archive with an off-site copy."""
    return open_storages([(tmp_path / "primary").as_uri(), s3_server.url()])


def test_replicated_writes_reach_every_root(replicated: Replicated, tmp_path: Path) -> None:
    src = tmp_path / "m.glb"
    src.write_bytes(b"glTF" + b"\x00" * 1000)
    replicated.put_file("captures/c/original/m.glb", src)
    replicated.put_bytes("captures/c/manifest.json", b"{}")
    for root in replicated.roots:
        assert root.read_bytes("captures/c/original/m.glb") == src.read_bytes()
        assert root.read_bytes("captures/c/manifest.json") == b"{}"
    replicated.delete("captures/c/manifest.json")
    for root in replicated.roots:
        assert not root.exists("captures/c/manifest.json")


def test_replicated_reads_fall_back_to_a_replica(replicated: Replicated) -> None:
    replicated.put_bytes("captures/c/original/lost.obj", b"v 1 2 3\n")
    replicated.primary.delete("captures/c/original/lost.obj")  # the primary lost it
    assert replicated.exists("captures/c/original/lost.obj")
    assert replicated.size("captures/c/original/lost.obj") == 8
    assert replicated.read_bytes("captures/c/original/lost.obj") == b"v 1 2 3\n"
    assert replicated.local_path("captures/c/original/lost.obj") is None


def test_replicated_missing_everywhere(replicated: Replicated) -> None:
    assert not replicated.exists("nope")
    with pytest.raises(FileNotFoundError):
        replicated.open("nope")


def test_a_replica_that_is_down_does_not_fail_the_write(
    tmp_path: Path, s3_server: S3Server
) -> None:
    down = f"s3://{s3_server.bucket}/x?endpoint=http://127.0.0.1:{closed_port()}"
    storage = open_storages([(tmp_path / "primary").as_uri(), down])
    start = time.monotonic()
    storage.put_bytes("a/one", b"1")
    storage.put_bytes("a/two", b"2")  # the replica is now known to be down: skipped
    assert storage.primary.read_bytes("a/one") == b"1"
    assert storage.read_bytes("a/two") == b"2"  # reads skip the unreachable replica
    assert time.monotonic() - start < 30


def test_a_primary_that_is_down_fails_the_write_clearly(
    tmp_path: Path, s3_server: S3Server
) -> None:
    down = f"s3://{s3_server.bucket}/x?endpoint=http://127.0.0.1:{closed_port()}"
    storage = open_storages([down, (tmp_path / "replica").as_uri()])
    with pytest.raises(SpadokError) as err:
        storage.put_bytes("a/one", b"1")
    assert err.value.code == "storage.unavailable"
    assert not storage.roots[1].exists("a/one")  # no replica without the primary

"""The part file's write path: each piece and the whole file hashed as the bytes arrive,
the same whichever process writes the next piece, and a rejected piece leaves no trace."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from pathlib import Path

import pytest

from spadok.uploads import parts
from spadok.uploads.tus import parse_checksum

MIB = 1024 * 1024


def _pieces() -> list[bytes]:
    # sizes around the read size, and one of a few bytes (hashlib keeps the GIL for those)
    return [os.urandom(n) for n in (3 * MIB + 17, MIB, 5, 2 * MIB - 1)]


@pytest.mark.parametrize("threads", [True, False])
def test_running_digests_equal_the_whole_files(
    tmp_path: Path, threads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "HASH_THREADS", threads)
    paths = parts.Paths(tmp_path, uuid.uuid4())
    paths.part.touch()
    offset = 0
    for n, piece in enumerate(_pieces()):
        running = parts.running_for(paths, offset)
        written = parts.append(
            paths.part, offset, io.BytesIO(piece).read, expected=len(piece), running=running
        )
        assert written.sha256 == hashlib.sha256(piece).hexdigest() and written.whole
        offset += written.length
        assert running.offset == offset
        if n % 2 == 0:  # the next piece reaches this process again
            parts.keep_running(paths.upload_id, running)
        # otherwise another process (no state): it hashes the part file first
    whole = paths.part.read_bytes()
    final = parts.running_for(paths, offset)
    assert final.digests() == {"sha256": hashlib.sha256(whole).hexdigest()}


def test_a_stale_running_state_is_not_used(tmp_path: Path) -> None:
    """State kept at another offset (a writer elsewhere moved on) is dropped for the file's."""
    paths = parts.Paths(tmp_path, uuid.uuid4())
    data = os.urandom(MIB + 3)
    paths.part.write_bytes(data)
    parts.keep_running(paths.upload_id, parts.Running(5))  # at byte 5: wrong
    running = parts.running_for(paths, len(data))
    assert running.digests()["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_piece_failing_its_checksum_leaves_the_running_digests_as_they_were(
    tmp_path: Path,
) -> None:
    paths = parts.Paths(tmp_path, uuid.uuid4())
    first, second = os.urandom(MIB), os.urandom(MIB + 1)
    paths.part.touch()
    running = parts.running_for(paths, 0)
    parts.append(paths.part, 0, io.BytesIO(first).read, expected=len(first), running=running)
    wrong = parse_checksum("sha256 " + base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    written = parts.append(
        paths.part,
        len(first),
        io.BytesIO(second).read,
        expected=len(second),
        checksum=wrong,
        running=running,
    )
    assert written.checksum_ok is False and written.length == 0
    assert running.offset == len(first) and paths.part.stat().st_size == len(first)
    assert running.digests()["sha256"] == hashlib.sha256(first).hexdigest()


def test_a_client_gone_mid_piece_is_hashed_as_far_as_it_came(tmp_path: Path) -> None:
    paths = parts.Paths(tmp_path, uuid.uuid4())
    piece = os.urandom(3 * MIB)
    stream = io.BytesIO(piece[: 2 * MIB + 9])  # the connection breaks here
    running = parts.Running(0)
    written = parts.append(paths.part, 0, stream.read, expected=len(piece), running=running)
    kept = piece[: 2 * MIB + 9]
    assert not written.whole and written.length == len(kept) == running.offset
    assert running.digests()["sha256"] == hashlib.sha256(kept).hexdigest()
    assert paths.part.read_bytes() == kept


def test_pieces_written_behind_the_request_are_whole_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the disk writing woken every few reads, the file and its digests are the bytes sent."""
    monkeypatch.setattr(parts, "FLUSH_BYTES", MIB)
    paths = parts.Paths(tmp_path, uuid.uuid4())
    paths.part.touch()
    pieces = [os.urandom(5 * MIB + 3), os.urandom(2 * MIB)]
    running = parts.running_for(paths, 0)
    offset = 0
    for piece in pieces:
        written = parts.append(
            paths.part, offset, io.BytesIO(piece).read, expected=len(piece), running=running
        )
        assert (written.length, written.sha256) == (len(piece), hashlib.sha256(piece).hexdigest())
        offset += written.length
    whole = b"".join(pieces)
    assert paths.part.read_bytes() == whole
    assert running.digests() == {"sha256": hashlib.sha256(whole).hexdigest()}


def test_an_sha256_checksum_is_checked_against_the_pieces_digest(tmp_path: Path) -> None:
    paths = parts.Paths(tmp_path, uuid.uuid4())
    piece = os.urandom(MIB + 1)
    good = parse_checksum("sha256 " + base64.b64encode(hashlib.sha256(piece).digest()).decode())
    bad = parse_checksum("sha256 " + base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    written = parts.append(paths.part, 0, io.BytesIO(piece).read, expected=len(piece), checksum=bad)
    assert (written.checksum_ok, written.length, paths.part.stat().st_size) == (False, 0, 0)
    written = parts.append(
        paths.part, 0, io.BytesIO(piece).read, expected=len(piece), checksum=good
    )
    assert (written.checksum_ok, written.length) == (True, len(piece))
    assert paths.part.read_bytes() == piece

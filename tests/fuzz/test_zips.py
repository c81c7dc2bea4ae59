"""Zips built to hurt: escaping names, links, nested zips, bombs, lying headers, damage.

:func:`spadok.core.inputs.expand` must yield models or failures with a code,
write nothing outside its working folder, never more bytes than the limit
(counted over every nested zip together), and leave nothing once cleaned up.
"""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spadok.core import inputs
from spadok.core.errors import CODES, SpadokError
from spadok.core.limits import Limits
from tests.fuzz import replay
from tests.fuzz.strategies import fast, long

LIMITS = Limits(max_zip_entries=24, max_zip_total_bytes=256 * 1024, max_zip_depth=2)
OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"

names = st.one_of(
    st.sampled_from(
        [
            "model.obj", "a/b/model.obj", "Київ/собор.obj", "../evil.obj", "/etc/evil.obj",
            "a/../../evil.obj", "C:/evil.obj", "..\\evil.obj", "a\\..\\..\\evil.obj", ".", "..",
            "a/./b.obj", "dir/", "a", "a/b", "x.zip", "x.zip.d/y.obj", "__MACOSX/._m.obj",
            ".hidden/m.obj", "n" * 300 + ".obj", "d" * 300 + "/m.obj", "con:evil.obj",
            "a//b.obj", " space .obj", "tab\t.obj", "nul\x00byte.obj", "dup.obj", "dup.obj",
        ]
    ),
    st.text(min_size=1, max_size=30),
)  # fmt: skip


@st.composite
def contents(draw: Any, depth: int) -> bytes:
    kind = draw(st.sampled_from(["obj", "bytes", "zeros", "zip"] if depth < 4 else ["obj"]))
    if kind == "obj":
        return OBJ
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    if kind == "zeros":
        return b"\0" * draw(st.sampled_from([0, 1, 4096, 200 * 1024, 300 * 1024]))
    return draw(zips(depth + 1))


@st.composite
def zips(draw: Any, depth: int = 0) -> bytes:
    """A zip of up to 30 entries (more than the limit), nested up to four deep."""
    entries = draw(st.lists(st.tuples(names, contents(depth)), min_size=0, max_size=30))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in entries:
            info = zipfile.ZipInfo(name.replace("\x00", "") or "empty")
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            if draw(st.integers(0, 9)) == 0:
                info.external_attr = 0o120777 << 16  # a symbolic link
            zf.writestr(info, body)
    raw = buf.getvalue()
    return draw(damage(raw)) if depth == 0 else raw


@st.composite
def damage(draw: Any, raw: bytes) -> bytes:
    """Leave the zip as it is, or make its headers lie, or break its bytes."""
    how = draw(st.sampled_from(["none", "none", "sizes", "flags", "flip", "truncate"]))
    data = bytearray(raw)
    if how == "sizes":
        # Central directory entries: set the declared sizes to lie.
        for at in _find_all(data, b"PK\x01\x02"):
            if at + 28 <= len(data):
                struct.pack_into(
                    "<I", data, at + 20, draw(st.sampled_from([0, 1, 2**31, 2**32 - 1]))
                )
                struct.pack_into(
                    "<I", data, at + 24, draw(st.sampled_from([0, 1, 2**31, 2**32 - 1]))
                )
    elif how == "flags":
        for at in _find_all(data, b"PK\x01\x02"):
            if at + 12 <= len(data):
                struct.pack_into("<H", data, at + 8, draw(st.sampled_from([1, 8, 0x41, 0xFFFF])))
                struct.pack_into("<H", data, at + 10, draw(st.sampled_from([0, 8, 12, 14, 99])))
    elif how == "flip" and data:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
    elif how == "truncate" and data:
        del data[draw(st.integers(0, len(data) - 1)) :]
    return bytes(data)


def _find_all(data: bytearray, sig: bytes) -> list[int]:
    out, at = [], data.find(sig)
    while at >= 0:
        out.append(at)
        at = data.find(sig, at + 1)
    return out


def _tree_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def check_zip(tmp: Path, raw: bytes) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    outside = tmp / "outside"
    work = outside / "work"
    outside.mkdir(parents=True)
    src = tmp / "upload.zip"
    src.write_bytes(raw)
    found = list(inputs.expand([src], work, LIMITS))  # only SpadokError is caught inside
    for item in found:
        if isinstance(item, inputs.Failed):
            assert isinstance(item.error, SpadokError) and item.error.code in CODES
        elif item.primary == src:
            pass  # damaged past being a zip: the file itself goes on to the format readers
        else:
            assert item.primary.resolve().is_relative_to(work.resolve()), item.primary
            assert item.root.resolve().is_relative_to(work.resolve()), item.root
    assert sorted(p.name for p in outside.iterdir()) in ([], ["work"]), "wrote beside the work dir"
    assert sorted(p.name for p in tmp.iterdir()) == ["outside", "upload.zip"]
    if work.exists():
        for p in work.rglob("*"):
            assert not p.is_symlink(), f"a link was unpacked: {p}"
            assert p.resolve().is_relative_to(work.resolve())
        assert _tree_bytes(work) <= LIMITS.max_zip_total_bytes, "unpacked past the limit"
    inputs.cleanup(work)
    assert not work.exists()


def test_hostile_zips_fail_with_a_code_and_stay_inside(tmp_path: Path) -> None:
    @fast(80)
    @given(raw=zips())
    def run(raw: bytes) -> None:
        check_zip(tmp_path / "case", raw)

    run()


@pytest.mark.parametrize("note_path", replay.notes("zip"), ids=lambda p: p.stem)
def test_zip_corpus(tmp_path: Path, note_path: Path) -> None:
    """What the fuzzer found in the unpacking, each ending in its code."""
    note = replay.load(note_path)
    found = list(inputs.expand([note_path.parent / note["file"]], tmp_path / "work", LIMITS))
    assert [(type(f).__name__, getattr(f, "error", None) and f.error.code) for f in found] == [
        ("Failed", note["expect"])
    ], note["found"]
    assert _tree_bytes(tmp_path / "work") <= LIMITS.max_zip_total_bytes


@pytest.mark.fuzz_long
def test_long_hostile_zips(tmp_path: Path) -> None:
    @long(5000)
    @given(raw=zips())
    def run(raw: bytes) -> None:
        check_zip(tmp_path / "case", raw)

    run()

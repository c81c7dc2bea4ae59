"""Upload-Metadata, Upload-Checksum and file names: parsing without a server."""

from __future__ import annotations

import pytest

from spadok.core.errors import SpadokError
from spadok.uploads import tus


def test_metadata_pairs_decode_as_utf8() -> None:
    raw = "filename 0KHQvtGE0ZbRjy5nbGI=,title,record ci0wMQ=="
    assert tus.parse_metadata(raw) == {"filename": "Софія.glb", "title": "", "record": "r-01"}
    assert tus.parse_metadata(tus.encode_metadata({"a": "b c", "e": ""})) == {"a": "b c", "e": ""}
    assert tus.parse_metadata(None) == {} and tus.parse_metadata(" ") == {}


@pytest.mark.parametrize("raw", ["filename !!!", "a YQ==,a YQ==", "a b c", "a /w=="])
def test_bad_metadata_is_refused(raw: str) -> None:
    with pytest.raises(SpadokError) as info:
        tus.parse_metadata(raw)
    assert info.value.code == "upload.bad_request"


def test_checksum_header() -> None:
    found = tus.parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
    assert found is not None and found.algorithm == "sha1" and len(found.digest) == 20
    assert tus.parse_checksum(None) is None
    for bad in ["sha1", "crc32 AAAA", "sha1 !!!", "sha256 Kq5sNclPz7QV2+lfQIuc6R7oRu0="]:
        with pytest.raises(SpadokError):
            tus.parse_checksum(bad)


def test_lengths() -> None:
    assert tus.parse_length("0", "Upload-Offset") == 0
    for bad in [None, "", "-1", "1.5", "١٢"]:
        with pytest.raises(SpadokError):
            tus.parse_length(bad, "Upload-Length")


def test_file_names_keep_spaces_and_letters_but_no_folders() -> None:
    assert tus.safe_filename("Собор Св. Софії.glb") == "Собор Св. Софії.glb"
    assert tus.safe_filename("../../etc/passwd") == "passwd"
    assert tus.safe_filename("C:\\scans\\a b.ply") == "a b.ply"
    assert tus.safe_filename("a\x00b\n.obj") == "ab.obj"
    assert tus.safe_filename("..") == "upload" and tus.safe_filename("") == "upload"
    # NFD (as macOS sends it) becomes NFC
    assert tus.safe_filename("й.glb".replace("й", "и\u0306")) == "й.glb"
    long = tus.safe_filename("я" * 300 + ".zip")
    assert long.endswith(".zip") and len(long.encode()) <= 255

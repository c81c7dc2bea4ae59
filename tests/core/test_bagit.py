"""BagIt export, checked by the Library of Congress ``bagit`` library."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import bagit
import pytest

from spadok.core.preservation.bagit import bag_directory_name, export_bag
from spadok.core.preservation.ocfl import OcflError
from spadok.core.storage.base import Storage
from spadok.core.storage.local import LocalStorage
from tests.core.ocfl_helpers import any_storage, make_store, write_files  # noqa: F401

USER: dict[str, Any] = {"user_name": "Test", "user_address": "mailto:t@example.org"}
INFO = {
    "Source-Organization": "Spadok test archive",
    "Contact-Email": "archive@example.org",
    "External-Description": "Two scans\nof a church, for transfer",
}


def test_bag_of_latest_state_validates(any_storage: Storage, tmp_path: Path) -> None:  # noqa: F811
    store = make_store(any_storage)
    files = {"scan.ply": b"ply" * 100_000, "odd name/x.txt": b"odd", "same.ply": b"ply" * 100_000}
    store.create_object("urn:a", write_files(tmp_path / "a", files), message="m", **USER)
    store.add_version("urn:a", add_bytes=[(b"{}", "metadata/record.json")], message="m", **USER)
    store.create_object("urn:b", [], add_bytes=[(b"b", "b.txt")], message="m", **USER)

    out = export_bag(store, ["urn:a", "urn:b"], tmp_path / "bag", bag_info=INFO)
    bag = bagit.Bag(str(out))
    bag.validate()  # raises on any problem, including Payload-Oxum
    assert bag.info["Source-Organization"] == "Spadok test archive"
    assert bag.info["External-Identifier"] == ["urn:a", "urn:b"]
    assert bag.info["Payload-Oxum"] == f"{300_000 * 2 + 3 + 2 + 1}.5"
    a = out / "data" / bag_directory_name("urn:a")
    assert a.name.startswith("urn_a-")
    assert (a / "odd name" / "x.txt").read_bytes() == b"odd"
    assert (out / "ocfl" / a.name / "inventory.json").exists()
    assert not (tmp_path / ".bag.partial").exists()


def test_percent_in_paths_is_encoded_as_rfc_8493_says(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "root"))
    store.create_object("c1", [], add_bytes=[(b"odd", "100% done.txt")], message="m", **USER)
    out = export_bag(store, ["c1"], tmp_path / "bag", bag_info=INFO)
    manifest = (out / "manifest-sha512.txt").read_text()
    assert f"{hashlib.sha512(b'odd').hexdigest()}  data/c1/100%25 done.txt\n" == manifest
    assert (out / "data" / "c1" / "100% done.txt").read_bytes() == b"odd"


def test_bag_of_all_versions(tmp_path: Path) -> None:
    store = make_store(LocalStorage(tmp_path / "root"))
    store.create_object("urn:a", [], add_bytes=[(b"1", "f.txt")], message="m", **USER)
    store.add_version("urn:a", add_bytes=[(b"2", "f.txt")], message="m", **USER)
    out = export_bag(store, ["urn:a"], tmp_path / "bag", bag_info=INFO, all_versions=True)
    bagit.Bag(str(out)).validate()
    folder = out / "data" / bag_directory_name("urn:a")
    assert (folder / "v1" / "f.txt").read_bytes() == b"1"
    assert (folder / "v2" / "f.txt").read_bytes() == b"2"


def test_damaged_file_stops_the_export(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    store = make_store(storage)
    store.create_object("urn:a", [], add_bytes=[(b"good", "f.txt")], message="m", **USER)
    storage.put_bytes(store.content_key("urn:a", "f.txt"), b"bad!")
    with pytest.raises(OcflError):
        export_bag(store, ["urn:a"], tmp_path / "bag", bag_info=INFO)
    assert not (tmp_path / "bag").exists() and not (tmp_path / ".bag.partial").exists()

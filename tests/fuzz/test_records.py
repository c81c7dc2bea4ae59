"""What the fuzzer found, through the archive: no half-made record, capture or version.

The command line's ingest reads and derives before it stores anything, so a bad
file leaves no row and no object. An upload's original is kept first (the
archive never drops what arrived), so its processing must end FAILED with the
file's error code, with no derivative rows and no second OCFL version, and
stay so when the job runs again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spadok.core import inputs
from spadok.core.errors import SpadokError
from tests.fuzz import replay

pytestmark = pytest.mark.django_db

CASES = ["ply/face_index_out_of_range", "obj/two_coordinates", "las/vlr_count_huge",
         "laz/layer_size_huge"]  # fmt: skip


def _file(case: str) -> tuple[Path, str]:
    note_path = replay.CORPUS / f"{case}.json"
    note = replay.load(note_path)
    return note_path.parent / note["file"], note["expect"]


def _objects(storage_root: Path) -> dict[Path, list[str]]:
    """Each OCFL object in the root, with its version folders."""
    out = {}
    for inventory in storage_root.rglob("inventory.json"):
        if json.loads(inventory.read_text()).get("type", "").endswith("inventory"):
            root = inventory.parent
            if root.name.startswith("v") and root.name[1:].isdigit():
                continue  # a version's own copy of the inventory
            out[root] = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[:1] == "v")
    return out


@pytest.mark.parametrize("case", [*CASES, "zip/file_then_folder"])
def test_ingest_of_a_bad_file_keeps_nothing(case: str, storage_root: Path, tmp_path: Path) -> None:
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, Derivative, Record

    path, code = _file(case)
    errors = []
    for unit in inputs.expand([path], tmp_path / "work"):
        if isinstance(unit, inputs.Failed):
            errors.append(unit.error.code)
            continue
        with pytest.raises(SpadokError) as caught:
            services.capture_ingest(unit=unit)
        errors.append(caught.value.code)
    assert errors == [code]
    assert (Record.objects.count(), Capture.objects.count(), Derivative.objects.count()) == (
        0,
        0,
        0,
    )
    assert _objects(storage_root) == {}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_upload_fails_once_and_cleanly(case: str, storage_root: Path) -> None:
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, CaptureState, Derivative

    path, code = _file(case)
    record = services.record_create(title="fuzz")
    capture = services.capture_create_received(
        record=record, files=[services.Original(path, path.name)], source_name=path.name
    )
    for _ in range(2):  # the job may run again (a retry, a worker presumed dead)
        assert services.capture_process(capture_id=capture.id) == f"failed:{code}"
        failed = Capture.objects.get(id=capture.id)
        assert (failed.state, failed.error_code) == (CaptureState.FAILED, code)
        assert "Traceback" not in failed.error_message and failed.error_message
        assert Derivative.objects.filter(capture=capture).count() == 0
    objects = _objects(storage_root)
    assert list(objects.values()) == [["v1"]], objects  # the original, and nothing half-made

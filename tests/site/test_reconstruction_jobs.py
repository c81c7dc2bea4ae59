"""Uploads that are captures (photos, a video, a LiDAR capture) become models in the archive.

The raw inputs stay the capture's original, byte for byte; the reconstructed model,
its cameras and its report are derivatives beside the web copies made from the model;
a capture that cannot become a model ends with the report's advice on its page.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from spadok.core.reconstruct.detect import capture_kind, kind_of_names, sniff
from tests.testdata import data

CHAIR = ("phone_scans", "3dscannerapp_chair_lidar", "chair_scan")
TEMPLE = ("photogrammetry", "middlebury_mvs", "templeSparseRing")
FUZE = ("awkward", "trimesh_models")


def _zip(folder: Path, dest: Path, names: list[str] | None = None) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file() and (names is None or path.name in names):
                zf.write(path, f"capture/{path.name}")
    return dest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- what is a capture -------------------------------------------------------------


def test_capture_kinds_are_told_by_content_and_layout(tmp_path: Path) -> None:
    assert capture_kind(data(*TEMPLE, "templeSR0001.png")) == "photos"
    renamed = tmp_path / "photo.bin"  # the name says nothing: the bytes do
    renamed.write_bytes(data(*TEMPLE, "templeSR0001.png").read_bytes())
    assert capture_kind(renamed) == "photos"
    mp4 = tmp_path / "walk.dat"
    mp4.write_bytes(struct.pack(">I", 24) + b"ftypisom" + b"\0" * 12)
    assert capture_kind(mp4) == "video"
    assert capture_kind(data(*CHAIR)) == "rgbd"  # even with the app's preview mesh beside it
    assert capture_kind(data(*FUZE, "fuze.obj")) is None
    # an OBJ zipped with its JPEG texture is a finished model, not photos
    model_zip = tmp_path / "fuze.zip"
    with zipfile.ZipFile(model_zip, "w") as zf:
        for name in ("fuze.obj", "fuze.obj.mtl", "fuze uv.jpg"):
            zf.write(data(*FUZE, name), name)
    assert capture_kind(model_zip) is None
    assert capture_kind(_zip(data(*TEMPLE), tmp_path / "t.zip", ["templeSR0001.png"])) == "photos"
    assert kind_of_names(["a/odometry.csv", "a/rgb.mp4", "a/depth/000001.png"]) == "rgbd"
    assert kind_of_names(["__MACOSX/x.jpg", "notes.txt"]) is None
    assert sniff(b"not an image at all") is None


def roles_params_ok(capture) -> bool:  # type: ignore[no-untyped-def]
    """The model records what made it: the pipeline version and the settings."""
    model = capture.derivatives.get(role="reconstruction")
    return model.params["rgbd_voxel"] == 0.04 and "pycolmap" in model.tool


# -- the archive's processing -----------------------------------------------------


def _received(path: Path, title: str):  # type: ignore[no-untyped-def]
    from spadok.catalogue import services
    from spadok.catalogue.models import Record

    record = Record.objects.create(title=title)
    return services.capture_create_received(
        record=record, files=[services.Original(path, path.name)], source_name=path.name
    )


@pytest.mark.django_db
def test_a_lidar_capture_becomes_a_model_at_device_scale(
    tmp_path: Path, storage_root, monkeypatch
) -> None:
    from spadok.catalogue import reconstruction, services
    from spadok.catalogue.models import Capture, CaptureState
    from spadok.catalogue.storage import get_storage

    # coarser than the archive's defaults, to keep the test short; same code path
    monkeypatch.setitem(reconstruction.OPTIONS, "rgbd_voxel", 0.04)
    monkeypatch.setitem(reconstruction.OPTIONS, "texture_size", 512)
    folder = data(*CHAIR)
    # every pose and photo, the depth of every fifth frame
    names = {p.name for p in folder.glob("frame_*")}
    names |= {f"{kind}_{i:05d}.png" for i in range(0, 70, 5) for kind in ("depth", "conf")}
    upload = _zip(folder, tmp_path / "chair lidar.zip", [*names, "info.json", "export.obj"])
    capture = _received(upload, "Chair")
    assert services.capture_process(capture_id=capture.id) == "done"

    capture = Capture.objects.get(id=capture.id)
    assert capture.state == CaptureState.READY, (capture.error_code, capture.error_message)
    assert capture.format == "rgbd" and capture.kind == "mesh"
    recon = capture.stats["reconstruction"]
    assert recon["kind"] == "rgbd" and recon["units"] == "metres"
    assert recon["verdict"] in ("good", "usable", "poor")
    # a garden chair on a patio, from arm's length: metres, not millimetres
    assert 0.5 < max(capture.stats["size"]) < 15
    assert roles_params_ok(capture)
    roles = {d.role: d for d in capture.derivatives.all()}
    assert {"reconstruction", "camera-poses", "cameras", "report", "thumbnail"} <= set(roles)
    assert any(r.startswith("web-") for r in roles)
    storage = get_storage()
    report = json.loads(storage.read_bytes(roles["report"].key))
    assert report["verdict"] == recon["verdict"] and report["layout"] == "3d-scanner-app"
    poses = storage.read_bytes(roles["camera-poses"].key).decode()
    assert poses.startswith("# Image list")
    rows = [r for r in poses.splitlines() if r and not r.startswith("#")]
    assert len(rows) == report["registered"] == recon["registered"] > 0
    # the upload itself is the original, byte for byte
    (original,) = capture.originals
    assert original["path"] == "chair lidar.zip"
    assert storage.digest(original["key"], "sha256") == _sha256(upload)


@pytest.mark.django_db
def test_too_few_photos_end_with_advice_on_the_capture_page(tmp_path: Path, storage_root) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, CaptureState

    upload = _zip(data(*TEMPLE), tmp_path / "two.zip", ["templeSR0001.png", "templeSR0009.png"])
    capture = _received(upload, "Temple")
    user = get_user_model().objects.create_user("volunteer", password="x" * 12)
    Capture.objects.filter(id=capture.id).update(contributor=user)
    assert services.capture_process(capture_id=capture.id) == "failed:reconstruct.failed"

    capture = Capture.objects.get(id=capture.id)
    assert capture.state == CaptureState.FAILED
    codes = [a["code"] for a in capture.stats["reconstruction"]["advice"]]
    assert "too_few_photos" in codes
    assert "at least 20" in capture.error_message
    assert not capture.derivatives.exists()

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    page = client.get(reverse("catalogue:capture", args=[capture.record_id, capture.id]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-reconstruction="failed"' in body
    assert 'data-advice-code="too_few_photos"' in body
    assert "Too few photos: take at least 20" in body
    assert "reconstruct.failed" in body

"""EXIF GPS from photos: JPEG, HEIC, and photos inside a zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from spadok.core.geotag import gps_from_files
from tests.contributions.conftest import gps_jpeg


def test_jpeg_south_west(tmp_path: Path) -> None:
    fix = gps_from_files([gps_jpeg(tmp_path / "a.jpg", -33.5, -70.25, error_m=4)])
    assert fix is not None
    assert (fix.latitude, fix.longitude, fix.precision_m) == (-33.5, -70.25, 4.0)


def test_photo_inside_a_zip(tmp_path: Path) -> None:
    photo = gps_jpeg(tmp_path / "a.jpg")
    archive = tmp_path / "scan.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("model.obj", "v 0 0 0\n")
        z.write(photo, "photos/IMG_1.JPG")
    fix = gps_from_files([archive])
    assert fix is not None and fix.source == "photos/IMG_1.JPG"


def test_no_gps_and_not_an_image(tmp_path: Path) -> None:
    from PIL import Image

    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(plain)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert gps_from_files([plain, broken, tmp_path / "model.glb"]) is None


def test_heic(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    jpeg = gps_jpeg(tmp_path / "a.jpg", 49.84, 24.03)
    heic = tmp_path / "a.heic"
    with Image.open(jpeg) as img:
        img.save(heic, exif=img.getexif())
    fix = gps_from_files([heic])
    assert fix is not None and (fix.latitude, fix.longitude) == (49.84, 24.03)

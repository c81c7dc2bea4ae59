"""Where a photo was taken, from its EXIF GPS tags (JPEG, HEIC/HEIF, also inside a zip).

Pillow reads the tags; HEIC needs the optional ``pillow-heif``, loaded only
when a HEIC file is read. A photo without usable GPS tags gives None.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".heic", ".heif"})
DEFAULT_PRECISION_M = 20.0  # a phone's GPS outdoors, when the file does not say
MAX_PHOTOS = 50  # photos read per capture before giving up
MAX_PHOTO_BYTES = 64 * 1024 * 1024

# EXIF GPS IFD tags (EXIF 2.3, section 4.6.6).
LAT_REF, LAT, LON_REF, LON, H_ERROR = 1, 2, 3, 4, 31


@dataclass(frozen=True)
class GpsFix:
    latitude: float
    longitude: float
    precision_m: float
    source: str  # the photo's name


def _heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # optional: HEIC photos are then skipped
        return
    register_heif_opener()


def _degrees(value: Any) -> float:
    d, m, s = (float(v) for v in value)
    return d + m / 60 + s / 3600


def gps_from_image(stream: IO[bytes], name: str = "") -> GpsFix | None:
    """The GPS position in one photo's EXIF, or None."""
    from PIL import ExifTags, Image, UnidentifiedImageError

    if Path(name).suffix.lower() in {".heic", ".heif"}:
        _heif()
    try:
        with Image.open(stream) as img:
            gps = img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    try:
        lat, lon = _degrees(gps[LAT]), _degrees(gps[LON])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(LAT_REF, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(LON_REF, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    try:
        precision = float(gps[H_ERROR]) if H_ERROR in gps else DEFAULT_PRECISION_M
    except (TypeError, ValueError, ZeroDivisionError):
        precision = DEFAULT_PRECISION_M
    return GpsFix(round(lat, 7), round(lon, 7), max(precision, 1.0), name)


def _photos_in_zip(path: Path) -> Iterable[tuple[str, IO[bytes]]]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            photo = Path(info.filename).suffix.lower() in PHOTO_SUFFIXES
            if photo and 0 < info.file_size <= MAX_PHOTO_BYTES:
                yield info.filename, io.BytesIO(archive.read(info))


def gps_from_files(paths: Iterable[Path]) -> GpsFix | None:
    """The first GPS position found in these photos (or in photos inside zips)."""
    seen = 0
    for path in paths:
        suffix = path.suffix.lower()
        candidates: Iterable[tuple[str, IO[bytes]]]
        if suffix in PHOTO_SUFFIXES:
            candidates = [(path.name, path.open("rb"))]
        elif suffix == ".zip" and zipfile.is_zipfile(path):
            candidates = _photos_in_zip(path)
        else:
            continue
        for name, stream in candidates:
            seen += 1
            with stream:
                fix = gps_from_image(stream, name)
            if fix is not None:
                return fix
            if seen >= MAX_PHOTOS:
                return None
    return None

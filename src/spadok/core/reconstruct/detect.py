"""Is this upload a capture to reconstruct (photos, a video, a LiDAR capture) or a model?

Cheap and by content: the first bytes of a file, the names inside a zip (nothing
is unpacked). A folder or zip that holds a finished model is a model, even when
its textures are JPEGs; one that holds a phone's raw depth capture is an RGB-D
capture even when the app put a preview mesh beside it, since the raw frames are
the better master. The archive asks this before it tries the model loaders.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from spadok.core.inputs import MODEL_EXTENSIONS

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".webp"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}

# ISO base media brands of still images (HEIF) and of videos (MP4, QuickTime, 3GP).
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
VIDEO_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"qt  ",
    b"M4V ", b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"MSNV", b"dash", b"mmp4",
}  # fmt: skip

_3DSCANNER_FRAME = re.compile(r"(^|/)frame_\d+\.json$")
_3DSCANNER_DEPTH = re.compile(r"(^|/)depth_\d+\.png$")


def sniff(head: bytes) -> str | None:
    """ "image" or "video" from a file's first 16 bytes, else None."""
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return "video"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return "image"
        if brand in VIDEO_BRANDS:
            return "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # old QuickTime without ftyp
        return "video"
    return None


def _visible(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def kind_of_names(names: Iterable[str]) -> str | None:
    """The capture kind of a set of relative file names (a zip's or a folder's)."""
    files = [n for n in names if _visible(n) and not n.endswith("/")]
    if any(_3DSCANNER_FRAME.search(n) for n in files) and any(
        _3DSCANNER_DEPTH.search(n) for n in files
    ):
        return "rgbd"
    if any(PurePosixPath(n).name == "odometry.csv" for n in files) and any(
        "/depth/" in f"/{n}" for n in files
    ):
        return "rgbd"
    suffixes = [PurePosixPath(n).suffix.lower() for n in files]
    if any(s in MODEL_EXTENSIONS for s in suffixes):
        return None  # a finished model (with its textures)
    if any(s in IMAGE_EXTENSIONS for s in suffixes):
        return "photos"
    if sum(s in VIDEO_EXTENSIONS for s in suffixes) == 1:
        return "video"
    return None


def capture_kind(path: Path) -> str | None:
    """ "photos", "video" or "rgbd" when ``path`` is a capture to reconstruct, else None."""
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        return kind_of_names(names)
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        from spadok.core.formats import registry

        spec = registry.detect(path)
        if spec is not None and spec.family != "zip":
            return None  # 3MF, USDZ: models that are zips
        try:
            with zipfile.ZipFile(path) as zf:
                return kind_of_names(zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    found = sniff(head)
    return {"image": "photos", "video": "video"}.get(found or "")

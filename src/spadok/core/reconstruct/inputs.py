"""What a volunteer hands in, turned into images (and device poses) ready for processing.

Three kinds of capture arrive: photos (a folder or zip of JPEG, HEIC, PNG), a video
(frames picked by sharpness and viewpoint change), and RGB-D captures from LiDAR
phones, whose depth and poses are used as they are. Images are copied, upright and
downscaled, into a working folder; the originals are never touched, since they stay
the capture's master.

RGB-D layouts read here:

* **3d Scanner App** (iOS, "All data" export; verified on a real capture):
  ``frame_NNNNN.json`` (``cameraPoseARFrame``: camera-to-world 4x4, row-major, ARKit
  axes; ``intrinsics``: 3x3 for the RGB image), ``depth_NNNNN.png`` (uint16 mm),
  ``conf_NNNNN.png`` (0-2), ``frame_NNNNN.jpg`` for keyframes, ``info.json``.
* **Stray Scanner** (documented by its author in StrayVisualizer's README; no sample
  was available to verify): ``rgb.mp4``, ``depth/NNNNNN.png`` (uint16 mm),
  ``confidence/NNNNNN.png``, ``odometry.csv`` (timestamp, frame, x, y, z, qx, qy, qz,
  qw: camera-to-world), ``camera_matrix.csv`` (3x3 for the RGB video).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps

from spadok.core.errors import SpadokError
from spadok.core.reconstruct.report import Report

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".webp"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}
MIN_SIDE = 320  # below this a photo holds too little detail to match
MAX_INPUT_IMAGES = 2000

# ARKit cameras look down -Z with +Y up; OpenCV/COLMAP look down +Z with +Y down.
ARKIT_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class Frame:
    """One image ready for processing, with what is known about its camera."""

    name: str  # file name inside Capture.image_dir
    source: str  # what the volunteer called it
    width: int
    height: int
    focal_px: float | None = None  # from EXIF or the device, at this size
    gps: tuple[float, float, float] | None = None  # lat, lon, alt
    sharpness: float = 0.0
    # 3x3 intrinsics at this size (OpenCV's pixel convention): from the device for RGB-D,
    # from a calibration file for photos. RGB-D only: 4x4 camera-to-world (metres).
    K: np.ndarray | None = None
    cam_to_world: np.ndarray | None = None


@dataclass
class DepthFrame:
    depth_path: Path
    conf_path: Path | None
    K: np.ndarray  # at depth resolution
    cam_to_world: np.ndarray  # OpenCV axes, metres
    depth_scale: float = 1000.0  # units per metre


@dataclass
class Capture:
    kind: str  # photos, video, rgbd
    layout: str
    image_dir: Path
    frames: list[Frame] = field(default_factory=list)
    depth: list[DepthFrame] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is pinned
        pass


def sharpness(gray: np.ndarray) -> float:
    """Fine detail relative to coarse detail, at a fixed size: independent of content.

    The variance of the Laplacian alone depends on what is in the photo (a plaster
    statue on black has little); its ratio to the same measure after a slight blur
    drops sharply when the photo is out of focus or shaken, whatever it shows.
    """
    scale = 640 / max(gray.shape)
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    g = gray.astype(np.float32)
    fine = float(cv2.Laplacian(g, cv2.CV_32F).var())
    coarse = float(cv2.Laplacian(cv2.GaussianBlur(g, (0, 0), 2), cv2.CV_32F).var())
    return fine / (coarse + 1e-6)


def load(input_path: Path, workdir: Path, report: Report, max_size: int = 1600) -> Capture:
    """Find out what kind of capture ``input_path`` is and prepare its images."""
    if not input_path.exists():
        raise SpadokError("input.not_found", str(input_path))
    _register_heif()
    root = input_path
    layout = "folder"
    if input_path.is_file() and zipfile.is_zipfile(input_path):
        root = workdir / "unzipped"
        _unzip(input_path, root)
        layout = "zip"
    if input_path.is_file() and input_path.suffix.lower() in VIDEO_EXTENSIONS:
        from spadok.core.reconstruct.video import select_frames

        return select_frames(input_path, workdir / "images", report, max_size=max_size)
    if root.is_dir():
        found = _find_rgbd(root)
        if found is not None:
            kind_layout, folder = found
            if kind_layout == "3d-scanner-app":
                return _load_3dscannerapp(folder, workdir / "images", report)
            return _load_stray(folder, workdir / "images", report, max_size=max_size)
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and p.suffix.lower() in IMAGE_EXTENSIONS
            and not any(part.startswith(".") or part == "__MACOSX" for part in p.parts)
        )
        videos = [p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS]
        if not files and len(videos) == 1:
            from spadok.core.reconstruct.video import select_frames

            return select_frames(videos[0], workdir / "images", report, max_size=max_size)
        labels = [p.relative_to(root).as_posix() for p in files]
    elif input_path.suffix.lower() in IMAGE_EXTENSIONS:
        files, labels = [input_path], [input_path.name]
    else:
        raise SpadokError("reconstruct.no_images", input_path.name)
    if not files:
        raise SpadokError("reconstruct.no_images", input_path.name)
    if len(files) > MAX_INPUT_IMAGES:
        raise SpadokError("reconstruct.too_many_images", f"{len(files)} > {MAX_INPUT_IMAGES}")
    capture = Capture(kind="photos", layout=layout, image_dir=workdir / "images")
    capture.image_dir.mkdir(parents=True, exist_ok=True)
    report.images_total = len(files)
    calibration = read_calibration(root if root.is_dir() else root.parent, files)
    if calibration is not None:
        capture.info["calibration"] = "K.txt"
    for i, (path, label) in enumerate(zip(files, labels, strict=True)):
        frame = _prepare_photo(path, label, capture.image_dir, i, report, max_size, calibration)
        if frame is not None:
            capture.frames.append(frame)
    reject_blurry(capture, report)
    return capture


def _unzip(path: Path, dest: Path) -> None:
    from spadok.core.inputs import _unpack
    from spadok.core.limits import DEFAULT_LIMITS

    _unpack(path, dest, DEFAULT_LIMITS, depth=0)


def _exif_info(img: Image.Image) -> tuple[float | None, tuple[float, float, float] | None]:
    """The focal length as a fraction of the long side, and GPS, from EXIF when present."""
    try:
        exif = img.getexif()
    except Exception:
        return None, None
    focal_frac = None
    sub = exif.get_ifd(0x8769)
    f35 = sub.get(0xA405)  # FocalLengthIn35mmFilm
    if f35:
        focal_frac = float(f35) / 36.0
    else:
        f_mm, fx_res, unit = sub.get(0x920A), sub.get(0xA20E), sub.get(0xA210)
        width = sub.get(0xA002)
        if f_mm and fx_res and width:
            per_mm = {2: 25.4, 3: 10.0, 4: 1.0}.get(int(unit or 2), 25.4)
            sensor_w = float(width) / (float(fx_res) / per_mm)
            focal_frac = float(f_mm) / sensor_w if sensor_w > 0 else None
    gps = None
    g = exif.get_ifd(0x8825)
    try:
        if g and 2 in g and 4 in g:

            def deg(v: Any) -> float:
                return float(v[0]) + float(v[1]) / 60 + float(v[2]) / 3600

            lat = deg(g[2]) * (-1 if g.get(1) == "S" else 1)
            lon = deg(g[4]) * (-1 if g.get(3) == "W" else 1)
            alt = float(g.get(6, 0.0)) * (-1 if g.get(5) == 1 else 1)
            gps = (lat, lon, alt)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        gps = None
    return focal_frac, gps


CALIBRATION_NAMES = {"k.txt"}


def read_calibration(root: Path, files: list[Path]) -> np.ndarray | None:
    """The camera matrix of a calibrated camera, from a ``K.txt`` beside the photos.

    Photogrammetry data sets and calibrated museum set-ups ship one (openMVG's
    samples do): three rows of three numbers, fx 0 cx / 0 fy cy / 0 0 1, in pixels
    of the photos as taken, with the first pixel's centre at (0, 0). A file that is
    not such a matrix is ignored (the cameras are then estimated).
    """
    folders = {root, *(p.parent for p in files)}
    for folder in sorted(folders, key=lambda f: len(f.parts)):
        for candidate in folder.iterdir() if folder.is_dir() else []:
            if candidate.name.lower() not in CALIBRATION_NAMES or not candidate.is_file():
                continue
            try:
                values = [float(v) for v in candidate.read_text("utf-8", "replace").split()]
            except ValueError:
                return None
            if len(values) != 9:
                return None
            K = np.array(values).reshape(3, 3)
            plausible = K[0, 0] > 0 and K[1, 1] > 0 and K[0, 1] == 0 and K[1, 0] == 0
            if not plausible or not np.allclose(K[2], [0, 0, 1]):
                return None
            return K
    return None


def _prepare_photo(
    path: Path,
    label: str,
    out: Path,
    index: int,
    report: Report,
    max_size: int,
    calibration: np.ndarray | None = None,
) -> Frame | None:
    try:
        with Image.open(path) as opened:
            focal_frac, gps = _exif_info(opened)
            taken = opened.size
            img = ImageOps.exif_transpose(opened).convert("RGB")
    except Exception as exc:  # Pillow raises many types for damaged files
        report.reject(label, "unreadable", type(exc).__name__)
        return None
    if min(img.size) < MIN_SIDE:
        report.reject(label, "too_small", f"{img.width}x{img.height}")
        return None
    scale = min(1.0, max_size / max(img.size))
    if scale < 1:
        img = img.resize(
            (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
        )
    name = f"{index:05d}.jpg"
    img.save(out / name, quality=95)
    gray = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)
    K = None
    # A calibration holds for the photo as taken; one the camera turned upright does not.
    if calibration is not None and (img.width, img.height) == (
        round(taken[0] * scale),
        round(taken[1] * scale),
    ):
        sx, sy = img.width / taken[0], img.height / taken[1]
        K = calibration.astype(float).copy()
        K[0, 0] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    return Frame(
        name=name,
        source=label,
        width=img.width,
        height=img.height,
        focal_px=float(K[0, 0])
        if K is not None
        else focal_frac * max(img.size)
        if focal_frac
        else None,
        gps=gps,
        sharpness=sharpness(gray),
        K=K,
    )


def reject_blurry(capture: Capture, report: Report, ratio: float = 0.35) -> None:
    """Drop photos far blurrier than the rest of their set (motion blur, missed focus)."""
    if len(capture.frames) < 5:
        return
    median = float(np.median([f.sharpness for f in capture.frames]))
    keep = []
    for f in capture.frames:
        if f.sharpness < ratio * median:
            report.reject(f.source, "blurry", f"sharpness {f.sharpness:.1f} vs median {median:.1f}")
        else:
            keep.append(f)
    capture.frames = keep


# --- RGB-D layouts ------------------------------------------------------------------------

_SCANNER_APP = re.compile(r"frame_(\d{5})\.json$")


def _find_rgbd(root: Path) -> tuple[str, Path] | None:
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (folder / "odometry.csv").is_file() and (folder / "depth").is_dir():
            return "stray-scanner", folder
        if any(folder.glob("frame_*.json")) and any(folder.glob("depth_*.png")):
            return "3d-scanner-app", folder
    return None


def _load_3dscannerapp(folder: Path, out: Path, report: Report) -> Capture:
    capture = Capture(kind="rgbd", layout="3d-scanner-app", image_dir=out)
    out.mkdir(parents=True, exist_ok=True)
    info_path = folder / "info.json"
    if info_path.is_file():
        try:
            capture.info = json.loads(info_path.read_text("utf-8"))
        except ValueError:
            capture.info = {}
    metas = sorted(p for p in folder.glob("frame_*.json") if _SCANNER_APP.search(p.name))
    report.images_total = len(metas)
    rgb_size: tuple[int, int] | None = None
    first_jpg = next(iter(sorted(folder.glob("frame_*.jpg"))), None)
    if first_jpg is not None:
        with Image.open(first_jpg) as im:
            rgb_size = im.size
    for meta_path in metas:
        idx = _SCANNER_APP.search(meta_path.name).group(1)  # type: ignore[union-attr]
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            pose = np.array(meta["cameraPoseARFrame"], float).reshape(4, 4) @ ARKIT_TO_CV
            K = np.array(meta["intrinsics"], float).reshape(3, 3)
        except (ValueError, KeyError) as exc:
            report.reject(meta_path.name, "unreadable", type(exc).__name__)
            continue
        if rgb_size is None:  # the intrinsics are for the RGB image: find its size once
            rgb_size = (round(K[0, 2] * 2), round(K[1, 2] * 2))
        depth_path = folder / f"depth_{idx}.png"
        depth_img = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
        if depth_img is None:
            report.reject(depth_path.name, "unreadable", "missing or damaged depth image")
        else:
            dh, dw = depth_img.shape[:2]
            Kd = K.copy()
            Kd[0] *= dw / rgb_size[0]
            Kd[1] *= dh / rgb_size[1]
            conf = folder / f"conf_{idx}.png"
            capture.depth.append(DepthFrame(depth_path, conf if conf.is_file() else None, Kd, pose))
        jpg = folder / f"frame_{idx}.jpg"
        if jpg.is_file():
            with Image.open(jpg) as im:
                img = ImageOps.exif_transpose(im).convert("RGB")
            name = f"{idx}.jpg"
            img.save(out / name, quality=95)
            gray = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)
            capture.frames.append(
                Frame(
                    name=name,
                    source=jpg.name,
                    width=img.width,
                    height=img.height,
                    focal_px=float(K[0, 0]),
                    sharpness=sharpness(gray),
                    K=K,
                    cam_to_world=pose,
                )
            )
    if not capture.depth:
        raise SpadokError("reconstruct.no_images", f"{folder.name}: no depth frames")
    return capture


def _load_stray(folder: Path, out: Path, report: Report, max_size: int) -> Capture:
    """Stray Scanner: depth PNGs with odometry; colour from the video's matching frames."""
    import av
    from scipy.spatial.transform import Rotation

    capture = Capture(kind="rgbd", layout="stray-scanner", image_dir=out)
    out.mkdir(parents=True, exist_ok=True)
    K = np.loadtxt(folder / "camera_matrix.csv", delimiter=",").reshape(3, 3)
    poses: dict[int, np.ndarray] = {}
    with (folder / "odometry.csv").open(newline="") as fh:
        for row in csv.DictReader(fh, skipinitialspace=True):
            t = np.eye(4)
            t[:3, :3] = Rotation.from_quat(
                [float(row["qx"]), float(row["qy"]), float(row["qz"]), float(row["qw"])]
            ).as_matrix()
            t[:3, 3] = [float(row["x"]), float(row["y"]), float(row["z"])]
            poses[int(row["frame"])] = t @ ARKIT_TO_CV
    rgb_w, rgb_h = round(K[0, 2] * 2), round(K[1, 2] * 2)
    video = folder / "rgb.mp4"
    depth_files = sorted((folder / "depth").glob("*.png"))
    report.images_total = len(depth_files)
    keyframes = set(range(0, len(depth_files), 10))
    for path in depth_files:
        i = int(path.stem)
        if i not in poses:
            report.reject(path.name, "no_pose")
            continue
        depth_img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if depth_img is None:
            report.reject(path.name, "unreadable", "damaged depth image")
            continue
        dh, dw = depth_img.shape[:2]
        Kd = K.copy()
        Kd[0] *= dw / rgb_w
        Kd[1] *= dh / rgb_h
        conf = folder / "confidence" / path.name
        capture.depth.append(DepthFrame(path, conf if conf.is_file() else None, Kd, poses[i]))
    if video.is_file():
        with av.open(str(video)) as container:
            for n, frame in enumerate(container.decode(video=0)):
                if n in keyframes and n in poses:
                    img = frame.to_image()
                    s = img.width / rgb_w
                    Ki = K.copy()
                    Ki[:2] *= s
                    name = f"{n:06d}.jpg"
                    img.save(out / name, quality=95)
                    capture.frames.append(
                        Frame(name, f"rgb.mp4#{n}", img.width, img.height, float(Ki[0, 0]),
                              K=Ki, cam_to_world=poses[n])
                    )  # fmt: skip
    if not capture.depth:
        raise SpadokError("reconstruct.no_images", f"{folder.name}: no depth frames")
    return capture

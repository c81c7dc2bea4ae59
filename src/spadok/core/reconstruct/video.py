"""Frames from a walk-around video, chosen by viewpoint change and sharpness.

Taking every Nth frame wastes frames when the volunteer stands still and skips
views when they walk fast, and picks blurred frames as often as sharp ones. Here
the camera's motion is followed with sparse optical flow (corners tracked from the
last chosen frame); once the median motion since then passes a fraction of the
image width (or tracking is lost), the sharpest of the next few frames is chosen
(see ``inputs.sharpness``), and tracking restarts from it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from spadok.core.errors import SpadokError
from spadok.core.reconstruct.inputs import Capture, Frame, sharpness
from spadok.core.reconstruct.report import Report

log = logging.getLogger(__name__)


def select_frames(
    video: Path,
    out: Path,
    report: Report,
    max_size: int = 1600,
    motion: float = 0.025,
    window: int = 4,
    max_frames: int = 300,
) -> Capture:
    import av

    out.mkdir(parents=True, exist_ok=True)
    capture = Capture(kind="video", layout="video", image_dir=out)
    last_pts: np.ndarray | None = None
    last_gray: np.ndarray | None = None
    recent: list[tuple[float, int, Image.Image]] = []  # (sharpness, index, image)
    decoded = 0
    try:
        container = av.open(str(video))
    except (av.error.FFmpegError, OSError) as exc:
        raise SpadokError("reconstruct.unreadable_video", video.name) from exc
    with container:
        try:
            for n, frame in enumerate(container.decode(video=0)):
                decoded += 1
                img = frame.to_image()
                small = np.asarray(img.convert("L"))
                scale = 480 / max(small.shape)
                if scale < 1:
                    small = cv2.resize(
                        small, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                    )
                sharp = sharpness(small)
                if recent or last_gray is None:  # collecting candidates for the next view
                    recent.append((sharp, n, img))
                    if len(recent) < window:
                        continue
                else:
                    moved = _motion(last_gray, last_pts, small)
                    if moved is not None and moved < motion * max(small.shape):
                        continue
                    recent = [(sharp, n, img)]  # far enough: the next few are candidates
                    if window > 1:
                        continue
                s, i, best = max(recent, key=lambda r: r[0])
                _keep(capture, best, i, s, out, max_size)
                g = np.asarray(best.convert("L"))
                if scale < 1:
                    g = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                last_gray, last_pts = g, _corners(g)
                recent = []
                if len(capture.frames) >= max_frames:
                    break
        except av.error.FFmpegError as exc:
            if not capture.frames:
                raise SpadokError("reconstruct.unreadable_video", video.name) from exc
    report.images_total = decoded
    report.extra["video_frames_decoded"] = decoded
    report.extra["video_frames_chosen"] = len(capture.frames)
    return capture


def _keep(
    capture: Capture, img: Image.Image, n: int, sharp: float, out: Path, max_size: int
) -> None:
    s = min(1.0, max_size / max(img.size))
    if s < 1:
        img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.LANCZOS)
    name = f"{n:06d}.jpg"
    img.convert("RGB").save(out / name, quality=95)
    capture.frames.append(Frame(name, f"frame {n}", img.width, img.height, sharpness=sharp))


def _corners(gray: np.ndarray) -> np.ndarray | None:
    return cv2.goodFeaturesToTrack(gray, maxCorners=400, qualityLevel=0.01, minDistance=8)


def _motion(prev: np.ndarray, pts: np.ndarray | None, gray: np.ndarray) -> float | None:
    """Median displacement of tracked corners; None when tracking is lost."""
    if pts is None or len(pts) < 10:
        return None
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None)  # type: ignore[call-overload]
    ok = status.ravel() == 1
    if ok.sum() < 0.3 * len(pts):
        return None
    return float(np.median(np.linalg.norm((nxt - pts)[ok].reshape(-1, 2), axis=1)))

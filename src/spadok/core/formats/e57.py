"""ASTM E57 terrestrial laser scans, read with pye57 (libE57Format).

An E57 file holds any number of scans, each with its own pose; they are
merged into one cloud in the file's common frame. Points are streamed in
blocks so a large survey is sampled instead of loaded whole, as for LAS.
libE57Format prints its error reports to stdout; those are swallowed here
(the exception that follows carries the same message).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, PointSet, Resolver, check_vertex_limit
from spadok.core.formats.las import CHUNK_THRESHOLD, SAMPLE_TARGET
from spadok.core.limits import Limits

log = logging.getLogger(__name__)

MIME = "model/e57"
BLOCK = 1_000_000
_STDOUT_LOCK = threading.Lock()


def sniff(head: bytes, path: Path) -> int:
    # Every E57 file starts with the physical-page signature "ASTM-E57".
    return 2 if head.startswith(b"ASTM-E57") else 0


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send fd 1 to /dev/null: libE57Format writes error dumps there from C++."""
    with _STDOUT_LOCK:
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


@contextlib.contextmanager
def _ascii_path(path: Path) -> Iterator[Path]:
    """An ASCII-only name for ``path``: some libE57Format builds (Windows, older
    pye57 wheels) cannot open others. A hard link costs nothing; copy as a last resort."""
    if str(path).isascii():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="spadok-e57-") as tmp:
        alias = Path(tmp) / "scan.e57"
        for make in (os.link, os.symlink, shutil.copyfile):
            try:
                make(path.resolve(), alias)
                break
            except OSError:
                continue
        yield alias


def _error(exc: BaseException, path: Path) -> SpadokError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SpadokError("format.corrupt", f"{path.name}: {text[:200]}")


def _child(node: Any, name: str) -> Any:
    try:
        return node[name] if node.isDefined(name) else None
    except Exception:
        return None


def _limits(header: Any, group: str, lo: str, hi: str) -> tuple[float, float] | None:
    node = _child(header.node, group)
    if node is None:
        return None
    try:
        return float(node[lo].value()), float(node[hi].value())
    except Exception:
        return None


def _scan_fields(header: Any) -> dict[str, bool]:
    names = set(header.point_fields)
    return {
        "cartesian": {"cartesianX", "cartesianY", "cartesianZ"} <= names,
        "spherical": {"sphericalRange", "sphericalAzimuth", "sphericalElevation"} <= names,
        "color": {"colorRed", "colorGreen", "colorBlue"} <= names,
        "intensity": "intensity" in names,
        "cartesianInvalidState": "cartesianInvalidState" in names,
        "sphericalInvalidState": "sphericalInvalidState" in names,
    }


def _read_scan(
    e57: Any, index: int, step: int, offset: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int]:
    """One scan's kept points in the file frame, and how many points it has."""
    from pye57 import libe57

    header = e57.get_header(index)
    total = int(header.point_count)
    has = _scan_fields(header)
    if has["cartesian"]:
        coords = ["cartesianX", "cartesianY", "cartesianZ"]
        state = "cartesianInvalidState" if has["cartesianInvalidState"] else None
    elif has["spherical"]:
        coords = ["sphericalRange", "sphericalAzimuth", "sphericalElevation"]
        state = "sphericalInvalidState" if has["sphericalInvalidState"] else None
    else:
        raise SpadokError(
            "format.unsupported", f"scan {index} has no cartesian or spherical coordinates"
        )
    fields = list(coords)
    if has["color"]:
        fields += ["colorRed", "colorGreen", "colorBlue"]
    if has["intensity"]:
        fields.append("intensity")
    if state:
        fields.append(state)
    if total == 0:
        return np.zeros((0, 3)), None, None, 0
    cap = min(BLOCK, total)
    arrays = {f: np.empty(cap, np.float64) for f in fields}
    buffers = libe57.VectorSourceDestBuffer()
    for f in fields:
        buffers.append(libe57.SourceDestBuffer(e57.image_file, f, arrays[f], cap, True, True))
    xyz_parts, rgb_parts, int_parts = [], [], []
    seen = 0
    reader = header.points.reader(buffers)
    try:
        while True:
            n = int(reader.read())
            if n <= 0:
                break
            first = (offset - seen) % step
            keep = slice(first, n, step)
            block = {f: arrays[f][keep].copy() for f in fields}
            seen += n
            if state:
                valid = block.pop(state) == 0
                block = {f: v[valid] for f, v in block.items()}
            if coords[0] == "sphericalRange":
                r, az, el = (block[c] for c in coords)
                xyz = np.stack(
                    [r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], 1
                )
            else:
                xyz = np.stack([block[c] for c in coords], 1)
            xyz_parts.append(xyz)
            if has["color"]:
                rgb_parts.append(
                    np.stack([block[c] for c in ("colorRed", "colorGreen", "colorBlue")], 1)
                )
            if has["intensity"]:
                int_parts.append(block["intensity"])
    finally:
        reader.close()
    if seen < total:
        raise SpadokError("format.corrupt", f"scan {index} holds {seen:,} of {total:,} points")
    xyz = np.concatenate(xyz_parts)
    if header.has_pose():
        xyz = xyz @ np.asarray(header.rotation_matrix).T + np.asarray(header.translation).reshape(
            1, 3
        )
    colors = None
    if rgb_parts:
        rgb = np.concatenate(rgb_parts)
        lim = _limits(header, "colorLimits", "colorRedMinimum", "colorRedMaximum")
        if lim and lim[1] > lim[0]:
            scaled = (rgb - lim[0]) / (lim[1] - lim[0]) * 255.0 + 0.5
        elif rgb.size and rgb.max() > 255:  # 16-bit colours without limits (LAS converts)
            scaled = rgb / 256.0
        else:
            scaled = rgb
        colors = np.clip(scaled, 0, 255).astype(np.uint8)
    intensity = np.concatenate(int_parts).astype(np.float32) if int_parts else None
    return xyz, colors, intensity, total


def _read_all(e57: Any, path: Path, limits: Limits) -> Asset:
    scans = int(e57.scan_count)
    root = e57.root
    images_node = _child(root, "images2D")
    images = len(images_node) if images_node is not None else 0
    counts = [int(e57.get_header(i).point_count) for i in range(scans)]
    total = sum(counts)
    check_vertex_limit(total, limits, "points")
    if total == 0:
        what = f"{scans} scan(s) without points" if scans else "no scans"
        if images:
            what += f", {images} image(s)"
        raise SpadokError("geometry.empty", f"{path.name} holds {what}")
    sampled = total > CHUNK_THRESHOLD
    step = max(1, math.ceil(total / SAMPLE_TARGET)) if sampled else 1
    xyz_all, rgb_all, int_all = [], [], []
    any_color = any_int = False
    offset = 0
    per_scan = []
    for i in range(scans):
        xyz, rgb, inten, n = _read_scan(e57, i, step, offset)
        offset += n
        per_scan.append((xyz, rgb, inten))
        any_color |= rgb is not None
        any_int |= inten is not None
    for xyz, rgb, inten in per_scan:
        xyz_all.append(xyz)
        if any_color:
            rgb_all.append(rgb if rgb is not None else np.full((len(xyz), 3), 255, np.uint8))
        if any_int:
            int_all.append(inten if inten is not None else np.zeros(len(xyz), np.float32))
    positions = np.concatenate(xyz_all)
    if len(positions) == 0:
        raise SpadokError("geometry.empty", f"{path.name}: every point is marked invalid")
    pointset = PointSet(
        positions=positions,
        colors=np.concatenate(rgb_all) if any_color else None,
        attributes={"intensity": np.concatenate(int_all)} if any_int else {},
        count=total,
    )
    extra: dict[str, Any] = {
        "scan_count": scans,
        "image_count": images,
        "scan_point_counts": counts,
        "valid_points_kept": len(positions),
    }
    with contextlib.suppress(Exception):  # versionMajor/Minor are required, but be lenient
        extra["version"] = f"{root['versionMajor'].value()}.{root['versionMinor'].value()}"
    if sampled:
        extra["sampled"] = True
        extra["sample_step"] = step
    # E57 coordinates are metres by definition (ASTM E2807, section 8).
    return Asset(
        kind="pointcloud",
        format="e57",
        mime=MIME,
        primary=path,
        points=pointset,
        unit="m",
        extra=extra,
    )


def load(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    """Read every scan of an E57 file, merged with their poses applied."""
    import pye57

    with _ascii_path(path) as real:
        try:
            with _quiet_stdout():
                e57 = pye57.E57(str(real))
        except Exception as exc:  # E57Exception: bad checksum, bad header, not E57
            raise _error(exc, path) from exc
        try:
            with _quiet_stdout():
                return _read_all(e57, path, limits)
        except (SpadokError, MemoryError):
            raise
        except Exception as exc:  # libE57Format's E57Exception and friends
            raise _error(exc, path) from exc
        finally:
            with contextlib.suppress(Exception), _quiet_stdout():
                e57.close()


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="e57",
        family="e57",
        mime=MIME,
        extensions=(".e57",),
        sniff=sniff,
        load=load,
        description="ASTM E57 3D imaging data (terrestrial laser scans)",
    ),
]

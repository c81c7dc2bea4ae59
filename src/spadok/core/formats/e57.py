"""ASTM E57 terrestrial laser scans, read with pye57 (libE57Format).

An E57 file holds any number of scans, each with its own pose; they are
merged into one cloud in the file's common frame. Points are streamed in
blocks (:class:`E57Stream`), as for LAS: a survey is never held whole.
libE57Format prints its error reports to stdout; those are swallowed here
(the exception that follows carries the same message).
"""

from __future__ import annotations

import contextlib
import logging
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
from spadok.core.formats.base import Asset, FormatSpec, PointChunk, Resolver, check_vertex_limit
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


def _scan_blocks(
    e57: Any, index: int, size: int, color: bool, intensity: bool
) -> Iterator[PointChunk]:
    """One scan's valid points in the file frame, ``size`` at a time.

    ``color``/``intensity`` say whether any scan of the file has them: a scan
    without is given white / zero so that every chunk of the file looks alike.
    """
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
        return
    pose = None
    if header.has_pose():
        pose = (np.asarray(header.rotation_matrix), np.asarray(header.translation).reshape(1, 3))
    lim = _limits(header, "colorLimits", "colorRedMinimum", "colorRedMaximum")
    cap = min(size, total)
    arrays = {f: np.empty(cap, np.float64) for f in fields}
    buffers = libe57.VectorSourceDestBuffer()
    for f in fields:
        buffers.append(libe57.SourceDestBuffer(e57.image_file, f, arrays[f], cap, True, True))
    seen = 0
    with _quiet_stdout():
        reader = header.points.reader(buffers)
    try:
        while True:
            with _quiet_stdout():
                n = int(reader.read())
            if n <= 0:
                break
            block = {f: arrays[f][:n].copy() for f in fields}
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
            if pose is not None:
                xyz = xyz @ pose[0].T + pose[1]
            rgb = None
            if has["color"]:
                raw = np.stack([block[c] for c in ("colorRed", "colorGreen", "colorBlue")], 1)
                if lim and lim[1] > lim[0]:
                    scaled = (raw - lim[0]) / (lim[1] - lim[0]) * 255.0 + 0.5
                elif lim is None and raw.size and raw.max() > 255:  # 16-bit, no limits
                    scaled = raw / 256.0
                else:
                    scaled = raw
                rgb = np.clip(scaled, 0, 255).astype(np.uint8)
            elif color:
                rgb = np.full((len(xyz), 3), 255, np.uint8)
            inten = None
            if has["intensity"]:
                inten = block["intensity"].astype(np.float32)
            elif intensity:
                inten = np.zeros(len(xyz), np.float32)
            yield PointChunk(positions=xyz, colors=rgb, intensity=inten)
    finally:
        with _quiet_stdout():
            reader.close()
    if seen < total:
        raise SpadokError("format.corrupt", f"scan {index} holds {seen:,} of {total:,} points")


class E57Stream:
    """Every scan of an E57 file, merged, as a :class:`~spadok.core.formats.base.PointStream`.

    libE57Format reads a compressed vector into buffers of a fixed size, so a
    pass holds one block, whatever the size of the survey.
    """

    def __init__(self, path: Path, count: int, color: bool, intensity: bool) -> None:
        self.path = path
        self.count = count
        self.color = color
        self.intensity = intensity

    def chunks(self, size: int) -> Iterator[PointChunk]:
        import pye57

        with _ascii_path(self.path) as real:
            try:
                with _quiet_stdout():
                    e57 = pye57.E57(str(real))
            except Exception as exc:  # E57Exception: bad checksum, bad header, not E57
                raise _error(exc, self.path) from exc
            try:
                for i in range(int(e57.scan_count)):
                    yield from _scan_blocks(e57, i, size, self.color, self.intensity)
            except (SpadokError, MemoryError, GeneratorExit):
                raise
            except Exception as exc:  # libE57Format's E57Exception and friends
                raise _error(exc, self.path) from exc
            finally:
                with contextlib.suppress(Exception), _quiet_stdout():
                    e57.close()


def _describe(e57: Any, path: Path, limits: Limits) -> tuple[E57Stream, dict[str, Any]]:
    scans = int(e57.scan_count)
    root = e57.root
    images_node = _child(root, "images2D")
    images = len(images_node) if images_node is not None else 0
    headers = [e57.get_header(i) for i in range(scans)]
    counts = [int(h.point_count) for h in headers]
    total = sum(counts)
    check_vertex_limit(total, limits, "points")
    if total == 0:
        what = f"{scans} scan(s) without points" if scans else "no scans"
        if images:
            what += f", {images} image(s)"
        raise SpadokError("geometry.empty", f"{path.name} holds {what}")
    fields = [_scan_fields(h) for h in headers]
    stream = E57Stream(
        path,
        total,
        color=any(f["color"] for f, c in zip(fields, counts, strict=True) if c),
        intensity=any(f["intensity"] for f, c in zip(fields, counts, strict=True) if c),
    )
    extra: dict[str, Any] = {
        "scan_count": scans,
        "image_count": images,
        "scan_point_counts": counts,
    }
    with contextlib.suppress(Exception):  # versionMajor/Minor are required, but be lenient
        extra["version"] = f"{root['versionMajor'].value()}.{root['versionMinor'].value()}"
    return stream, extra


def load(path: Path, resolver: Resolver, limits: Limits) -> Asset:
    """Every scan of an E57 file, merged with their poses applied, in one streamed pass.

    As for LAS, ``points`` is a uniform sample of at most ``SAMPLE_TARGET``
    points with the exact facts beside it, and ``stream`` reads them all again.
    """
    import pye57

    from spadok.core.formats.las import CHUNK_SIZE, SAMPLE_TARGET
    from spadok.core.pointstream import scan

    with _ascii_path(path) as real:
        try:
            with _quiet_stdout():
                e57 = pye57.E57(str(real))
        except Exception as exc:  # E57Exception: bad checksum, bad header, not E57
            raise _error(exc, path) from exc
        try:
            with _quiet_stdout():
                stream, extra = _describe(e57, path, limits)
        except (SpadokError, MemoryError):
            raise
        except Exception as exc:  # libE57Format's E57Exception and friends
            raise _error(exc, path) from exc
        finally:
            with contextlib.suppress(Exception), _quiet_stdout():
                e57.close()
    sample, facts = scan(stream, sample_size=SAMPLE_TARGET, chunk_size=min(BLOCK, CHUNK_SIZE))
    if facts["points"] == 0:
        raise SpadokError("geometry.empty", f"{path.name}: every point is marked invalid")
    sample.count = stream.count
    extra["valid_points_kept"] = facts["points"]
    if facts["sampled"]:
        extra["sampled"] = True
        extra["sample_points"] = facts["sample_points"]
    # E57 coordinates are metres by definition (ASTM E2807, section 8).
    return Asset(
        kind="pointcloud",
        format="e57",
        mime=MIME,
        primary=path,
        points=sample,
        stream=stream,
        point_facts=facts,
        unit="m",
        extra=extra,
    )


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

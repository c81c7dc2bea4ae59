"""Decoding the points of a LAS/LAZ/COPC file, and doing it in a child process for LAZ.

laspy decodes LAZ through lazrs, native code that on damaged input can panic
(caught), abort on an allocation (not caught: the process ends) or crash with a
segmentation fault (found by fuzzing, see tests/fuzz/corpus/copc/). A worker
that dies this way takes the job with it; so compressed points are decoded
in a child process of their own, which hands back the arrays in a ``.npz``
file, and whose death is this file's ``format.corrupt``, not the worker's.
Uncompressed LAS is plain numpy and is read in the calling process.

    python -m spadok.core.formats.lasdecode IN OUT.npz SAMPLE_STEP
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Above this many points the cloud is read in chunks and sampled.
CHUNK_THRESHOLD = 20_000_000
# About how many points a sampled cloud keeps in memory.
SAMPLE_TARGET = 5_000_000
CHUNK_SIZE = 2_000_000
ERROR_EXIT = 3  # the child read the file and found it damaged: the reason is in OUT.err


class DecodeError(Exception):
    """The points cannot be decoded; the message says why."""


@dataclass
class Decoded:
    xyz: np.ndarray  # (n, 3) float64
    rgb: np.ndarray | None  # (n, 3) uint8
    intensity: np.ndarray  # (n,) uint16
    read: int  # points decoded (before sampling)
    classified: bool  # any point has a classification other than 0


def sample_step(count: int) -> int:
    """Keep every step-th point: 1 up to :data:`CHUNK_THRESHOLD` points."""
    return max(1, math.ceil(count / SAMPLE_TARGET)) if count > CHUNK_THRESHOLD else 1


def _to_uint8(channels: list[np.ndarray]) -> np.ndarray:
    rgb = np.stack([np.asarray(c) for c in channels], axis=1)
    if rgb.size and rgb.max() > 255:
        rgb = rgb >> 8
    return rgb.astype(np.uint8)


def decode(path: Path, step: int) -> Decoded:
    """Read every point (every ``step``-th kept) in this process; DecodeError when damaged."""
    import laspy
    import laspy.errors

    from spadok.core.formats.registry import is_panic

    xyz_parts: list[np.ndarray] = []
    rgb_parts: list[np.ndarray] = []
    int_parts: list[np.ndarray] = []
    classified = False
    read = 0
    try:
        with laspy.open(path) as reader:
            count = int(reader.header.point_count)
            dims = set(reader.header.point_format.dimension_names)
            has_rgb = {"red", "green", "blue"} <= dims
            chunk = CHUNK_SIZE if step > 1 else max(1, count)
            for points in reader.chunk_iterator(chunk):
                n = len(points)
                if n == 0:
                    break
                if step > 1:
                    # Systematic sample: every step-th point across the whole file.
                    points = points[(-read) % step :: step]
                read += n
                xyz = np.stack([np.asarray(getattr(points, a)) for a in "xyz"], axis=1)
                xyz_parts.append(xyz.astype(np.float64))
                int_parts.append(np.asarray(points.intensity).astype(np.uint16))
                if has_rgb:
                    rgb_parts.append(_to_uint8([points.red, points.green, points.blue]))
                if not classified and "classification" in dims and len(points):
                    classified = bool(np.any(np.asarray(points.classification) != 0))
    except (laspy.errors.LaspyException, ValueError, struct.error, EOFError, RuntimeError) as exc:
        raise DecodeError(str(exc) or type(exc).__name__) from exc  # lazrs: RuntimeError
    except BaseException as exc:
        if not is_panic(exc):
            raise
        raise DecodeError(str(exc) or "the decoder panicked") from exc
    return Decoded(
        xyz=np.concatenate(xyz_parts) if xyz_parts else np.zeros((0, 3)),
        rgb=np.concatenate(rgb_parts) if rgb_parts else None,
        intensity=np.concatenate(int_parts) if int_parts else np.zeros(0, np.uint16),
        read=read,
        classified=classified,
    )


def decode_isolated(path: Path, step: int) -> Decoded:
    """:func:`decode` in a child process: a crash of the decoder is a DecodeError here."""
    work = Path(tempfile.mkdtemp(prefix="spadok-lasdecode-"))
    out = work / "points.npz"
    try:
        cmd = [sys.executable, "-m", __name__, str(path), str(out), str(step)]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if proc.returncode == ERROR_EXIT:
            raise DecodeError(out.with_suffix(".err").read_text(encoding="utf-8"))
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            raise DecodeError(f"the LAZ decoder stopped on the damaged data ({name})")
        if proc.returncode != 0 or not out.exists():
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            raise DecodeError(f"the LAZ decoder failed ({tail[0][:200]})")
        with np.load(out) as saved:
            meta = json.loads(str(saved["meta"]))
            return Decoded(
                xyz=saved["xyz"],
                rgb=saved["rgb"] if meta["rgb"] else None,
                intensity=saved["intensity"],
                read=int(meta["read"]),
                classified=bool(meta["classified"]),
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    src, out, step = Path(argv[0]), Path(argv[1]), int(argv[2])
    try:
        found = decode(src, step)
    except DecodeError as exc:
        out.with_suffix(".err").write_text(str(exc)[:500], encoding="utf-8")
        return ERROR_EXIT
    meta = {"read": found.read, "classified": found.classified, "rgb": found.rgb is not None}
    arrays: dict[str, Any] = {"xyz": found.xyz, "intensity": found.intensity}
    arrays["rgb"] = found.rgb if found.rgb is not None else np.zeros((0, 3), np.uint8)
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

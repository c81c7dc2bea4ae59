"""The first pass over a LAZ/COPC file's points, in a child process.

laspy decodes LAZ through lazrs, native code that on damaged input can panic
(caught), abort on an allocation (not caught: the process ends) or crash with a
segmentation fault (found by fuzzing, see tests/fuzz/corpus/copc/). A worker
that dies this way takes the job with it; so the streamed scan of compressed
points (:func:`spadok.core.pointstream.scan`: the exact facts and the bounded
sample) runs in a child process of its own, which hands back the sample in a
``.npz`` file, and whose death is this file's ``format.corrupt``, not the
worker's. Uncompressed LAS is plain numpy and is scanned in the calling process.

    python -m spadok.core.formats.lasdecode IN OUT.npz COUNT DIMS SAMPLE CHUNK
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.formats.base import PointSet

ERROR_EXIT = 3  # the child read the file and found it damaged: code and detail in OUT.err


def _plain(value: Any) -> Any:
    """numpy scalars in the facts as JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def scan_isolated(
    path: Path, count: int, dims: list[str], *, sample_size: int, chunk_size: int
) -> tuple[PointSet, dict[str, Any]]:
    """:func:`~spadok.core.pointstream.scan` of the file in a child process.

    A crash of the decoder, or any error it reports, is a :class:`SpadokError` here.
    """
    work = Path(tempfile.mkdtemp(prefix="spadok-lasdecode-"))
    out = work / "points.npz"
    try:
        cmd = [
            sys.executable,
            "-m",
            __name__,
            str(path),
            str(out),
            str(count),
            ",".join(dims),
            str(sample_size),
            str(chunk_size),
        ]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if proc.returncode == ERROR_EXIT:
            code, _, detail = out.with_suffix(".err").read_text(encoding="utf-8").partition("\n")
            raise SpadokError(code, detail)
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            raise SpadokError(
                "format.corrupt", f"{path.name}: the LAZ decoder stopped on damaged data ({name})"
            )
        if proc.returncode != 0 or not out.exists():
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            raise SpadokError(
                "format.corrupt", f"{path.name}: the LAZ decoder failed ({tail[0][:200]})"
            )
        with np.load(out) as saved:
            facts = json.loads(str(saved["facts"]))
            meta = json.loads(str(saved["meta"]))
            attributes = {name: saved[f"attr_{name}"] for name in meta["attributes"]}
            sample = PointSet(
                positions=saved["positions"],
                colors=saved["colors"] if meta["colors"] else None,
                attributes=attributes,
                count=int(meta["count"]),
            )
        return sample, facts
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    from spadok.core.formats.las import LasStream
    from spadok.core.pointstream import scan

    src, out = Path(argv[0]), Path(argv[1])
    count, dims = int(argv[2]), set(filter(None, argv[3].split(",")))
    sample_size, chunk_size = int(argv[4]), int(argv[5])
    try:
        sample, facts = scan(
            LasStream(src, count, dims), sample_size=sample_size, chunk_size=chunk_size
        )
    except SpadokError as exc:
        out.with_suffix(".err").write_text(f"{exc.code}\n{exc.detail[:500]}", encoding="utf-8")
        return ERROR_EXIT
    arrays: dict[str, Any] = {
        "positions": sample.positions,
        "colors": sample.colors if sample.colors is not None else np.zeros((0, 3), np.uint8),
    }
    for name, values in sample.attributes.items():
        arrays[f"attr_{name}"] = values
    meta = {
        "count": sample.count,
        "colors": sample.colors is not None,
        "attributes": list(sample.attributes),
    }
    np.savez(
        out,
        facts=np.array(json.dumps(facts, default=_plain)),
        meta=np.array(json.dumps(meta)),
        **arrays,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

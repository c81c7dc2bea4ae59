"""Run the Khronos glTF-Validator on web copies.

The validator is the reference for "will every viewer read this"; it is an
npm library, so a tiny node script in this package drives it, several files
per node start-up.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from spadok.core.derive.webglb import node_binary, node_modules_dir
from spadok.core.errors import SpadokError

SCRIPT = Path(__file__).with_name("validate_gltf.mjs")


def validate_many(paths: list[Path], timeout: float = 300) -> list[dict[str, Any]]:
    """Validate several glTF/GLB files with one node process, reports in order."""
    if not paths:
        return []
    cmd = [node_binary(), str(SCRIPT), str(node_modules_dir()), *(str(p) for p in paths)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SpadokError("processing.failed", "glTF validator timed out") from None
    lines = [ln for ln in proc.stdout.decode("utf-8", "replace").splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or len(lines) != len(paths):
        err = proc.stderr.decode("utf-8", "replace").strip()[:500]
        raise SpadokError("processing.failed", f"glTF validator failed: {err}")
    return [json.loads(ln) for ln in lines]


def validate_glb(path: Path) -> dict[str, Any]:
    """Validate one glTF/GLB: {errors, warnings, infos, hints, messages: first 20, ...}."""
    return validate_many([Path(path)])[0]

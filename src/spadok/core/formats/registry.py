"""The format registry: merges every module's ``FORMATS`` table.

Detection is by content: each format's sniffer looks at the head of the file
and the highest confidence wins. The file name only breaks ties, and only
formats without a signature (``.splat``, XYZ text) ever rely on it.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, Resolver, read_head
from spadok.core.limits import DEFAULT_LIMITS, Limits

log = logging.getLogger(__name__)

# One module per format family. Order matters only for equal confidence.
FAMILY_MODULES = (
    "gltf",
    "obj",
    "ply",
    "stl",
    "off",
    "threemf",
    "vtp",
    "usdz",
    "las",
    "e57",
    "pcd",
    "xyz",
    "splat",
)

_FORMATS: list[FormatSpec] | None = None


def formats() -> list[FormatSpec]:
    """Every registered format, loaded once."""
    global _FORMATS
    if _FORMATS is None:
        found: list[FormatSpec] = []
        for name in FAMILY_MODULES:
            module = importlib.import_module(f"spadok.core.formats.{name}")
            found.extend(module.FORMATS)
        _FORMATS = found
    return _FORMATS


def by_name(name: str) -> FormatSpec:
    for spec in formats():
        if spec.name == name:
            return spec
    raise KeyError(name)


def detect(path: Path) -> FormatSpec | None:
    """The format of ``path`` by its content, or None when nothing claims it."""
    head = read_head(path)
    best: tuple[int, int, FormatSpec] | None = None
    suffix = "".join(path.suffixes[-2:]).lower()
    for spec in formats():
        try:
            score = spec.sniff(head, path)
        except Exception:  # a sniffer must never break detection of the others
            log.exception("sniffer %s failed on %s", spec.name, path)
            score = 0
        if score <= 0:
            continue
        by_ext = int(path.suffix.lower() in spec.extensions or suffix in spec.extensions)
        key = (score, by_ext)
        if best is None or key > best[:2]:
            best = (*key, spec)
    return best[2] if best else None


def check_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a missing, empty or oversized file before reading any of it."""
    if not path.is_file():
        raise SpadokError("input.not_found", str(path))
    size = path.stat().st_size
    if size == 0:
        raise SpadokError("input.empty", path.name)
    if size > limits.max_file_bytes:
        raise SpadokError(
            "input.too_large",
            f"{path.name} is {size:,} bytes, the limit is {limits.max_file_bytes:,}",
        )


def load(path: Path, *, root: Path | None = None, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Detect and read one model file; every failure is a :class:`SpadokError`."""
    check_file(path, limits)
    spec = detect(path)
    if spec is None:
        raise SpadokError("format.unknown", path.name)
    resolver = Resolver(path, root=root)
    try:
        asset = spec.load(path, resolver, limits)
    except SpadokError:
        raise
    except MemoryError as exc:
        raise SpadokError("input.too_large", f"{path.name} does not fit in memory") from exc
    except Exception as exc:  # library errors on malformed input
        log.debug("loader %s failed on %s", spec.name, path, exc_info=True)
        raise SpadokError("format.corrupt", f"{path.name} ({spec.name}): {_short(exc)}") from exc
    except BaseException as exc:
        # A Rust library (lazrs) that panics on malformed input raises pyo3's
        # PanicException, a BaseException, which would get past every handler
        # up to the worker's loop.
        if not is_panic(exc):
            raise
        log.debug("loader %s panicked on %s", spec.name, path, exc_info=True)
        raise SpadokError("format.corrupt", f"{path.name} ({spec.name}): {_short(exc)}") from exc
    asset.files = [path, *[p for p in resolver.used if p != path]] + [
        p for p in asset.files if p != path and p not in resolver.used
    ]
    return asset


def is_panic(exc: BaseException) -> bool:
    """True for the exception pyo3 raises when Rust code panics."""
    return type(exc).__name__ == "PanicException" and type(exc).__module__ == "pyo3_runtime"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]

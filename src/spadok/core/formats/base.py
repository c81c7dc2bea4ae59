"""What every format module returns, and how a module describes itself.

A format module (one per family: gltf, obj, ply, ...) ends in a ``FORMATS``
list of :class:`FormatSpec`. The registry merges those lists; adding a format
is adding a module. Loaders return an :class:`Asset`: a trimesh scene for
meshes, a :class:`PointSet` for point clouds and splats.
"""

from __future__ import annotations

import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from spadok.core.errors import SpadokError
from spadok.core.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import trimesh

Kind = Literal["mesh", "pointcloud", "splat", "scene"]

# Bytes read from the head of a file for content sniffing.
SNIFF_BYTES = 4096


@dataclass
class PointSet:
    """Points in memory: positions, optional colours, any extra attributes.

    ``count`` is the true number of points in the file; ``positions`` may hold
    fewer when a loader sampled a cloud too large to keep whole.
    """

    positions: np.ndarray  # (n, 3) float64
    colors: np.ndarray | None = None  # (n, 3) or (n, 4) uint8
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    count: int = -1

    def __post_init__(self) -> None:
        if self.count < 0:
            self.count = len(self.positions)


@dataclass
class PointChunk:
    """A run of consecutive points of a cloud, as a streaming reader yields them.

    ``colors`` are as the file stores them (LAS: 16-bit); the consumer maps
    them to 8 bits with the whole cloud's range (see :mod:`spadok.core.pointstream`).
    """

    positions: np.ndarray  # (n, 3) float64, in the file's axes and units
    colors: np.ndarray | None = None  # (n, 3) integer or float, as stored
    intensity: np.ndarray | None = None  # (n,) as stored (LAS: uint16)
    classification: np.ndarray | None = None  # (n,) uint8


class PointStream(Protocol):
    """A point cloud read again and again in chunks, never whole.

    ``count`` is what the header says; ``chunks`` opens the source afresh
    each time, so several passes (statistics, then the octree) are possible.
    """

    @property
    def count(self) -> int: ...

    def chunks(self, size: int) -> Iterator[PointChunk]: ...


@dataclass
class ArrayStream:
    """A :class:`PointStream` over a cloud already in memory (formats read whole)."""

    points: PointSet

    @property
    def count(self) -> int:
        return len(self.points.positions)

    def chunks(self, size: int) -> Iterator[PointChunk]:
        pts = self.points
        intensity = pts.attributes.get("intensity")
        classification = pts.attributes.get("classification")
        n = len(pts.positions)
        for start in range(0, n, max(1, size)):
            sl = slice(start, min(n, start + size))
            yield PointChunk(
                positions=np.asarray(pts.positions[sl, :3], dtype=np.float64),
                colors=None if pts.colors is None else np.asarray(pts.colors[sl, :3]),
                intensity=None if intensity is None or len(intensity) != n else intensity[sl],
                classification=None
                if classification is None or len(classification) != n
                else classification[sl],
            )


@dataclass
class Asset:
    """A model read from its files, ready for statistics and derivatives."""

    kind: Kind
    format: str  # registry name, e.g. "ply", "glb", "las"
    mime: str
    primary: Path
    files: list[Path] = field(default_factory=list)  # every file used, primary first
    scene: trimesh.Scene | None = None
    points: PointSet | None = None
    # Point clouds read in chunks: the whole cloud, for passes over every point
    # (``points`` then holds a bounded sample and ``point_facts`` the exact facts).
    stream: PointStream | None = None
    point_facts: dict[str, Any] | None = None
    unit: str | None = None  # "m", "mm", "cm", "in", "ft" when the file says so
    crs: str | None = None  # WKT, or "EPSG:nnnn", when georeferenced
    up_axis: str | None = None  # "Y" or "Z" when the format says; None: the pipeline decides
    extra: dict[str, Any] = field(default_factory=dict)  # format facts (version, encoding...)
    warnings: list[str] = field(default_factory=list)
    stored_only: bool = False  # identified and kept, but no derivatives can be made

    def __post_init__(self) -> None:
        if not self.files:
            self.files = [self.primary]


class Resolver:
    """Finds the files a model refers to (MTL, textures, .bin), next to it.

    Names in model files come URL-encoded, with backslashes, in another case
    or another Unicode normalisation than on disk; all of those are tried.
    Every file handed out is remembered so the capture keeps all of them.
    """

    def __init__(self, primary: Path, root: Path | None = None) -> None:
        self.primary = primary
        self.base = primary.parent
        self.root = (root or primary.parent).resolve()
        self.used: list[Path] = []

    def _candidates(self, name: str) -> list[str]:
        names = [name, urllib.parse.unquote(name)]
        out: list[str] = []
        for n in names:
            n = n.replace("\\", "/").strip()
            for form in ("NFC", "NFD"):
                out.append(unicodedata.normalize(form, n))
        return list(dict.fromkeys(out))

    def find(self, name: str) -> Path | None:
        """Return the file ``name`` refers to, or None when it is absent."""
        if not name or name.startswith("data:"):
            return None
        for cand in self._candidates(name):
            if "://" in cand:
                return None
            path = (self.base / cand).resolve()
            if not path.is_relative_to(self.root):
                continue
            if path.is_file():
                return self._use(path)
        # Case-insensitive and basename-only matches, as exporters on Windows produce.
        wanted = {Path(c).name.lower() for c in self._candidates(name)}
        for path in sorted(self.base.rglob("*")):
            if path.is_file() and path.name.lower() in wanted:
                return self._use(path.resolve())
        return None

    def get(self, name: str) -> Path:
        """Like :meth:`find`, but a missing file is the user's error to fix."""
        path = self.find(name)
        if path is None:
            raise SpadokError("format.missing_file", name)
        return path

    def _use(self, path: Path) -> Path:
        if path not in self.used and path != self.primary.resolve():
            self.used.append(path)
        return path


Sniffer = Callable[[bytes, Path], int]
Loader = Callable[[Path, Resolver, Limits], Asset]
Saver = Callable[[Asset, Path], None]


@dataclass(frozen=True)
class FormatSpec:
    """One format: how to recognise it, read it and (optionally) write it.

    ``sniff`` gets the head of the file and its path and returns a confidence:
    0 not this format, 1 plausible (e.g. a text layout or extension only),
    2 a certain signature. The registry picks the highest.
    """

    name: str
    family: str
    mime: str
    extensions: tuple[str, ...]
    sniff: Sniffer
    load: Loader
    save: Saver | None = None
    description: str = ""


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    """The first ``n`` bytes of a file, for sniffing."""
    with path.open("rb") as fh:
        return fh.read(n)


def check_vertex_limit(count: int, limits: Limits = DEFAULT_LIMITS, what: str = "vertices") -> None:
    """Refuse models beyond the configured vertex/point limit before allocating."""
    limit = limits.max_points if what == "points" else limits.max_vertices
    if count > limit:
        raise SpadokError("limit.vertices", f"{count:,} {what}, the limit is {limit:,}")


def check_points_in_memory(
    count: int, limits: Limits = DEFAULT_LIMITS, what: str = "this format"
) -> None:
    """Refuse a cloud that a reader must hold whole (it cannot stream) beyond the limit."""
    if count > limits.max_points_in_memory:
        raise SpadokError(
            "limit.points_in_memory",
            f"{count:,} points in {what}, which is read whole; the limit is "
            f"{limits.max_points_in_memory:,}",
        )


def is_text(head: bytes) -> bool:
    """True when the head of a file looks like text (no NULs, decodes as UTF-8/Latin-1)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        if exc.start < len(head) - 4:
            return False
    return True

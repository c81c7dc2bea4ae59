"""Turn what a user names (files, folders, zips) into models to ingest.

A folder or a zip may hold many scans, each with the files it refers to
(an OBJ with its MTL and textures, a glTF with its .bin). Zips are unpacked
into a working folder under limits, refusing entries that would escape it;
3MF and USDZ are zips too, and are recognised as models, not containers.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from spadok.core.errors import SpadokError
from spadok.core.formats import registry
from spadok.core.limits import DEFAULT_LIMITS, Limits

# Extensions that name a model even when the content is not recognised, so a
# broken model in a folder is reported instead of silently skipped.
MODEL_EXTENSIONS = {
    ".glb", ".gltf", ".obj", ".ply", ".stl", ".off", ".3mf", ".vtp", ".usdz", ".usd",
    ".usda", ".usdc", ".las", ".laz", ".e57", ".pcd", ".xyz", ".pts", ".splat", ".spz",
    ".ksplat", ".fbx", ".dae", ".zae", ".3ds", ".blend", ".ctm", ".msh", ".binvox",
    ".abc", ".x3d", ".wrl", ".ptx", ".rcp", ".rcs",
}  # fmt: skip


@dataclass
class Unit:
    """One model to ingest, found in what the user named."""

    label: str  # what to call it in reports: "scans.zip!church/model.obj"
    primary: Path  # the model file (inside a working folder for zips)
    root: Path  # the folder its referenced files must stay inside
    container: Path | None = None  # the zip it came from, kept whole as the original
    container_units: int = 1  # how many models that zip yielded
    public_name: str = ""  # the label without the folders above what was named

    def __post_init__(self) -> None:
        # A file named on the command line is reported by its path but filed by
        # its name: the capture's source name is public, and a local path can
        # name a person. Labels from folders and zips are already relative.
        self.public_name = self.public_name or self.label


@dataclass
class Failed:
    """Something named that yields no model, with the reason."""

    label: str
    error: SpadokError


def expand(
    paths: list[Path], workdir: Path, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Unit | Failed]:
    """Yield each model in ``paths`` (or why a path yields none), in order."""
    for n, path in enumerate(paths):
        label = str(path)
        if not path.exists():
            yield Failed(label, SpadokError("input.not_found", label))
            continue
        if path.is_dir():
            found = list(_walk(path, path, label_prefix=path.name))
            if not found:
                yield Failed(label, SpadokError("input.no_model", path.name))
            yield from found
            continue
        if _is_container_zip(path):
            dest = workdir / f"in{n}"
            try:
                _unpack(path, dest, limits, depth=0)
            except SpadokError as exc:
                yield Failed(label, exc)
                continue
            found = list(_walk(dest, dest, label_prefix=f"{path.name}!"))
            if not found:
                yield Failed(label, SpadokError("input.no_model", path.name))
            for unit in found:
                if isinstance(unit, Unit):
                    unit.container = path
                    unit.container_units = sum(isinstance(u, Unit) for u in found)
                yield unit
            continue
        yield Unit(label=label, primary=path, root=path.parent, public_name=path.name)


def _is_container_zip(path: Path) -> bool:
    """A zip that is not itself a model format (3MF, USDZ)."""
    if not zipfile.is_zipfile(path):
        return False
    spec = registry.detect(path)
    return spec is None or spec.family == "zip"


def _walk(folder: Path, root: Path, label_prefix: str) -> Iterator[Unit]:
    """Model files in a folder, skipping what only another model refers to."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
    for path in files:
        rel = path.relative_to(folder).as_posix()
        sep = "" if label_prefix.endswith("!") else "/"
        label = f"{label_prefix}{sep}{rel}"
        spec = registry.detect(path)
        if spec is not None and spec.family == "zip":
            continue  # nested zips are unpacked by _unpack already
        if spec is None and path.suffix.lower() not in MODEL_EXTENSIONS:
            continue  # textures, materials, buffers, notes
        if spec is not None and spec.family == "sidecar":
            continue
        yield Unit(label=label, primary=path, root=root)


def _hidden(path: Path, folder: Path) -> bool:
    parts = path.relative_to(folder).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


@dataclass
class _Budget:
    """What is left to unpack, shared by a zip and every zip nested in it.

    Each nested zip would otherwise get the whole limit again: a zip of ten
    thousand zips of a gigabyte each passes every per-zip check.
    """

    bytes: int
    entries: int

    @classmethod
    def of(cls, limits: Limits) -> _Budget:
        return cls(limits.max_zip_total_bytes, limits.max_zip_entries)


def _unpack(
    zpath: Path, dest: Path, limits: Limits, depth: int, budget: _Budget | None = None
) -> None:
    """Unpack a zip under the limits; nested zips are unpacked in place."""
    budget = budget or _Budget.of(limits)
    if depth > limits.max_zip_depth:
        raise SpadokError("zip.too_deep", zpath.name)
    try:
        zf = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise SpadokError("zip.corrupt", f"{zpath.name}: {exc}") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        budget.entries -= len(infos)
        if budget.entries < 0:
            raise SpadokError(
                "zip.too_many_entries",
                f"more than {limits.max_zip_entries:,} files in all, the limit",
            )
        declared = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if declared > budget.bytes:
            raise SpadokError("input.too_large", f"{zpath.name} unpacks to {declared:,} bytes")
        if declared / packed > limits.max_zip_ratio and declared > 64 * 1024**2:
            raise SpadokError("zip.bomb", f"{zpath.name}: {declared / packed:.0f}× expansion")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for info in infos:
            if info.flag_bits & 0x1:
                raise SpadokError("zip.encrypted", zpath.name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SpadokError("zip.unsafe_path", f"{info.filename} is a link")
            target = _safe_target(root, info.filename)
            _extract(zf, info, target, zpath, budget)
            if zipfile.is_zipfile(target) and _is_container_zip(target):
                inner = target.with_name(target.name + ".d")
                _unpack(target, inner, limits, depth + 1, budget)
                target.unlink()


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, zpath: Path,
             budget: _Budget) -> None:  # fmt: skip
    """Write one entry, counting its real bytes against the budget (headers may lie)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("xb")
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        # Two entries of one name, or a file and a folder of one name: which one
        # the model meant cannot be known.
        raise SpadokError("zip.unsafe_path", f"{info.filename} clashes with another entry") from exc
    except OSError as exc:
        raise SpadokError("zip.unsafe_path", f"{info.filename}: {exc.strerror}") from exc
    try:
        with out, zf.open(info) as src:
            while chunk := src.read(1024 * 1024):
                budget.bytes -= len(chunk)
                if budget.bytes < 0:
                    raise SpadokError("zip.bomb", f"{zpath.name} unpacks past the limit")
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise SpadokError("zip.corrupt", f"{info.filename}: {exc}") from exc


# Longest file or folder name most file systems keep, in bytes.
MAX_NAME_BYTES = 255


def _safe_target(root: Path, name: str) -> Path:
    """Where a zip entry goes, refusing absolute paths, ``..`` escapes and unkeepable names."""
    clean = name.replace("\\", "/")
    pure = PurePosixPath(clean)
    if not pure.parts or pure.is_absolute() or ":" in pure.parts[0]:
        raise SpadokError("zip.unsafe_path", name)
    if any(part == ".." for part in pure.parts):
        raise SpadokError("zip.unsafe_path", name)
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in pure.parts):
        raise SpadokError("zip.unsafe_path", f"{name[:80]}… has a name longer than 255 bytes")
    target = (root / Path(*pure.parts)).resolve()
    if not target.is_relative_to(root):
        raise SpadokError("zip.unsafe_path", name)
    return target


def cleanup(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)

"""USDZ: an uncompressed zip whose first entry is a USD layer (.usdc/.usda/.usd).

There is no USD reader without Pixar's large library, so a USDZ is identified
and stored as it is: the original is preserved and described, but no
derivatives are made from it (``stored_only``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, Resolver
from spadok.core.limits import DEFAULT_LIMITS, Limits

LAYER_SUFFIXES = (".usdc", ".usda", ".usd")


def is_usdz_zip(names: list[str]) -> bool:
    """A USDZ's first entry is its root layer."""
    return bool(names) and names[0].lower().endswith(LAYER_SUFFIXES)


def sniff_usdz(head: bytes, path: Path) -> int:
    if head[:4] != b"PK\x03\x04":
        return 0
    # The first local header names the first entry: no need to read the directory.
    name_len = int.from_bytes(head[26:28], "little")
    first = head[30 : 30 + name_len].decode("utf-8", errors="replace").lower()
    return 2 if first.endswith(LAYER_SUFFIXES) else 0


def load_usdz(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Describe a USDZ package without reading its geometry."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
    if bad is not None:
        raise SpadokError("format.corrupt", f"{path.name}: entry {bad} fails its CRC")
    layers = [i.filename for i in infos if i.filename.lower().endswith(LAYER_SUFFIXES)]
    if not layers:
        raise SpadokError("input.no_model", path.name)
    return Asset(
        kind="mesh",
        format="usdz",
        mime="model/vnd.usdz+zip",
        primary=path,
        scene=None,
        stored_only=True,
        extra={"layers": layers, "root_layer": layers[0], "file_count": len(infos)},
        warnings=["USDZ is stored as it is; no previews or web copies are made from it"],
    )


MINIMAL_USDA = """#usda 1.0
(
    defaultPrim = "Root"
    metersPerUnit = 1
    upAxis = "Y"
)

def Xform "Root"
{
}
"""


def save_usdz(asset: Asset, path: Path) -> None:
    """Write a minimal valid USDZ (uncompressed zip, one .usda layer) for tests."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("scene.usda", MINIMAL_USDA)


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="usdz",
        family="usdz",
        mime="model/vnd.usdz+zip",
        extensions=(".usdz",),
        sniff=sniff_usdz,
        load=load_usdz,
        save=save_usdz,
        description="Universal Scene Description package (stored only)",
    ),
]

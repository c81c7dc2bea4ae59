"""3MF: a zip holding an XML model (``3D/3dmodel.model``), read through trimesh.

The unit is part of the 3MF model (``unit`` on ``<model>``, millimetre when
absent, as the specification says), so a 3MF's real-world size is always known.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import trimesh

from spadok.core.errors import SpadokError
from spadok.core.formats.base import Asset, FormatSpec, Resolver
from spadok.core.formats.mesh_common import as_scene, check_finite, scene_asset
from spadok.core.limits import DEFAULT_LIMITS, Limits

# 3MF unit names -> spadok unit codes (see stats.UNIT_METRES).
UNITS = {
    "micron": "um",
    "millimeter": "mm",
    "centimeter": "cm",
    "inch": "in",
    "foot": "ft",
    "meter": "m",
}


def is_3mf_zip(names: list[str]) -> bool:
    """A zip is a 3MF when it has an OPC content-types part and a .model part under 3D/."""
    lower = [n.lower() for n in names]
    return "[content_types].xml" in lower and any(
        n.startswith("3d/") and n.endswith(".model") for n in lower
    )


def sniff_3mf(head: bytes, path: Path) -> int:
    if head[:4] != b"PK\x03\x04":
        return 0
    try:
        with zipfile.ZipFile(path) as zf:
            return 2 if is_3mf_zip(zf.namelist()) else 0
    except (zipfile.BadZipFile, OSError):
        return 0


def model_unit(path: Path) -> str:
    """The unit declared on the root ``<model>`` element (default millimetre)."""
    from lxml import etree

    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.lower().startswith("3d/") and n.endswith(".model")]
        name = "3D/3dmodel.model" if "3D/3dmodel.model" in names else names[0]
        with zf.open(name) as fh:
            for _event, elem in etree.iterparse(fh, events=("start",), resolve_entities=False):
                return UNITS.get(str(elem.get("unit", "millimeter")).lower(), "mm")
    return "mm"


def load_3mf(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read a 3MF package; geometry via trimesh, unit from the model XML."""
    try:
        unit = model_unit(path)
    except (zipfile.BadZipFile, OSError, IndexError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: {exc}") from exc
    except Exception as exc:  # lxml syntax errors
        raise SpadokError("format.corrupt", f"{path.name}: model XML: {exc}") from exc
    scene = as_scene(trimesh.load(str(path), file_type="3mf", process=False))
    check_finite(scene, path)
    return scene_asset(
        scene,
        fmt="3mf",
        mime="model/3mf",
        path=path,
        unit=unit,
        up_axis="Z",
        extra={"unit_3mf": unit},
    )


def save_3mf(asset: Asset, path: Path) -> None:
    """Write a 3MF (trimesh writes millimetres; the scene is scaled to them)."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    from spadok.core.stats import UNIT_METRES

    scene = asset.scene
    factor = UNIT_METRES.get(asset.unit or "mm", 0.001) / 0.001
    if factor != 1.0:
        scene = scene.copy()
        scene.apply_scale(factor)
    path.write_bytes(scene.export(file_type="3mf"))


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="3mf",
        family="threemf",
        mime="model/3mf",
        extensions=(".3mf",),
        sniff=sniff_3mf,
        load=load_3mf,
        save=save_3mf,
        description="3D Manufacturing Format",
    ),
]

"""What a comparison writes: heat map and aligned models (valid glTF), report.json, units."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from spadok.core.compare import Params, compare_files
from spadok.core.derive.validate import validate_many
from spadok.core.derive.webglb import finish_gltfpack, read_glb_json, start_gltfpack
from tests.compare import cases

SCALE = 0.01  # the gargoyle as a 2-metre statue


def _glb(mesh: trimesh.Trimesh, path: Path) -> Path:
    mesh.export(path)  # glTF's unit is the metre, by its specification
    return path


@pytest.fixture(scope="module")
def metric(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, np.ndarray, dict]:
    """The dented gargoyle in metres, as GLB files, compared with plain and compressed outputs."""
    tmp = tmp_path_factory.mktemp("compare-outputs")
    before = cases.load(cases.GARGOYLE)
    before.apply_scale(SCALE)
    after, altered = cases.dent(before, radius=15.0 * SCALE, depth=4.0 * SCALE)
    truth = float(before.volume - after.volume)
    moved = after.copy()
    moved.apply_transform(cases.motion(11, (0.5, -0.2, 1.0)))
    b, a = _glb(before, tmp / "before.glb"), _glb(moved, tmp / "after.glb")
    report = compare_files(b, a, tmp / "plain", Params(samples=30_000), compress=False)
    (tmp / "web").mkdir()
    for name in ("heatmap.glb", "before.glb", "after.glb"):  # as compare_files compresses them
        finish_gltfpack(start_gltfpack(tmp / "plain" / name, tmp / "web" / name))
    return tmp, truth, altered, report.as_dict()


def _vertex_colours(path: Path) -> np.ndarray:
    """COLOR_0 of the GLB's only primitive, read from its binary chunk as the spec lays it out."""
    gltf, binary = read_glb_json(path)
    (primitive,) = gltf["meshes"][0]["primitives"]
    accessor = gltf["accessors"][primitive["attributes"]["COLOR_0"]]
    assert accessor["componentType"] == 5121 and accessor["type"] == "VEC4"
    view = gltf["bufferViews"][accessor["bufferView"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    raw = np.frombuffer(binary, np.uint8, accessor["count"] * 4, start)
    linear = raw.reshape(-1, 4)[:, :3] / 255.0  # glTF vertex colours are linear light
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255).astype(int)


def test_both_in_metres_and_the_volume_in_cubic_metres(metric) -> None:  # type: ignore[no-untyped-def]
    _tmp, truth, _altered, report = metric
    assert report["scale_known"] is True and report["unit"] == "m"
    assert report["before"]["unit"] == "m" and report["after"]["unit"] == "m"
    assert report["lost_volume"] == pytest.approx(truth, rel=0.05)
    assert 0 < report["changed_area"] < 0.05 * 47228.5 * SCALE**2  # a small patch of the surface


def test_models_pass_the_khronos_validator(metric) -> None:  # type: ignore[no-untyped-def]
    tmp = metric[0]
    names = ("heatmap.glb", "before.glb", "after.glb")
    plain = [tmp / "plain" / n for n in names]
    web = [tmp / "web" / n for n in names]
    for path, result in zip(plain + web, validate_many(plain + web), strict=True):
        assert result["errors"] == 0, (path, result)
        if path.parent.name == "plain":  # uncompressed: every accessor checked
            assert result["warnings"] == 0, (path, result)
    for p, w in zip(plain, web, strict=True):
        assert w.stat().st_size < p.stat().st_size / 2  # meshopt, like every web copy


def test_heat_map_colours_the_dent_red_and_the_rest_grey(metric) -> None:  # type: ignore[no-untyped-def]
    tmp, _truth, altered, report = metric
    colours = _vertex_colours(tmp / "plain" / "heatmap.glb")
    red = colours[:, 0] - colours[:, 2] > 40  # the lost ramp, light orange to dark red
    neutral = [int(report["legend"]["neutral"][i : i + 2], 16) for i in (1, 3, 5)]
    grey = np.all(np.abs(colours - neutral) <= 3, axis=1)
    assert grey.mean() > 0.9  # nearly all of the statue is unchanged
    # the red vertices are the dent's: as many as were pushed in, less its shallow rim
    assert 0.6 * altered.sum() < red.sum() <= 1.05 * altered.sum()
    assert not np.any(colours[:, 2] - colours[:, 0] > 40)  # nothing added: no blue
    legend = report["legend"]
    assert legend["signed"] and legend["unit"] == "m"
    assert legend["min"] == -legend["max"] and legend["threshold"] < legend["max"]


def test_report_json_is_the_report(metric) -> None:  # type: ignore[no-untyped-def]
    tmp, _truth, _altered, report = metric
    written = json.loads((tmp / "plain" / "report.json").read_text("utf-8"))
    assert written["verdict"] == "changed" == report["verdict"]
    assert written["lost_volume"] == report["lost_volume"]
    assert written["outputs"]["heatmap"]["file"] == "heatmap.glb"
    assert written["parameters"]["version"] == "spadok-compare/1"
    assert set(written["timings"]) >= {"load", "sample", "align", "distance", "volume", "heatmap"}

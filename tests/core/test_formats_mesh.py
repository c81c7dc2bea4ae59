"""Mesh format families: write-then-read per format, awkward real files, specific cases."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from spadok.core.errors import SpadokError
from spadok.core.formats import registry
from spadok.core.formats.base import Asset, PointSet
from spadok.core.formats.vtp import write_vtp
from spadok.core.stats import asset_stats
from tests.testdata import data, data_dir

GLTF_IN = ("awkward", "gltf_transform_testdata")


def _box_asset(unit: str | None = None) -> Asset:
    mesh = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    scene = trimesh.Scene(mesh)
    return Asset(kind="mesh", format="x", mime="x", primary=Path("x"), scene=scene, unit=unit)


def _one_mesh(asset: Asset) -> trimesh.Trimesh:
    assert asset.scene is not None
    return asset.scene.to_mesh()


# --- write then read -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["glb", "gltf", "obj", "ply", "stl", "off", "3mf", "vtp"])
def test_write_then_read_mesh(tmp_path: Path, name: str) -> None:
    spec = registry.by_name(name)
    assert spec.save is not None
    suffix = {"3mf": ".3mf"}.get(name, f".{name}")
    path = tmp_path / f"box{suffix}"
    source = _box_asset(unit="mm")
    spec.save(source, path)
    assert registry.detect(path).name == name  # type: ignore[union-attr]
    asset = registry.load(path)
    assert asset.kind == "mesh"
    mesh = _one_mesh(asset)
    assert len(mesh.faces) == 12
    np.testing.assert_allclose(mesh.bounds, [[-0.5, -1, -1.5], [0.5, 1, 1.5]], atol=1e-5)
    stats = asset_stats(asset)
    assert stats["watertight"] is True
    assert stats["volume"] == pytest.approx(6.0, rel=1e-5)


@pytest.mark.parametrize("name", ["glb", "obj", "ply", "stl"])
def test_loaded_scene_keeps_no_file_object(tmp_path: Path, name: str) -> None:
    """What trimesh read from memory (the rebuilt GLB, a PLY read whole) is not kept."""
    spec = registry.by_name(name)
    assert spec.save is not None
    path = tmp_path / f"box.{name}"
    spec.save(_box_asset(), path)
    asset = registry.load(path)
    assert asset.scene is not None
    for obj in (asset.scene, *asset.scene.geometry.values()):
        source = getattr(obj, "_source", None)
        assert source is None or source.file_obj is None


def test_write_then_read_ply_points(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pts = PointSet(
        positions=rng.random((50, 3)),
        colors=rng.integers(0, 255, (50, 3), dtype=np.uint8),
        attributes={"intensity": rng.random(50).astype(np.float32)},
    )
    asset = Asset(kind="pointcloud", format="ply", mime="x", primary=Path("x"), points=pts)
    path = tmp_path / "p.ply"
    registry.by_name("ply").save(asset, path)  # type: ignore[misc]
    back = registry.load(path)
    assert back.kind == "pointcloud" and back.points is not None
    np.testing.assert_allclose(back.points.positions, pts.positions)
    assert back.points.colors is not None
    np.testing.assert_array_equal(back.points.colors, pts.colors)
    np.testing.assert_allclose(back.points.attributes["intensity"], pts.attributes["intensity"])


@pytest.mark.parametrize("mode", ["ascii", "binary", "appended"])
@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("header", ["UInt32", "UInt64"])
def test_vtp_encodings(tmp_path: Path, mode: str, compress: bool, header: str) -> None:
    mesh = trimesh.creation.icosphere(subdivisions=2)
    mesh.vertex_attributes["quality"] = np.arange(len(mesh.vertices), dtype=np.float64)
    mesh.visual.vertex_colors = [10, 200, 30, 255]
    path = tmp_path / "s.vtp"
    write_vtp(mesh, path, mode=mode, compress=compress, header_type=header)
    back = _one_mesh(registry.load(path))
    geom = next(iter(registry.load(path).scene.geometry.values()))  # type: ignore[union-attr]
    np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-6)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_allclose(geom.vertex_attributes["quality"], np.arange(len(mesh.vertices)))
    assert (geom.visual.vertex_colors[:, :3] == [10, 200, 30]).all()


def test_write_then_read_usdz(tmp_path: Path) -> None:
    path = tmp_path / "scene.usdz"
    registry.by_name("usdz").save(_box_asset(), path)  # type: ignore[misc]
    assert registry.detect(path).name == "usdz"  # type: ignore[union-attr]
    asset = registry.load(path)
    assert asset.stored_only and asset.scene is None and asset.kind == "mesh"
    assert asset.extra["layers"] == ["scene.usda"] and asset.extra["file_count"] == 1


# --- every real file loads or fails with a code ----------------------------------------------


def _real_files() -> list[str]:
    root = data_dir()
    out = []
    for sub in ("awkward/trimesh_models", "awkward/gltf_transform_testdata", "scans"):
        folder = root / sub
        if folder.is_dir():
            out += sorted(str(p.relative_to(root)) for p in folder.rglob("*") if p.is_file())
    return out or ["awkward/trimesh_models"]


@pytest.mark.parametrize("rel", _real_files())
def test_real_file_loads_or_fails_cleanly(rel: str) -> None:
    path = data(*rel.split("/"))
    if path.is_dir():
        pytest.skip("no files")
    try:
        asset = registry.load(path)
    except SpadokError as exc:
        assert exc.code in {
            "format.unknown",
            "format.unsupported",
            "format.corrupt",
            "geometry.empty",
            "input.no_model",
        }, exc
        return
    stats = asset_stats(asset)
    json.dumps(stats)
    assert stats["kind"] in ("mesh", "pointcloud", "splat")


EXPECTED_CODES = {
    "awkward/trimesh_models/empty.ply": "geometry.empty",
    "awkward/trimesh_models/empty.stl": "geometry.empty",
    "awkward/trimesh_models/empty.obj": "geometry.empty",
    "awkward/trimesh_models/empty_nodes.glb": "geometry.empty",
    "awkward/trimesh_models/emptyIO/obj_wireframe.obj": "geometry.empty",
    "awkward/trimesh_models/emptyIO/ply_empty_header.ply": "geometry.empty",
    "awkward/trimesh_models/fuze.obj.mtl": "input.no_model",
    "awkward/trimesh_models/fuze.zip": "format.unsupported",
}


@pytest.mark.parametrize(("rel", "code"), sorted(EXPECTED_CODES.items()))
def test_expected_error_codes(rel: str, code: str) -> None:
    with pytest.raises(SpadokError) as info:
        registry.load(data(*rel.split("/")))
    assert info.value.code == code


def test_container_and_sidecar_families() -> None:
    zipped = registry.detect(data("awkward", "trimesh_models", "fuze.zip"))
    assert zipped is not None and zipped.family == "zip"
    mtl = registry.detect(data("awkward", "trimesh_models", "fuze.obj.mtl"))
    assert mtl is not None and mtl.family == "sidecar"
    threemf = registry.detect(data("awkward", "trimesh_models", "pyramids.3mf"))
    assert threemf is not None and threemf.family == "threemf"


# --- specific real files ---------------------------------------------------------------------


def test_bunny_keeps_scanner_properties() -> None:
    asset = registry.load(data("scans", "stanford_via_pyvista", "bunny.ply"))
    mesh = next(iter(asset.scene.geometry.values()))  # type: ignore[union-attr]
    assert len(mesh.vertices) == 35947
    assert len(mesh.faces) == 69451
    assert asset.extra["vertex_properties"] == ["confidence", "intensity"]
    assert len(mesh.vertex_attributes["confidence"]) == 35947


@pytest.mark.parametrize(
    "rel",
    [
        "extensions/test/in/BoxDraco.gltf",
        "extensions/test/in/BoxMeshopt.glb",
        "extensions/test/in/BoxMeshopt.gltf",
    ],
)
def test_compressed_boxes_equal_plain_box(rel: str) -> None:
    box = _one_mesh(
        registry.load(data(*GLTF_IN, "core", "test", "in", "Box_glTF-Embedded", "Box.gltf"))
    )
    other = _one_mesh(registry.load(data(*GLTF_IN, *rel.split("/"))))
    np.testing.assert_allclose(other.bounds, box.bounds, atol=1e-4)
    assert len(other.faces) == len(box.faces) == 12
    assert other.area == pytest.approx(box.area, rel=1e-5)
    corners = np.unique(other.vertices.round(4), axis=0)
    np.testing.assert_allclose(corners, np.unique(box.vertices.round(4), axis=0), atol=1e-4)
    assert asset_stats(registry.load(data(*GLTF_IN, *rel.split("/"))))["watertight"] is True


def test_unicode_gltf_finds_buffer_and_texture() -> None:
    folder = data(*GLTF_IN, "core", "test", "in", "EncodingTest")
    asset = registry.load(folder / "Unicode ❤♻ Test.gltf")
    names = {p.name for p in asset.files}
    assert "Unicode ❤♻ Binary.bin" in names and "Unicode ❤♻ Texture.png" in names
    assert len(asset_stats(asset)["textures"]) == 1


def test_obj_texture_with_space_in_name() -> None:
    asset = registry.load(data("awkward", "trimesh_models", "fuze.obj"))
    assert "fuze uv.jpg" in {p.name for p in asset.files}
    tex = asset_stats(asset)["textures"]
    assert tex and tex[0]["width"] == 1024 and tex[0]["format"] == "jpeg"


def test_obj_missing_mtl_is_a_warning() -> None:
    asset = registry.load(data("awkward", "trimesh_models", "jacked.obj"))
    assert asset.kind == "mesh" and any("nonexistent.mtl" in w for w in asset.warnings)


def test_obj_negative_indices_and_points() -> None:
    neg = registry.load(data("awkward", "trimesh_models", "negative_indices.obj"))
    assert asset_stats(neg)["triangles"] == 12
    pts = registry.load(data("awkward", "trimesh_models", "emptyIO", "obj_points.obj"))
    assert pts.kind == "pointcloud" and pts.points is not None and pts.points.count == 8


def test_3mf_unit() -> None:
    asset = registry.load(data("awkward", "trimesh_models", "pyramids.3mf"))
    assert asset.unit == "mm"
    stats = asset_stats(asset)
    assert stats["dimensions_m"][0] == pytest.approx(stats["size"][0] / 1000)


def test_vtp_real_scan() -> None:
    asset = registry.load(data("scans", "ggg_benchmarksfm_nikolov", "owl_decimated.vtp"))
    stats = asset_stats(asset)
    assert stats["vertices"] == 12442 and stats["triangles"] == 24407


# --- synthetic awkward cases -----------------------------------------------------------------


def test_obj_texture_names_backslash_case_unicode(tmp_path: Path) -> None:
    (tmp_path / "tex").mkdir()
    Image.new("RGB", (8, 4), "red").save(tmp_path / "tex" / "Фото Texture.PNG")
    (tmp_path / "Мат файл.mtl").write_text(
        "newmtl m\nKd 1 1 1\nmap_Kd tex\\фото texture.png\n", encoding="utf-8"
    )
    (tmp_path / "m.obj").write_text(
        "mtllib Мат файл.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\n"
        "usemtl m\nf 1/1 2/2 3/3\n",
        encoding="utf-8",
    )
    asset = registry.load(tmp_path / "m.obj")
    tex = asset_stats(asset)["textures"]
    assert [(t["width"], t["height"]) for t in tex] == [(8, 4)]
    assert not asset.warnings


def test_obj_missing_texture_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a.mtl").write_text("newmtl m\nmap_Kd gone.jpg\n")
    (tmp_path / "a.obj").write_text(
        "mtllib a.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nusemtl m\nf 1/1 2/1 3/1\n"
    )
    asset = registry.load(tmp_path / "a.obj")
    assert asset.kind == "mesh" and any("gone.jpg" in w for w in asset.warnings)


def _gltf_with_image(image_bytes: bytes, mime: str) -> dict:
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype="<f4").tobytes()
    uvs = np.array([[0, 0], [1, 0], [0, 1]], dtype="<f4").tobytes()
    blob = positions + uvs
    return {
        "asset": {"version": "2.0"},
        "buffers": [
            {
                "byteLength": len(blob),
                "uri": "data:application/octet-stream;base64," + base64.b64encode(blob).decode(),
            }
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36},
            {"buffer": 0, "byteOffset": 36, "byteLength": 24},
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            },
            {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"},
        ],
        "images": [{"uri": f"data:{mime};base64," + base64.b64encode(image_bytes).decode()}],
        "textures": [{"extensions": {"KHR_texture_basisu": {"source": 0}}}],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        "meshes": [
            {"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "material": 0}]}
        ],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "extensionsUsed": ["KHR_texture_basisu"],
        "extensionsRequired": ["KHR_texture_basisu"],
    }


def test_gltf_ktx2_texture_kept_as_info(tmp_path: Path) -> None:
    ktx2 = data(*GLTF_IN, "extensions", "test", "in", "test.ktx2").read_bytes()
    path = tmp_path / "k.gltf"
    path.write_text(json.dumps(_gltf_with_image(ktx2, "image/ktx2")))
    asset = registry.load(path)
    assert asset.kind == "mesh" and any("KTX2" in w for w in asset.warnings)
    (tex,) = asset_stats(asset)["textures"]
    width, height = struct.unpack_from("<II", ktx2, 20)
    assert tex["format"] == "ktx2" and (tex["width"], tex["height"]) == (width, height)


@pytest.mark.parametrize("name", ["test.avif", "test-lossy.webp"])
def test_gltf_avif_webp_textures_decode(tmp_path: Path, name: str) -> None:
    blob = data(*GLTF_IN, "extensions", "test", "in", name).read_bytes()
    path = tmp_path / "w.gltf"
    path.write_text(json.dumps(_gltf_with_image(blob, "image/x")))
    (tex,) = asset_stats(registry.load(path))["textures"]
    assert (tex["width"], tex["height"]) == (256, 256)


def test_glb_missing_bin_for_gltf(tmp_path: Path) -> None:
    doc = _gltf_with_image(b"", "image/png")
    doc["buffers"][0]["uri"] = "missing.bin"
    path = tmp_path / "m.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(SpadokError) as info:
        registry.load(path)
    assert info.value.code == "format.missing_file"


def _ply_header(fmt: str, nv: int, extra: str = "") -> bytes:
    return (
        f"ply\nformat {fmt} 1.0\nelement vertex {nv}\nproperty float x\nproperty float y\n"
        f"property float z\n{extra}end_header\n"
    ).encode()


def test_ply_tristrips_big_endian(tmp_path: Path) -> None:
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 2, 0]], dtype=">f4")
    strip = np.array([0, 1, 2, 3, 4], dtype=">i4")
    body = verts.tobytes() + struct.pack(">i", len(strip)) + strip.tobytes()
    head = _ply_header(
        "binary_big_endian", 5, "element tristrips 1\nproperty list int int vertex_indices\n"
    )
    path = tmp_path / "s.ply"
    path.write_bytes(head + body)
    mesh = _one_mesh(registry.load(path))
    assert len(mesh.faces) == 3
    assert mesh.area == pytest.approx(1.5)
    # Alternate triangles are flipped, so all normals point the same way.
    assert (mesh.face_normals[:, 2] > 0).all() or (mesh.face_normals[:, 2] < 0).all()


def test_ply_polygon_faces_ascii(tmp_path: Path) -> None:
    text = (
        _ply_header("ascii", 4, "element face 1\nproperty list uchar int vertex_indices\n")
        + b"0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n"
    )
    path = tmp_path / "q.ply"
    path.write_bytes(text)
    assert asset_stats(registry.load(path))["surface_area"] == pytest.approx(1.0)


def test_ply_gaussian_splat(tmp_path: Path) -> None:
    props = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "rot_0"]
    arr = np.zeros(3, dtype=[(p, "<f4") for p in props])
    arr["x"] = [0, 1, 2]
    arr["f_dc_0"] = [0.0, 10.0, -10.0]
    head = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
    head += "".join(f"property float {p}\n" for p in props) + "end_header\n"
    path = tmp_path / "g.ply"
    path.write_bytes(head.encode() + arr.tobytes())
    asset = registry.load(path)
    assert asset.kind == "splat" and asset.extra["splat_count"] == 3
    assert asset.points is not None and asset.points.colors is not None
    assert asset.points.colors[:, 0].tolist() == [128, 255, 0]


def test_ply_truncated_is_corrupt(tmp_path: Path) -> None:
    head = _ply_header("binary_little_endian", 100)
    path = tmp_path / "t.ply"
    path.write_bytes(head + b"\0" * 100)
    with pytest.raises(SpadokError) as info:
        registry.load(path)
    assert info.value.code == "format.corrupt"
    path.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n")
    with pytest.raises(SpadokError) as info:
        registry.load(path)
    assert info.value.code == "format.corrupt"


def test_stl_binary_with_solid_header_and_ascii_multi_solid(tmp_path: Path) -> None:
    mesh = trimesh.creation.box()
    raw = bytearray(mesh.export(file_type="stl"))
    raw[:80] = b"solid but actually binary".ljust(80, b" ")
    path = tmp_path / "b.stl"
    path.write_bytes(bytes(raw))
    assert asset_stats(registry.load(path))["triangles"] == 12
    text = mesh.export(file_type="stl_ascii")
    two = tmp_path / "two.stl"
    two.write_text(
        text + text.replace("solid", "solid other").replace("endsolid other", "endsolid")
    )
    asset = registry.load(two)
    assert asset.extra["solids"] >= 2 and asset_stats(asset)["triangles"] == 24


def test_stl_busted_size_is_corrupt(tmp_path: Path) -> None:
    raw = trimesh.creation.box().export(file_type="stl")
    path = tmp_path / "cut.stl"
    path.write_bytes(raw[:-30])
    with pytest.raises(SpadokError) as info:
        registry.load(path)
    assert info.value.code in ("format.corrupt", "format.unknown")


def test_off_variants(tmp_path: Path) -> None:
    path = tmp_path / "c.off"
    path.write_text(
        "# hi\nCOFF\n3 1 0\n0 0 0 255 0 0 255\n1 0 0 255 0 0 255\n0 1 0 255 0 0 255\n3 0 1 2\n"
    )
    stats = asset_stats(registry.load(path))
    assert stats["triangles"] == 1 and stats["has_vertex_colors"]
    path.write_text("NOFF 3 1 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 0 1 2\n")
    assert asset_stats(registry.load(path))["surface_area"] == pytest.approx(0.5)


def test_zip_container_not_3mf(tmp_path: Path) -> None:
    path = tmp_path / "pack.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.stl", trimesh.creation.box().export(file_type="stl"))
    spec = registry.detect(path)
    assert spec is not None and spec.family == "zip"
    with pytest.raises(SpadokError) as info:
        registry.load(path)
    assert info.value.code == "format.unsupported"


def test_glb_in_memory_is_a_scene_with_texture(tmp_path: Path) -> None:
    mesh = trimesh.creation.box()
    image = Image.new("RGB", (16, 8), "blue")
    mesh.visual = trimesh.visual.TextureVisuals(uv=np.zeros((len(mesh.vertices), 2)), image=image)
    path = tmp_path / "t.glb"
    path.write_bytes(trimesh.Scene(mesh).export(file_type="glb"))
    tex = asset_stats(registry.load(path))["textures"]
    assert [(t["width"], t["height"]) for t in tex] == [(16, 8)]
    assert io.BytesIO(path.read_bytes()).read(4) == b"glTF"

"""Derivatives: web GLB tiers, point GLBs, thumbnails, and the glTF validator.

Meshes are loaded with trimesh directly (the format modules are tested on
their own); every GLB written here must pass the Khronos validator with zero
errors, and every thumbnail must show the model.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from spadok.core.derive import thumbnail as thumb
from spadok.core.derive.pointweb import make_point_glb, subsample_indices
from spadok.core.derive.policy import MESH_TIERS, TIER_MIN_RATIO
from spadok.core.derive.thumbnail import coverage, render_thumbnail
from spadok.core.derive.validate import validate_glb, validate_many
from spadok.core.derive.webglb import (
    TextureCache,
    make_mesh_lods,
    node_modules_dir,
    plan_tiers,
    read_glb_json,
    scene_primitives,
    simplify_primitive,
    vertex_normals,
    write_glb,
)
from spadok.core.formats.base import Asset, PointSet
from tests.testdata import data

BUDGET = {t.role: t.max_triangles for t in MESH_TIERS}
TEXTURE = {t.role: t.max_texture for t in MESH_TIERS}


def gl_available() -> bool:
    try:
        import moderngl

        moderngl.create_standalone_context(backend="egl").release()
    except Exception:
        return False
    return True


requires_gl = pytest.mark.skipif(not gl_available(), reason="no EGL/llvmpipe GL stack")


def load_scene(*parts: str) -> trimesh.Scene:
    return trimesh.load(data(*parts), process=False, force="scene")


def scene_triangles(scene: trimesh.Scene) -> int:
    """Triangles as drawn: an instanced geometry counts once per node."""
    return sum(
        len(getattr(scene.geometry[scene.graph[n][1]], "faces", ()))
        for n in scene.graph.nodes_geometry
    )


def assert_valid(paths: list[Path]) -> None:
    for report in validate_many(paths):
        assert report["errors"] == 0, report


def textured_mesh(
    base: trimesh.Trimesh, faces: int, tex: tuple[int, int], alpha: bool = False
) -> trimesh.Trimesh:
    """``base`` subdivided to ``faces`` triangles, cylindrical UVs with a seam, a texture."""
    v, f = base.vertices, base.faces
    while len(f) < faces:
        v, f = trimesh.remesh.subdivide(v, f)
    f = f[:faces]
    ext = v.max(0) - v.min(0)
    up = int(np.argmax(ext))
    a, b = (i for i in range(3) if i != up)
    c = (v.max(0) + v.min(0)) / 2
    u = (np.arctan2(v[:, b] - c[b], v[:, a] - c[a]) + np.pi) / (2 * np.pi)
    h = (v[:, up] - v[:, up].min()) / ext[up]
    uf = u[f]
    wrap = (uf.max(1) - uf.min(1)) > 0.5
    fw = f[wrap].copy()
    low = uf[wrap] < 0.5
    src = fw[low]
    fw[low] = np.arange(len(v), len(v) + len(src))
    f = f.copy()
    f[wrap] = fw
    v = np.concatenate([v, v[src]])
    u = np.concatenate([u, u[src] + 1.0]) / 1.0001
    h = np.concatenate([h, h[src]])
    w, hh = tex
    yy, xx = np.mgrid[0:hh, 0:w]
    rgb = np.stack(
        [
            128 + 100 * np.sin(xx / 17.0),
            128 + 100 * np.sin(yy / 23.0),
            128 + 60 * np.sin((xx + yy) / 31.0),
        ],
        -1,
    ).astype(np.uint8)
    if alpha:
        a_ch = np.where((xx // 64 + yy // 64) % 2 == 0, 255, 90).astype(np.uint8)
        img = Image.fromarray(np.dstack([rgb, a_ch]), "RGBA")
    else:
        img = Image.fromarray(rgb, "RGB")
    mat = trimesh.visual.material.PBRMaterial(
        baseColorTexture=img, metallicFactor=0.0, roughnessFactor=0.8
    )
    visual = trimesh.visual.TextureVisuals(uv=np.stack([u, h], 1), material=mat)
    return trimesh.Trimesh(v, f, visual=visual, process=False)


# ---------------------------------------------------------------- tools and pieces


def test_node_modules_found() -> None:
    nm = node_modules_dir()
    assert (nm / "gltfpack" / "cli.js").is_file()
    assert (nm / "gltf-validator").is_dir()


def test_plan_tiers() -> None:
    assert [(t.role, n) for t, n in plan_tiers(20_000)] == [("web-high", 20_000)]
    assert len(plan_tiers(25_000)) == 1
    assert [(t.role, n) for t, n in plan_tiers(69_451)] == [
        ("web-high", 69_451),
        ("web-low", 25_000),
    ]
    assert [n for _, n in plan_tiers(1_300_000)] == [500_000, 150_000, 25_000]
    for tris in (1, 30_000, 41_000, 42_000, 200_000, 249_000, 251_000, 10**7):
        plan = plan_tiers(tris)
        assert plan[0][1] == min(tris, MESH_TIERS[0].max_triangles)
        for (_, hi), (_, lo) in itertools.pairwise(plan):
            assert lo <= TIER_MIN_RATIO * hi


def test_vertex_normals_match_trimesh() -> None:
    mesh = trimesh.load(data("scans", "stanford_via_pyvista", "bunny.ply"), process=False)
    pos = np.asarray(mesh.vertices, np.float32)
    idx = mesh.faces.astype(np.uint32).ravel()
    ours = vertex_normals(pos, idx)
    used = np.zeros(len(pos), bool)
    used[idx] = True
    dots = (ours * mesh.vertex_normals).sum(1)[used]
    assert np.percentile(dots, 1) > 0.98
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_vertex_normals_in_blocks_match_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Summing normals block by block (bounded temporaries) changes nothing that shows."""
    from spadok.core.derive import webglb

    mesh = trimesh.load(data("scans", "stanford_via_pyvista", "bunny.ply"), process=False)
    pos = np.asarray(mesh.vertices, np.float32)
    idx = mesh.faces.astype(np.uint32).ravel()
    one_pass = vertex_normals(pos, idx)
    monkeypatch.setattr(webglb, "NORMAL_BLOCK", 997)  # many blocks, uneven last one
    blocks = vertex_normals(pos, idx)
    assert np.allclose(one_pass, blocks, atol=1e-6)


def test_deferred_normals_give_the_same_tier() -> None:
    """Normals computed beside the simplifier end up exactly where computed ones would."""
    from concurrent.futures import ThreadPoolExecutor

    mesh = textured_mesh(trimesh.creation.icosphere(subdivisions=5), 20_000, (64, 64))
    eager, _ = scene_primitives(trimesh.Scene(mesh))
    deferred, _ = scene_primitives(trimesh.Scene(mesh), defer_normals=True)
    assert eager[0].normals is not None and deferred[0].normals is None
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(vertex_normals, deferred[0].positions, deferred[0].indices)
        late, _ = simplify_primitive(deferred[0], 2_000, normals=future)
        kept, _ = simplify_primitive(deferred[0], 10**9, normals=future)  # nothing to cut
    now, _ = simplify_primitive(eager[0], 2_000)
    assert late.normals is not None and now.normals is not None
    assert np.array_equal(late.indices, now.indices)
    assert np.array_equal(late.normals, now.normals)
    assert kept.normals is not None and len(kept.normals) == len(eager[0].positions)


def test_meshoptimizer_wrapper_contract() -> None:
    """The alpha wrapper counts rows of a 2-D index array as indices: we pass flat arrays."""
    import meshoptimizer as mo

    mesh = trimesh.creation.icosphere(subdivisions=4)
    pos = np.asarray(mesh.vertices, np.float32)
    idx = mesh.faces.astype(np.uint32).ravel()
    dest = np.empty(len(idx), np.uint32)
    n = mo.simplify(
        dest,
        idx,
        pos,
        index_count=len(idx),
        vertex_count=len(pos),
        vertex_positions_stride=12,
        target_index_count=300,
        target_error=0.5,
    )
    assert 0 < n <= 300 and n % 3 == 0
    assert dest[:n].max() < len(pos)


def test_simplify_keeps_uv_seams_and_budget() -> None:
    mesh = textured_mesh(trimesh.creation.icosphere(subdivisions=5), 20_000, (256, 256))
    prims, _ = scene_primitives(trimesh.Scene(mesh))
    prim = prims[0]
    out, err = simplify_primitive(prim, 2_000)
    assert out.triangles <= 2_000
    assert out.triangles > 1_000
    assert err < 0.05
    # Vertices are a subset: no interpolated UVs across the seam.
    assert out.uv is not None and out.uv[:, 0].max() > 0.99


def test_simplify_soup_falls_back_to_sloppy() -> None:
    """An unwelded triangle soup blocks edge collapses: the budget is still met."""
    ico = trimesh.creation.icosphere(subdivisions=5)
    soup = trimesh.Trimesh(
        ico.vertices[ico.faces].reshape(-1, 3),
        np.arange(len(ico.faces) * 3).reshape(-1, 3),
        process=False,
    )
    prims, _ = scene_primitives(trimesh.Scene(soup))
    out, _ = simplify_primitive(prims[0], 1_000)
    assert 0 < out.triangles <= 1_000


def test_plain_writer_output_is_valid(tmp_path: Path) -> None:
    """The plain GLB (before gltfpack) is checked by the validator down to the accessors."""
    scenes = {
        "fuze": load_scene("awkward", "trimesh_models", "fuze.obj"),
        "laurana": load_scene("scans", "3dhop_cnr_heritage", "laurana.ply"),
        "testscene": load_scene("awkward", "trimesh_models", "TestScene.gltf"),
        "points": trimesh.Scene(trimesh.PointCloud(np.random.default_rng(1).random((500, 3)))),
    }
    paths = []
    for name, scene in scenes.items():
        prims, centre = scene_primitives(scene)
        path = tmp_path / f"{name}.glb"
        write_glb(path, prims, centre, 1024, TextureCache())
        paths.append(path)
    for report in validate_many(paths):
        assert report["errors"] == 0, report
        assert report["warnings"] == 0, report


def test_validator_reports_broken_file(tmp_path: Path) -> None:
    good = tmp_path / "good.glb"
    prims, _ = scene_primitives(trimesh.Scene(trimesh.creation.box()))
    write_glb(good, prims)
    bad = tmp_path / "bad.glb"
    bad.write_bytes(good.read_bytes()[:-40])
    report = validate_glb(bad)
    assert report["errors"] > 0
    assert report["messages"]


# ---------------------------------------------------------------- mesh LODs


def check_lods(results: list, source_tris: int) -> None:
    roles = [r.role for r in results]
    plan = plan_tiers(source_tris)
    assert roles == [t.role for t, _ in plan]
    for r, (tier, target) in zip(results, plan, strict=True):
        assert r.path.is_file() and r.path.stat().st_size == r.stats["bytes"]
        assert r.stats["triangles"] <= tier.max_triangles
        assert r.stats["triangles"] <= target
        assert r.stats["triangles"] >= 0.8 * target
        assert "gltfpack" in r.tool and "meshoptimizer" in r.tool
        gltf, _ = read_glb_json(r.path)
        assert "EXT_meshopt_compression" in gltf["extensionsUsed"]
        for t in r.stats["textures"]:
            assert max(t["width"], t["height"]) <= tier.max_texture
    assert_valid([r.path for r in results])


@pytest.mark.parametrize(
    ("parts", "tiers"),
    [
        (("scans", "stanford_via_pyvista", "bunny.ply"), 2),
        (("scans", "stanford_via_pyvista", "lucy.ply"), 2),
        (("scans", "3dhop_cnr_heritage", "laurana.ply"), 2),
    ],
)
def test_lods_real_scans(tmp_path: Path, parts: tuple[str, ...], tiers: int) -> None:
    scene = load_scene(*parts)
    tris = scene_triangles(scene)
    results = make_mesh_lods(scene, tmp_path)
    assert len(results) == tiers
    check_lods(results, tris)
    assert results[0].stats["triangles"] == tris  # under 500k: the top tier is uncut


def test_lods_vertex_colours_survive(tmp_path: Path) -> None:
    results = make_mesh_lods(load_scene("scans", "3dhop_cnr_heritage", "laurana.ply"), tmp_path)
    for r in results:
        gltf, _ = read_glb_json(r.path)
        assert "COLOR_0" in gltf["meshes"][0]["primitives"][0]["attributes"]
        assert "NORMAL" in gltf["meshes"][0]["primitives"][0]["attributes"]


def test_lods_textured_obj_keeps_texture(tmp_path: Path) -> None:
    scene = load_scene("awkward", "trimesh_models", "fuze.obj")
    results = make_mesh_lods(scene, tmp_path)
    assert len(results) == 1  # 1,000 triangles: one uncut web copy
    r = results[0]
    assert r.stats["triangles"] == 1000
    assert r.stats["textures"] == [
        {
            "width": 1024,
            "height": 1024,
            "mime": "image/jpeg",
            "bytes": pytest.approx(r.stats["textures"][0]["bytes"]),
        }
    ]
    gltf, binary = read_glb_json(r.path)
    assert len(gltf["images"]) == 1
    prim = gltf["meshes"][0]["primitives"][0]
    assert {"POSITION", "NORMAL", "TEXCOORD_0"} <= set(prim["attributes"])
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    start = view.get("byteOffset", 0)
    from io import BytesIO

    img = Image.open(BytesIO(binary[start : start + view["byteLength"]]))
    assert img.size == (1024, 1024)
    assert_valid([r.path])


def test_lods_multi_material_gltf(tmp_path: Path) -> None:
    scene = load_scene("awkward", "trimesh_models", "TestScene.gltf")
    results = make_mesh_lods(scene, tmp_path)
    check_lods(results, scene_triangles(scene))
    gltf, _ = read_glb_json(results[0].path)
    assert len(gltf["materials"]) >= 4
    colours = {
        tuple(m["pbrMetallicRoughness"].get("baseColorFactor", (1, 1, 1, 1)))
        for m in gltf["materials"]
    }
    assert len(colours) >= 3


def test_lods_multi_texture_with_alpha_no_normals_and_points(tmp_path: Path) -> None:
    """Several primitives: an opaque texture, an RGBA texture (PNG), a bare mesh, loose points."""
    sphere = trimesh.creation.icosphere(subdivisions=6)  # 81,920 triangles
    a = textured_mesh(sphere, 81_920, (512, 512))
    b = textured_mesh(sphere, 81_920, (300, 200), alpha=True)
    b.apply_translation((3, 0, 0))
    bare = trimesh.Trimesh(
        np.add(sphere.vertices, [0, 3, 0]), sphere.faces, process=False
    )  # no normals cached
    assert "vertex_normals" not in bare._cache.cache
    pts = trimesh.PointCloud(np.add(np.random.default_rng(0).random((5000, 3)), [0, 0, 3]))
    scene = trimesh.Scene([a, b, bare, pts])
    results = make_mesh_lods(scene, tmp_path)
    check_lods(results, 3 * 81_920)
    top = results[0]
    mimes = sorted(t["mime"] for t in top.stats["textures"])
    assert mimes == ["image/jpeg", "image/png"]
    gltf, _ = read_glb_json(top.path)
    modes = sorted(p.get("mode", 4) for p in gltf["meshes"][0]["primitives"])
    assert 0 in modes and 4 in modes
    for p in gltf["meshes"][0]["primitives"]:
        if p.get("mode", 4) == 4:
            assert "NORMAL" in p["attributes"]


def test_lods_point_only_scene(tmp_path: Path) -> None:
    scene = trimesh.Scene(trimesh.PointCloud(np.random.default_rng(0).random((2000, 3))))
    results = make_mesh_lods(scene, tmp_path)
    assert len(results) == 1
    assert results[0].stats["points"] == 2000
    assert_valid([results[0].path])


def test_lods_georeferenced_offset_kept(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(2, 3, 4))
    box.apply_translation((500_000.125, 5_400_000.25, 120.5))
    results = make_mesh_lods(trimesh.Scene(box), tmp_path)
    gltf, _ = read_glb_json(results[0].path)
    offset = next(n for n in gltf["nodes"] if n.get("name") == "offset")
    assert offset["translation"] == [500_000.125, 5_400_000.25, 120.5]
    assert_valid([results[0].path])


@pytest.mark.slow
def test_lods_synthetic_600k_textured(tmp_path: Path) -> None:
    lucy = trimesh.load(data("scans", "stanford_via_pyvista", "lucy.ply"), process=False)
    mesh = textured_mesh(lucy, 600_000, (3000, 3000))
    results = make_mesh_lods(trimesh.Scene(mesh), tmp_path)
    assert [r.role for r in results] == ["web-high", "web-medium", "web-low"]
    check_lods(results, 600_000)
    assert results[0].stats["triangles"] <= 500_000
    sizes = [r.stats["textures"][0]["width"] for r in results]
    assert sizes == [3000, 2048, 1024]
    for r in results:  # normals computed beside the first simplification reach every tier
        gltf, _ = read_glb_json(r.path)
        assert all("NORMAL" in p["attributes"] for m in gltf["meshes"] for p in m["primitives"])
    assert results[0].stats["bytes"] > results[1].stats["bytes"] > results[2].stats["bytes"]


# ---------------------------------------------------------------- point GLB


def las_points(name: str = "simple.las") -> PointSet:
    import laspy

    las = laspy.read(data("pointclouds", "las_laspy_tests", name))
    xyz = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], 1)
    colours = None
    if "red" in las.point_format.dimension_names:
        colours = (np.stack([las.red, las.green, las.blue], 1) >> 8).astype(np.uint8)
        if colours.max() == 0:
            colours = np.stack([las.red, las.green, las.blue], 1).astype(np.uint8)
    return PointSet(xyz, colours, {"intensity": np.asarray(las.intensity)})


def test_point_glb_from_las(tmp_path: Path) -> None:
    pts = las_points()
    d = make_point_glb(pts, tmp_path / "points.glb")
    assert d.stats["points"] == len(pts.positions)
    gltf, _ = read_glb_json(d.path)
    prim = gltf["meshes"][0]["primitives"][0]
    assert prim["mode"] == 0 and "COLOR_0" in prim["attributes"]
    offset = next(n for n in gltf["nodes"] if n.get("name") == "offset")
    centre = (pts.positions.min(0) + pts.positions.max(0)) / 2
    assert np.allclose(offset["translation"], centre, rtol=0, atol=1e-6)
    assert_valid([d.path])


def test_point_glb_subsampled_and_uncoloured(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pts = PointSet(rng.random((50_000, 3)) * 10 + (4e5, 5e6, 100))
    d = make_point_glb(pts, tmp_path / "p.glb", max_points=10_000)
    assert d.stats["points"] <= 10_000 and d.stats["points"] > 9_000
    assert d.stats["source_points"] == 50_000
    assert d.params["colour"].startswith("height")
    assert_valid([d.path])


def test_subsample_indices() -> None:
    assert subsample_indices(10, 20) is None
    keep = subsample_indices(1_000_000, 1000)
    assert keep is not None and len(keep) <= 1000 and len(keep) > 900
    assert np.all(np.diff(keep) > 0)
    assert np.array_equal(keep, subsample_indices(1_000_000, 1000))  # reproducible


# ---------------------------------------------------------------- thumbnails


def assert_not_blank(path: Path) -> None:
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (512, 512, 3)
    assert coverage(img) > 0.03
    fg = np.abs(img.astype(int) - np.array(thumb.BACKGROUND)).max(2) > 8
    lum = img[fg].mean(1)
    assert lum.std() > 8  # shaded, not a silhouette
    assert len(np.unique(lum.round())) > 20


THUMB_CASES = {
    "mesh": (("scans", "stanford_via_pyvista", "bunny.ply"), "Y"),
    "textured": (("awkward", "trimesh_models", "fuze.obj"), "Z"),
    "vertex_coloured": (("scans", "3dhop_cnr_heritage", "laurana.ply"), "Y"),
}


@pytest.mark.parametrize("renderer", [pytest.param("gl", marks=requires_gl), "numpy"])
@pytest.mark.parametrize("case", sorted(THUMB_CASES))
def test_thumbnail_meshes(tmp_path: Path, case: str, renderer: str) -> None:
    parts, up = THUMB_CASES[case]
    d = render_thumbnail(load_scene(*parts), tmp_path / "t.png", up=up, renderer=renderer)  # type: ignore[arg-type]
    assert d.role == "thumbnail" and d.mime == "image/png"
    assert d.params["renderer"] == ("moderngl-egl" if renderer == "gl" else "numpy")
    assert_not_blank(d.path)


@pytest.mark.parametrize("renderer", [pytest.param("gl", marks=requires_gl), "numpy"])
def test_thumbnail_point_cloud(tmp_path: Path, renderer: str) -> None:
    pts = las_points()
    asset = Asset(
        kind="pointcloud",
        format="las",
        mime="application/vnd.las",
        primary=Path("simple.las"),
        points=pts,
    )
    d = render_thumbnail(asset, tmp_path / "p.png", renderer=renderer)  # type: ignore[arg-type]
    assert d.params["up"] == "Z"
    assert_not_blank(d.path)


@requires_gl
def test_thumbnail_renderers_agree(tmp_path: Path) -> None:
    scene = load_scene("scans", "stanford_via_pyvista", "bunny.ply")
    a = render_thumbnail(scene, tmp_path / "gl.png", renderer="gl")
    b = render_thumbnail(scene, tmp_path / "np.png", renderer="numpy")
    ia = np.asarray(Image.open(a.path), np.float32)
    ib = np.asarray(Image.open(b.path), np.float32)
    assert abs(a.stats["coverage"] - b.stats["coverage"]) < 0.01
    assert np.abs(ia - ib).mean() < 6


def test_thumbnail_up_axis_changes_view(tmp_path: Path) -> None:
    scene = load_scene("scans", "stanford_via_pyvista", "lucy.ply")  # a tall, Z-up statue
    z = render_thumbnail(scene, tmp_path / "z.png", up="Z", renderer="numpy")
    y = render_thumbnail(scene, tmp_path / "y.png", up="Y", renderer="numpy")

    def aspect(path: Path) -> float:
        fg = np.abs(np.asarray(Image.open(path), int) - np.array(thumb.BACKGROUND)).max(2) > 8
        rows, cols = np.flatnonzero(fg.any(1)), np.flatnonzero(fg.any(0))
        return (rows[-1] - rows[0]) / (cols[-1] - cols[0])

    assert aspect(z.path) > 1.5  # standing
    assert not math.isclose(aspect(z.path), aspect(y.path), rel_tol=0.2)


def test_default_up() -> None:
    def asset(fmt: str, kind: str = "mesh", crs: str | None = None) -> Asset:
        return Asset(kind=kind, format=fmt, mime="x", primary=Path("a"), crs=crs)  # type: ignore[arg-type]

    assert thumb.default_up(asset("glb")) == "Y"
    assert thumb.default_up(asset("las", "pointcloud")) == "Z"
    assert thumb.default_up(asset("ply", crs="EPSG:32635")) == "Z"
    assert thumb.default_up(asset("stl")) == "Z"


def test_lods_with_thumbnail(tmp_path: Path) -> None:
    scene = load_scene("scans", "stanford_via_pyvista", "lucy.ply")
    results = make_mesh_lods(scene, tmp_path / "web", thumbnail=tmp_path / "thumb.png", up="Z")
    assert [r.role for r in results] == ["web-high", "web-low", "thumbnail"]
    assert results[-1].params["up"] == "Z"
    assert_not_blank(results[-1].path)


def test_process_lets_go_of_the_master_and_keeps_everything(tmp_path: Path) -> None:
    """pipeline.process: statistics and every tier from a textured scan, then the
    master's geometry is released (asset.scene is None) with the texture work
    done on the statistics thread."""
    from spadok.core import pipeline

    done = pipeline.process(data("awkward", "trimesh_models", "fuze.obj"), tmp_path)
    assert done.asset.scene is None
    assert done.stats["triangles"] == 1000 and done.stats["textures"]
    roles = [d.role for d in done.derivatives]
    assert roles == ["web-high", "thumbnail"]
    high = done.derivatives[0]
    assert high.stats["textures"][0]["mime"] == "image/jpeg"
    assert validate_glb(high.path)["errors"] == 0
    assert done.timings["total"]["cpu_seconds"] > 0


def test_texture_stand_in_is_what_the_thumbnail_would_draw() -> None:
    """settle: the stand-in has the pixels the thumbnail makes of the full image, takes
    over its encodings unchanged, and the cache no longer holds the full image."""
    import gc
    import weakref

    from spadok.core.derive.webglb import _fit

    lucy = trimesh.load(data("scans", "stanford_via_pyvista", "lucy.ply"), process=False)
    prims, _ = scene_primitives(trimesh.Scene(textured_mesh(lucy, 20_000, (4096, 2048))))
    full = prims[0].material.image
    assert full is not None
    cache = TextureCache()
    try:
        cache.prefetch_textures(prims, [4096, 2048, 1024])
        encoded = {edge: cache.encoded(full, edge) for edge in (4096, 2048, 1024)}
        settled = cache.settle(prims)
        stand_in = settled[0].material.image
        assert stand_in is not None and stand_in is not full
        assert stand_in.size == (2048, 1024)
        assert stand_in.tobytes() == _fit(full, thumb.MAX_TEXTURE_EDGE).tobytes()
        assert cache.settle(settled)[0].material.image is stand_in  # settling twice: no change
        for edge, data_mime_size in encoded.items():
            assert cache.encoded(stand_in, edge) == data_mime_size
        gone = weakref.ref(full)
        del full, prims, encoded
        gc.collect()
        assert gone() is None
    finally:
        cache.close()


def test_small_texture_stands_for_itself() -> None:
    lucy = trimesh.load(data("scans", "stanford_via_pyvista", "lucy.ply"), process=False)
    prims, _ = scene_primitives(trimesh.Scene(textured_mesh(lucy, 5_000, (512, 512))))
    cache = TextureCache()
    try:
        cache.prefetch_textures(prims, [4096, 2048, 1024])
        assert cache.settle(prims)[0].material.image is prims[0].material.image
    finally:
        cache.close()

"""Point-cloud and splat formats: write-then-read, and every real sample file.

Real files go through ``registry.load`` so detection is tested too. While the
mesh modules are still being written the registry cannot import them; then
the same detection runs over the point/splat modules alone.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spadok.core.errors import SpadokError
from spadok.core.formats import e57, las, pcd, splat, xyz
from spadok.core.formats.base import Asset, FormatSpec, PointSet, Resolver, read_head
from spadok.core.limits import DEFAULT_LIMITS, Limits
from tests.testdata import data

POINT_MODULES = (las, e57, pcd, xyz, splat)


def _registry_available() -> bool:
    from spadok.core.formats import registry

    try:
        registry.formats()
    except ModuleNotFoundError:
        registry._FORMATS = None
        return False
    return True


def _detect_local(path: Path) -> FormatSpec | None:
    head = read_head(path)
    best = None
    for module in POINT_MODULES:
        for spec in module.FORMATS:
            score = spec.sniff(head, path)
            if score <= 0:
                continue
            key = (score, int(path.suffix.lower() in spec.extensions))
            if best is None or key > best[:2]:
                best = (*key, spec)
    return best[2] if best else None


def load(path: Path, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """registry.load when every family module exists, else the same over ours."""
    if _registry_available():
        from spadok.core.formats import registry

        return registry.load(path, limits=limits)
    spec = _detect_local(path)
    if spec is None:
        raise SpadokError("format.unknown", path.name)
    try:
        return spec.load(path, Resolver(path), limits)
    except SpadokError:
        raise
    except Exception as exc:  # what registry.load would turn into format.corrupt
        raise AssertionError(f"{spec.name} raised {type(exc).__name__}: {exc}") from exc


def _cloud(n: int = 200, colors: bool = True, seed: int = 0) -> Asset:
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 3)) * 100 + np.array([500000.0, 5000000.0, 100.0])
    col = rng.integers(0, 256, (n, 3)).astype(np.uint8) if colors else None
    pts = PointSet(positions=pos, colors=col, attributes={"intensity": rng.integers(0, 60000, n)})
    return Asset(kind="pointcloud", format="x", mime="", primary=Path("x"), points=pts)


# --- write then read ---------------------------------------------------------


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_write_then_read(tmp_path: Path, suffix: str) -> None:
    src = _cloud()
    path = tmp_path / f"cloud{suffix}"
    las.save(src, path)
    got = load(path)
    assert got.format == suffix[1:]
    assert got.points is not None and got.points.count == 200
    np.testing.assert_allclose(got.points.positions, src.points.positions, atol=0.001)
    np.testing.assert_array_equal(got.points.colors, src.points.colors)
    np.testing.assert_array_equal(
        got.points.attributes["intensity"], src.points.attributes["intensity"]
    )


@pytest.mark.parametrize("binary", [True, False])
def test_pcd_write_then_read(tmp_path: Path, binary: bool) -> None:
    src = _cloud()
    src.points.positions -= src.points.positions.min(axis=0)  # float32 keeps ~7 digits
    path = tmp_path / "cloud.pcd"
    pcd.save(src, path, binary=binary)
    got = load(path)
    assert got.format == "pcd" and got.extra["encoding"] == ("binary" if binary else "ascii")
    np.testing.assert_allclose(got.points.positions, src.points.positions, atol=1e-4)
    np.testing.assert_array_equal(got.points.colors, src.points.colors)


def _lzf_literals(raw: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(raw), 32):
        chunk = raw[i : i + 32]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out)


def test_pcd_binary_compressed(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pos = rng.random((50, 3)).astype("<f4")
    rgb = rng.integers(0, 256, (50, 3)).astype(np.uint32)
    packed = ((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).view("<f4")
    soa = b"".join(a.tobytes() for a in (pos[:, 0], pos[:, 1], pos[:, 2], packed))
    comp = _lzf_literals(soa)
    head = (
        "VERSION 0.7\nFIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
        "WIDTH 50\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 50\nDATA binary_compressed\n"
    )
    path = tmp_path / "c.pcd"
    path.write_bytes(head.encode() + struct.pack("<II", len(comp), len(soa)) + comp)
    got = load(path)
    np.testing.assert_allclose(got.points.positions, pos, atol=1e-6)
    np.testing.assert_array_equal(got.points.colors, rgb.astype(np.uint8))


def test_lzf_back_reference() -> None:
    encoded = bytes([2]) + b"abc" + bytes([7 << 5, 27 - 9, 2])
    assert pcd.lzf_decompress(encoded, 30) == b"abc" * 10
    with pytest.raises(ValueError):
        pcd.lzf_decompress(encoded[:-1], 30)


def test_xyz_write_then_read(tmp_path: Path) -> None:
    src = _cloud()
    path = tmp_path / "cloud.xyz"
    xyz.save(src, path)
    got = load(path)
    assert got.format == "xyz" and got.points.count == 200
    np.testing.assert_allclose(got.points.positions, src.points.positions, atol=1e-5)
    np.testing.assert_array_equal(got.points.colors, src.points.colors)


def test_splat_write_then_read(tmp_path: Path) -> None:
    src = _cloud(50)
    rgba = np.concatenate([src.points.colors, np.full((50, 1), 200, np.uint8)], axis=1)
    src.points.colors = rgba
    path = tmp_path / "scene.splat"
    splat.save_splat(src, path)
    got = load(path)
    assert got.kind == "splat" and got.format == "splat" and got.extra["splat_count"] == 50
    np.testing.assert_allclose(got.points.positions, src.points.positions.astype(np.float32))
    np.testing.assert_array_equal(got.points.colors, rgba)


# --- text sniffing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "claimed"),
    [
        ("a.xyz", "1 2 3\n4 5 6\n7 8 9\n1 1 1\n", True),
        ("a.txt", "//X,Y,Z,R,G,B\n1,2,3,4,5,6\n1,2,3,4,5,6\n1,2,3,4,5,6\n1,2,3,4,5,6\n", True),
        ("a.pts", "4\n1 2 3 -5 1 2 3\n1 2 3 -5 1 2 3\n1 2 3 -5 1 2 3\n1 2 3 -5 1 2 3\n", True),
        ("a.txt", "1,5;2,5;3,5\n1;2;3\n1;2;3\n1;2;3\n", True),
        ("a.obj", "v 1 2 3\nv 1 2 3\nv 1 2 3\nf 1 2 3\n", False),
        ("a.off", "OFF\n4 1 0\n1 2 3\n1 2 3\n1 2 3\n1 2 3\n3 0 1 2\n", False),
        ("a.ply", "ply\nformat ascii 1.0\nelement vertex 3\n", False),
        ("a.mtl", "newmtl a\nKd 1 1 1\nKa 0 0 0\nNs 10\n", False),
        ("a.csv", "name,lat,lon\nChurch,50.1,30.2\nMuseum,49.1,31.2\nA,1,2\nB,3,4\n", False),
        ("K.txt", "2759.48 0 1520.69\n0 2764.16 1006.81\n0 0 1\n", False),
        ("a.txt", "1 2\n3 4\n5 6\n7 8\n", False),
    ],
)
def test_xyz_sniff(tmp_path: Path, name: str, text: str, claimed: bool) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert bool(xyz.sniff(read_head(path), path)) is claimed


def test_pts_layout_has_intensity_then_colour(tmp_path: Path) -> None:
    path = tmp_path / "scan.pts"
    path.write_text("3\n1 2 3 -1200 10 20 30\n4 5 6 -100 40 50 60\n7 8 9 0 70 80 90\n")
    path.write_text(path.read_text() + "1 1 1 5 1 1 1\n")
    got = load(path)
    assert got.format == "pts"
    assert got.points.colors[0].tolist() == [10, 20, 30]
    assert got.points.attributes["intensity"][0] == -1200


# --- real files ------------------------------------------------------------------

POINTCLOUDS = Path("pointclouds")
MODEL_SUFFIXES = {".las", ".laz", ".e57", ".spz", ".splat", ".ksplat", ".pcd", ".xyz", ".pts"}


def _real_files() -> list[Path]:
    from tests.testdata import data_dir

    root = data_dir() / POINTCLOUDS
    if not root.exists():
        return [root]  # the test then skips (fails under CI) through data()
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MODEL_SUFFIXES)


@pytest.mark.parametrize("path", _real_files(), ids=lambda p: p.name)
def test_every_real_file_loads_or_says_why(path: Path) -> None:
    data(str(POINTCLOUDS))
    try:
        asset = load(path)
    except SpadokError as exc:
        assert exc.code in {"format.corrupt", "geometry.empty"}, exc
        return
    assert asset.points is not None and asset.points.count > 0
    assert len(asset.points.positions) > 0
    assert np.isfinite(asset.points.positions).all()


EXPECTED_ERRORS = {
    "bad-crc.e57": "format.corrupt",
    "empty.e57": "geometry.empty",
    "ZeroPoints.e57": "geometry.empty",
    "ZeroPointsInvalid.e57": "geometry.empty",
    "InvalidCVHeader.e57": "geometry.empty",
    "PinholeImageWithDistortionParameters.e57": "geometry.empty",
    "测试点云.e57": "geometry.empty",
    "test filename äöü.e57": "geometry.empty",
}


@pytest.mark.parametrize(("name", "code"), sorted(EXPECTED_ERRORS.items()))
def test_e57_error_codes(name: str, code: str, capfd: pytest.CaptureFixture[str]) -> None:
    path = next(data("pointclouds", "e57_libe57format").rglob(name))
    with pytest.raises(SpadokError) as info:
        load(path)
    assert info.value.code == code
    assert capfd.readouterr().out == ""  # libE57Format's dump to stdout is swallowed


@pytest.mark.parametrize("name", ["autzen.las", "simple.las", "simple.laz", "simple1_4.las"])
def test_las_counts_match_header(name: str) -> None:
    import laspy

    path = data("pointclouds", "las_laspy_tests", name)
    with laspy.open(path) as reader:
        expected = reader.header.point_count
    asset = load(path)
    assert asset.points.count == expected == len(asset.points.positions)


def test_las_facts() -> None:
    asset = load(data("pointclouds", "las_laspy_tests", "autzen.las"))
    assert asset.crs == "EPSG:2994" and asset.unit == "ft"
    assert asset.extra["version"] == "1.2" and asset.extra["point_format"] == 1
    assert asset.extra["classification"] is True
    simple = load(data("pointclouds", "las_laspy_tests", "simple.las"))
    assert simple.points.colors is not None and simple.points.colors.dtype == np.uint8
    assert "intensity" in simple.points.attributes
    extra = load(data("pointclouds", "las_laspy_tests", "extrabytes.las"))
    assert "Time" in extra.extra["extra_dimensions"]


def test_las_crs_from_wkt_and_geotiff() -> None:
    asset = load(data("pointclouds", "las_laspy_tests", "file_with_both_wkt_and_geotiff_vlrs.las"))
    assert asset.crs == "EPSG:6880"
    assert asset.unit == "us-ft"


@pytest.mark.parametrize("name", ["simple.copc.laz", "simple_with_page.copc.laz"])
def test_copc_detected(name: str) -> None:
    asset = load(data("pointclouds", "las_laspy_tests", name))
    assert asset.format == "copc"
    assert load(data("pointclouds", "las_laspy_tests", "simple.laz")).format == "laz"


def test_large_las_is_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(las, "SAMPLE_TARGET", 300)
    monkeypatch.setattr(las, "CHUNK_SIZE", 777)
    asset = load(data("pointclouds", "las_laspy_tests", "simple1_4.las"))
    assert asset.extra["sampled"] is True
    assert asset.points.count == 22600
    assert len(asset.points.positions) == 300
    assert len(asset.points.colors) == len(asset.points.positions)


def test_laz_is_scanned_in_a_child_with_the_same_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's scan of a LAZ gives what the same points give read in this process."""
    monkeypatch.setattr(las, "SAMPLE_TARGET", 500)
    monkeypatch.setattr(las, "CHUNK_SIZE", 4321)
    calls: list[Path] = []
    real = las.scan_isolated

    def spy(path: Path, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(las, "scan_isolated", spy)
    laz = load(data("pointclouds", "las_laspy_tests", "simple.laz"))
    plain = load(data("pointclouds", "las_laspy_tests", "simple.las"))
    assert calls and laz.format == "laz" and plain.format == "las"
    assert laz.points.count == plain.points.count == 1065
    assert len(laz.points.positions) == 500 == laz.extra["sample_points"]
    assert laz.point_facts["bounds"] == plain.point_facts["bounds"]
    assert laz.point_facts["classes"] == plain.point_facts["classes"]
    assert np.array_equal(laz.points.positions, plain.points.positions)


def test_point_limit_is_enforced() -> None:
    path = data("pointclouds", "las_laspy_tests", "simple.las")
    with pytest.raises(SpadokError) as info:
        load(path, limits=Limits(max_points=1000))
    assert info.value.code == "limit.vertices"


def test_truncated_las_is_corrupt(tmp_path: Path) -> None:
    for name, keep in (("simple.las", 20000), ("simple.laz", 9000), ("simple.las", 100)):
        cut = tmp_path / f"cut_{keep}_{name}"
        cut.write_bytes(data("pointclouds", "las_laspy_tests", name).read_bytes()[:keep])
        with pytest.raises(SpadokError) as info:
            load(cut)
        assert info.value.code == "format.corrupt"


@pytest.mark.parametrize("name", ["bunnyDouble.e57", "bunnyInt32.e57"])
def test_e57_bunny(name: str) -> None:
    asset = load(data("pointclouds", "e57_libe57format", "reference", name))
    assert asset.format == "e57" and asset.unit == "m"
    assert asset.points.count == 30571
    assert asset.extra["scan_count"] == 1


def test_e57_colours() -> None:
    asset = load(data("pointclouds", "e57_libe57format", "self", "ColouredCubeFloat.e57"))
    assert asset.points.count == 7680
    assert asset.points.colors is not None and asset.points.colors.max() == 255


def test_truncated_e57_is_corrupt(tmp_path: Path) -> None:
    cut = tmp_path / "cut.e57"
    src = data("pointclouds", "e57_libe57format", "reference", "bunnyDouble.e57")
    cut.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(SpadokError) as info:
        load(cut)
    assert info.value.code == "format.corrupt"


@pytest.mark.parametrize(
    ("name", "fmt", "version"),
    [
        ("minimal.splat", "splat", None),
        ("minimal-raw.spz", "spz", 2),
        ("minimal-v2.spz", "spz", 2),
        ("minimal-v3.spz", "spz", 3),
        ("minimal-v4.spz", "spz", 4),
        ("minimal.ksplat", "ksplat", "0.1"),
    ],
)
def test_splat_fixtures(name: str, fmt: str, version: object) -> None:
    asset = load(data("pointclouds", "splat_format_fixtures", name))
    assert asset.kind == "splat" and asset.format == fmt
    assert asset.extra["splat_count"] == 4 == asset.points.count
    assert asset.extra["sh_degree"] == 0
    if version is not None:
        assert asset.extra["version"] == version
    # All fixtures hold the same four splats on a unit square in the y=0 plane.
    pos = asset.points.positions
    assert np.allclose(pos[:, 1], 0) and np.allclose(np.sort(np.abs(pos[:, 0])), [0, 0, 1, 1])
    assert asset.points.colors.shape == (4, 4)


def test_spz_truncated_is_corrupt(tmp_path: Path) -> None:
    raw = gzip.decompress(
        data("pointclouds", "splat_format_fixtures", "minimal-v3.spz").read_bytes()
    )
    cut = tmp_path / "cut.spz"
    cut.write_bytes(gzip.compress(raw[:40]))
    with pytest.raises(SpadokError) as info:
        load(cut)
    assert info.value.code == "format.corrupt"

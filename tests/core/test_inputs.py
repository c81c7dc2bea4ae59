"""Finding models in files, folders and zips, and refusing unsafe zips."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from spadok.core import inputs
from spadok.core.errors import SpadokError
from spadok.core.limits import Limits
from tests.testdata import data


def _expand(paths: list[Path], tmp: Path, limits: Limits | None = None) -> list:
    return list(inputs.expand(paths, tmp / "work", limits or Limits()))


def test_obj_with_spaces_in_texture_names_in_a_folder(tmp_path: Path) -> None:
    src = data("awkward", "trimesh_models")
    folder = tmp_path / "scan folder"
    folder.mkdir()
    for name in ("fuze.obj", "fuze.obj.mtl", "fuze uv.jpg"):
        shutil.copy(src / name, folder / name)
    found = _expand([folder], tmp_path)
    assert [type(u) for u in found] == [inputs.Unit]
    assert found[0].primary.name == "fuze.obj"


def test_zip_with_one_model_is_kept_whole(tmp_path: Path) -> None:
    found = _expand([data("awkward", "trimesh_models", "fuze.zip")], tmp_path)
    units = [u for u in found if isinstance(u, inputs.Unit)]
    assert len(units) == 1
    assert units[0].container is not None and units[0].container_units == 1


def test_zip_with_several_models_yields_each(tmp_path: Path) -> None:
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(data("awkward", "trimesh_models", "soup.stl"), "a/soup.stl")
        zf.write(data("awkward", "trimesh_models", "comments.off"), "b/Київ собор.off")
        zf.writestr("readme.txt", "notes")
    units = [u for u in _expand([z], tmp_path) if isinstance(u, inputs.Unit)]
    assert sorted(u.primary.name for u in units) == ["soup.stl", "Київ собор.off"]
    assert all(u.container_units == 2 for u in units)


@pytest.mark.parametrize(
    "name", ["../evil.obj", "/etc/evil.obj", "a/../../evil.obj", "C:/evil.obj", "..\\evil.obj"]
)
def test_zip_entries_that_escape_are_refused(tmp_path: Path, name: str) -> None:
    z = tmp_path / "slip.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
        zf.writestr(name, "v 0 0 0\n")
    (failed,) = _expand([z], tmp_path)
    assert isinstance(failed, inputs.Failed)
    assert failed.error.code == "zip.unsafe_path"
    assert not (tmp_path / "evil.obj").exists()


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.obj", b"\0" * (80 * 1024**2))
    (failed,) = _expand([z], tmp_path)
    assert isinstance(failed, inputs.Failed) and failed.error.code == "zip.bomb"


def test_zip_with_lying_sizes_stops_at_the_budget(tmp_path: Path) -> None:
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.obj", b"v 0 0 0\n" * 200_000)
    limits = Limits(max_zip_total_bytes=100_000)
    (failed,) = _expand([z], tmp_path, limits)
    assert isinstance(failed, inputs.Failed) and failed.error.code == "input.too_large"


def test_too_many_entries(tmp_path: Path) -> None:
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i in range(30):
            zf.writestr(f"f{i}.txt", "x")
    (failed,) = _expand([z], tmp_path, Limits(max_zip_entries=10))
    assert isinstance(failed, inputs.Failed) and failed.error.code == "zip.too_many_entries"


def test_corrupt_zip(tmp_path: Path) -> None:
    good = data("awkward", "trimesh_models", "fuze.zip").read_bytes()
    z = tmp_path / "cut.zip"
    z.write_bytes(good[: len(good) // 2] + good[-200:])
    found = _expand([z], tmp_path)
    assert all(isinstance(f, inputs.Failed) for f in found)
    assert found[0].error.code in {"zip.corrupt", "input.no_model"}


def test_encrypted_zip_entries_are_refused(tmp_path: Path) -> None:
    z = tmp_path / "locked.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("m.obj", "v 0 0 0\n")
    raw = bytearray(z.read_bytes())
    # Set the "encrypted" flag bit in the local and central headers.
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = raw.find(sig)
        off = 6 if sig == b"PK\x03\x04" else 8
        raw[i + off] |= 0x1
    z.write_bytes(bytes(raw))
    (failed,) = _expand([z], tmp_path)
    assert isinstance(failed, inputs.Failed) and failed.error.code == "zip.encrypted"


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no model here")
    found = _expand([tmp_path / "missing.glb", empty], tmp_path)
    assert [f.error.code for f in found] == ["input.not_found", "input.no_model"]


def test_error_codes_are_stable_and_explain_what_to_do() -> None:
    err = SpadokError("format.missing_file", "texture.jpg")
    assert err.as_dict()["code"] == "format.missing_file"
    assert "texture.jpg" in err.message and "zip" in err.message
    with pytest.raises(ValueError):
        SpadokError("no.such.code")

"""`spadok compare` as a script calls it: files or capture ids in, JSON and files out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.compare import cases


def run(home: Path, *args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "SPADOK_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    env.pop("SPADOK_STORAGE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", "compare", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout  # one JSON object, nothing else on stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(lines[0]), proc.stderr


def test_two_files_give_the_models_and_the_report(tmp_path: Path) -> None:
    case = cases.dent_case(tmp_path)
    out = tmp_path / "out"
    code, result, stderr = run(
        tmp_path / "home", str(case.before), str(case.after), "-o", str(out), "--samples", "20000"
    )
    assert code == 0, stderr
    assert result["status"] == "ok" and result["error"] is None
    report = result["report"]
    assert report["verdict"] == "changed" and report["volume"]["method"] == "voxel"
    assert report["lost_volume"] == pytest.approx(case.lost_volume, rel=0.05)
    assert cases.rotation_error_degrees(report["alignment"]["transform"], case) < 0.05
    for name in ("heatmap.glb", "before.glb", "after.glb"):
        assert (out / name).read_bytes()[:4] == b"glTF", name
    assert json.loads((out / "report.json").read_text("utf-8")) == report


def test_unrelated_objects_exit_1_with_a_code(tmp_path: Path) -> None:
    before, after = cases.unrelated_case(tmp_path)
    out = tmp_path / "out"
    code, result, _stderr = run(
        tmp_path / "home", str(before), str(after), "-o", str(out), "--samples", "5000"
    )
    assert code == 1
    assert result["status"] == "failed"
    assert result["error"]["code"] == "compare.not_aligned"
    assert result["report"]["verdict"] == "failed" and not (out / "heatmap.glb").exists()
    assert json.loads((out / "report.json").read_text("utf-8"))["error"] == result["error"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["{missing}", "{good}"], "input.not_found"),
        (["{good}", "{junk}"], "format.corrupt"),
        (["{good}", "{good}", "--samples", "10"], "compare.bad_parameters"),
        (["{good}", "c-nosuchcapture"], "input.not_found"),
    ],
)
def test_bad_inputs_exit_1_with_a_code(tmp_path: Path, args: list[str], code: str) -> None:
    junk = tmp_path / "notes.ply"
    junk.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\n")
    names = {
        "missing": str(tmp_path / "nope.ply"),
        "good": str(cases.data(*cases.GARGOYLE)),
        "junk": str(junk),
    }
    filled = [a.format(**names) for a in args]
    status, result, _stderr = run(tmp_path / "home", *filled, "-o", str(tmp_path / "out"))
    assert status == 1
    assert result["status"] == "error" and result["error"]["code"] == code
    assert result["error"]["message"]


@pytest.mark.django_db
def test_a_capture_id_names_the_capture_s_master(  # type: ignore[no-untyped-def]
    pair: tuple[Any, Any], dent_files: cases.Case, tmp_path: Path
) -> None:
    """The command line finds a capture of this archive by id (its master, from storage)."""
    from spadok.cli import _compare_input
    from spadok.core.errors import SpadokError

    before, _after = pair
    unit = _compare_input(before.id, tmp_path / "work")
    assert unit.primary.name == dent_files.before.name
    assert unit.primary.read_bytes() == dent_files.before.read_bytes()
    with pytest.raises(SpadokError) as err:
        _compare_input("c-nosuchcapture", tmp_path / "work2")
    assert err.value.code == "input.not_found"

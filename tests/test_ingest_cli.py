"""`spadok ingest` end to end, as a script would call it, on real files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spadok.core.errors import CODES
from tests.testdata import data


def run_ingest(home: Path, *args: str) -> tuple[int, list[dict], str]:
    env = {**os.environ, "SPADOK_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    env.pop("SPADOK_STORAGE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", "ingest", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, lines, proc.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ingest_one_scan_keeps_the_original_and_makes_web_copies(tmp_path: Path) -> None:
    src = data("scans", "3dhop_cnr_heritage", "laurana.ply")
    code, results, stderr = run_ingest(tmp_path / "home", str(src))
    assert code == 0, stderr
    (result,) = results
    assert result["status"] == "ok" and result["error"] is None
    assert result["input"] == str(src)
    assert result["kind"] == "mesh" and result["id"].startswith("c-")
    assert result["stats"]["triangles"] == 50_000
    files = result["files"]
    assert sha256(Path(files["original"])) == sha256(src)
    for role in ("web", "thumbnail"):
        assert Path(files[role]).is_file(), role
    assert Path(files["thumbnail"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in stderr


def test_bad_inputs_get_codes_and_the_rest_go_on(tmp_path: Path) -> None:
    good = data("awkward", "trimesh_models", "fuze.obj")
    missing = tmp_path / "nope.glb"
    junk = tmp_path / "notes.ply"
    junk.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\n")
    empty = tmp_path / "empty.stl"
    empty.write_bytes(b"")
    code, results, stderr = run_ingest(
        tmp_path / "home", str(missing), str(junk), str(good), str(empty)
    )
    assert code == 1
    by_input = {r["input"]: r for r in results}
    assert by_input[str(missing)]["error"]["code"] == "input.not_found"
    assert by_input[str(junk)]["error"]["code"] == "format.corrupt"
    assert by_input[str(empty)]["error"]["code"] == "input.empty"
    assert by_input[str(good)]["status"] == "ok"
    for r in results:
        if r["status"] == "error":
            assert r["error"]["message"] and r["id"] is None
    assert "Traceback" not in stderr
    # Nothing half-created: only the good input became a record.
    info = subprocess.run(
        [sys.executable, "-m", "spadok", "info", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "SPADOK_HOME": str(tmp_path / "home")},
        check=True,
    )
    counts = json.loads(info.stdout)
    assert (counts["records"], counts["captures"]) == (1, 1)


@pytest.mark.slow
def test_every_shared_file_ingests_or_fails_clearly(tmp_path: Path) -> None:
    """Walk scans, awkward and pointclouds: each ingests or gets a clear code, never a crash."""
    folders = [data("scans"), data("awkward"), data("pointclouds")]
    code, results, stderr = run_ingest(tmp_path / "home", *map(str, folders))
    assert results, stderr
    assert "Traceback" not in stderr
    ok = [r for r in results if r["status"] == "ok"]
    errors = [r for r in results if r["status"] == "error"]
    for r in errors:
        assert r["error"]["code"] in CODES, r
        # "processing.failed" means a bug in spadok, not a bad file.
        assert r["error"]["code"] != "processing.failed", r
    # Every real scan must ingest.
    scans = [r for r in results if "/scans/" in r["input"] or r["input"].startswith("scans")]
    assert scans and all(r["status"] == "ok" for r in scans), [
        (r["input"], r["error"]) for r in scans if r["status"] != "ok"
    ]
    assert len(ok) >= 60, (len(ok), len(errors))
    for r in ok:
        assert Path(r["files"]["original"]).is_file()
    # Every web copy of every real file passes the Khronos glTF validator.
    from spadok.core.derive.validate import validate_many

    web = [Path(p) for r in ok for role, p in r["files"].items() if role.startswith("web-")]
    assert len(web) >= len(ok) - 5  # a stored-only USDZ has none
    reports = validate_many(web)
    failing = [
        (str(p), rep["errors"], rep["messages"][:3])
        for p, rep in zip(web, reports, strict=True)
        if rep["errors"]
    ]
    assert failing == []
    # The known-broken files are reported, not ingested.
    broken = {Path(r["input"]).name: r for r in results}
    assert broken["bad-crc.e57"]["status"] == "error"
    assert broken["empty.stl"]["status"] == "error"
    assert code == 1

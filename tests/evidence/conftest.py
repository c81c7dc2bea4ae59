"""Fixtures for evidence: users per role (from contributions), a real archive made by the CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.contributions.conftest import (  # noqa: F401
    client_for,
    draft_capture,
    make_capture,
    make_user,
    people,
)
from tests.procs import ROOT, spadok
from tests.testdata import data

GARGOYLE = ("scans", "3dhop_cnr_heritage", "gargo.ply")


def archive_env(home: Path) -> dict[str, str]:
    """A separate embedded archive (its own SQLite, storage and key) for CLI runs."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SPADOK_STORAGE"}}
    env.update(
        SPADOK_HOME=str(home),
        DATABASE_URL=f"sqlite:///{home / 'spadok.sqlite3'}",
        SPADOK_STORAGE=(home / "storage").as_uri(),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


@pytest.fixture(scope="module")
def cli_archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real scan ingested, exported and put into dossiers by the ``spadok`` command.

    The record's chain gets three entries (a BagIt export, then two dossiers), so
    that entries can be dropped, moved and altered in the middle of a chain.
    """
    import json

    from spadok.core.evidence import signing

    source = data(*GARGOYLE)
    home = tmp_path_factory.mktemp("evidence-archive")
    env = archive_env(home)
    out = spadok("ingest", "--json", "--quiet", str(source), env=env, timeout=600)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["status"] == "ok", result
    record = result["record"]
    spadok("export", "bagit", str(home / "bags"), "--record", record, env=env)
    spadok("dossier", record, str(home / "first"), env=env)
    made = json.loads(spadok("dossier", record, str(home / "dossier"), "--json", env=env).stdout)
    key = signing.load_private((home / "evidence" / "archive-ed25519.pem").read_bytes())
    public = home / "archive-key.pub"
    public.write_bytes(signing.public_pem(key))
    return {
        "home": home,
        "env": env,
        "source": source,
        "record": record,
        "capture": result["id"],
        "dossier": Path(made["dossier"]),
        "made": made,
        "public": public,
        "fingerprint": signing.fingerprint(key),
    }


@pytest.fixture
def dossier_copy(cli_archive: dict[str, Any], tmp_path: Path) -> Path:
    """A fresh copy of the CLI's dossier to tamper with."""
    target = tmp_path / "dossier"
    shutil.copytree(cli_archive["dossier"], target)
    return target

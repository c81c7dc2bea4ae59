"""Settings: every bad value stops the start with a message naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spadok.config import ConfigError, load, redact_url

GOOD_SECRET = "x" * 40


def _load(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load({"SPADOK_HOME": str(tmp_path / "home"), **env})


def test_nothing_set_is_the_embedded_profile(tmp_path: Path) -> None:
    cfg = _load(tmp_path)
    assert cfg.profile == "embedded"
    assert cfg.database_url == f"sqlite:///{tmp_path / 'home' / 'spadok.sqlite3'}"
    assert cfg.storage_urls == ((tmp_path / "home" / "storage").as_uri(),)
    assert len(cfg.secret_key) >= 32
    assert _load(tmp_path).secret_key == cfg.secret_key  # kept, not made anew


def test_production_profile(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        DATABASE_URL="postgres://spadok:pw@db.example:5432/spadok",
        SPADOK_STORAGE="s3://archive/main?endpoint=https://s3.example,file:///srv/replica",
        SPADOK_SECRET_KEY=GOOD_SECRET,
        SPADOK_MAX_VERTICES="5_000_000",
    )
    assert cfg.profile == "production"
    assert cfg.storage_urls == (
        "s3://archive/main?endpoint=https://s3.example",
        "file:///srv/replica",
    )
    assert cfg.limits.max_vertices == 5_000_000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u:p@h/db"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "postgres://u:p@host:5432/"),
        ("DATABASE_URL", "postgres://u:p@host:port/db"),
        ("DATABASE_URL", "sqlite://"),
        ("SPADOK_STORAGE", "bogus"),
        ("SPADOK_STORAGE", "file://relative/path"),
        ("SPADOK_STORAGE", "s3:///no-bucket"),
        ("SPADOK_STORAGE", "s3://bucket/p?endpont=http://x"),
        ("SPADOK_STORAGE", "s3://bucket/p?endpoint=localhost:8333"),
        ("SPADOK_STORAGE", "s3://bucket/p?retention_days=ten"),
        ("SPADOK_STORAGE", "file:///a,file:///a"),
        ("SPADOK_STORAGE", " , "),
        ("SPADOK_SECRET_KEY", "too-short"),
        ("SPADOK_MAX_FILE_BYTES", "lots"),
        ("SPADOK_MAX_VERTICES", "1e6"),
        ("SPADOK_MAX_POINTS", "0"),
        ("SPADOK_JOB_TIMEOUT", "5"),
        ("SPADOK_WORKERS", "-1"),
        ("SPADOK_WEB_THREADS", "many"),
        ("SPADOK_DEBUG", "maybe"),
    ],
)
def test_bad_setting_names_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, **{name: value})
    assert name in str(err.value)


def test_messages_never_show_a_database_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, DATABASE_URL="postgres://u:hunter2@host/")
    assert "hunter2" not in str(err.value)
    assert redact_url("postgres://u:hunter2@h:5432/db") == "postgres://u:***@h:5432/db"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def _spadok_info(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SPADOK_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "spadok", "info", "--json"],
        env={**clean, "SPADOK_HOME": str(tmp_path / "home"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u:hunter2@h/db"),
        ("SPADOK_STORAGE", "ftp://example/archive"),
        ("SPADOK_SECRET_KEY", "short"),
        ("SPADOK_MAX_VERTICES", "lots"),
    ],
)
def test_cli_stops_on_a_bad_setting_without_a_traceback(
    tmp_path: Path, name: str, value: str
) -> None:
    proc = _spadok_info(tmp_path, **{name: value})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("spadok: configuration error:")
    assert name in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "hunter2" not in proc.stderr


def test_cli_reports_a_database_it_cannot_reach_without_a_traceback(tmp_path: Path) -> None:
    from tests.servers import closed_port

    proc = _spadok_info(
        tmp_path, DATABASE_URL=f"postgres://u:hunter2@127.0.0.1:{closed_port()}/spadok"
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("spadok: cannot use the database postgres://u:***@127.0.0.1")
    assert "Traceback" not in proc.stderr and "hunter2" not in proc.stderr


def test_cli_info_embedded(tmp_path: Path) -> None:
    proc = _spadok_info(tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["profile"] == "embedded"
    assert info["database_vendor"] == "sqlite"
    assert info["storage"] == [(tmp_path / "home" / "storage").as_uri()]

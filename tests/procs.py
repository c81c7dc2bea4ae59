"""Run spadok as a real subprocess against the test's own database and storage."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A DATABASE_URL for the database the running test uses (its test database)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(s["NAME"])
        assert name != ":memory:" and "mode=memory" not in name, (
            "worker subprocesses need a file database (see tests/conftest.py)"
        )
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        user = urllib.parse.quote(s.get("USER") or "", safe="")
        password = urllib.parse.quote(s.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        port = f":{s['PORT']}" if s.get("PORT") else ""
        return f"postgres://{auth}{s.get('HOST') or ''}{port}/{s['NAME']}"
    raise AssertionError(f"no subprocess URL for {connection.vendor}")


test_database_url.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def spadok_env(*, storage: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a spadok subprocess that shares this test's database."""
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "SPADOK_STORAGE": storage or ",".join(settings.SPADOK.storage_urls),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.update(extra)
    return env


def spadok(
    *args: str, env: dict[str, str], timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"spadok {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
    return proc


def spadok_popen(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "spadok", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

"""`spadok serve` starts a real WSGI server and its worker, and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> bytes:
    deadline = time.time() + timeout
    last: Exception | None = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=20) as resp:
                return resp.read()
        except Exception as exc:
            last = exc
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer: {last}")


def test_serve_runs_site_and_worker(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SPADOK_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    env.pop("SPADOK_STORAGE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "spadok", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = wait_for(f"http://127.0.0.1:{port}/")
        assert b"spadok" in body.lower()
        # Front-end libraries are served by spadok itself, from npm's files.
        js = wait_for(f"http://127.0.0.1:{port}/static/vendor/model-viewer/model-viewer.min.js")
        assert len(js) > 100_000
        draco = wait_for(
            f"http://127.0.0.1:{port}/static/vendor/three-libs/draco/draco_decoder.wasm"
        )
        assert draco[:4] == b"\0asm"
        # The worker started beside the web server beats its heartbeat.
        deadline = time.time() + 30
        beating = 0
        while time.time() < deadline and not beating:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "spadok",
                    "manage",
                    "shell",
                    "-c",
                    "from spadok.jobs.models import WorkerHeartbeat as W; print(W.objects.count())",
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            beating = int((out.stdout.strip().splitlines() or ["0"])[-1])
            time.sleep(0.5)
        assert beating >= 1
        info = subprocess.run(
            [sys.executable, "-m", "spadok", "info", "--json"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert json.loads(info.stdout)["profile"] == "embedded"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err

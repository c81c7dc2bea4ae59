"""A test-only job: the real capture processing, made to hang on its first attempt.

The reaper test enqueues it instead of ``process_capture`` (through its task
path ``tests.slow_tasks.process_slowly_once``), kills the worker while it
hangs, and checks that the re-queued job finishes exactly once. Each attempt
and each finish is appended to ``journal`` so the test can count them.
"""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task


@task(queue_name="processing")
def process_slowly_once(capture_id: str, journal: str) -> str:
    from spadok.catalogue import services
    from spadok.core import pipeline

    path = Path(journal)
    with path.open("a") as fh:
        fh.write("start\n")
    if path.read_text().count("start") == 1:
        real = pipeline.process

        def hang_then_process(*args, **kwargs):  # type: ignore[no-untyped-def]
            with path.open("a") as fh:
                fh.write("hanging\n")
            time.sleep(120)  # the test kills the worker long before this ends
            return real(*args, **kwargs)

        pipeline.process = hang_then_process  # type: ignore[assignment]
    result = services.capture_process(capture_id=capture_id)
    with path.open("a") as fh:
        fh.write(f"done {result}\n")
    return result

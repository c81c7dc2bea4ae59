"""Fixtures for the comparison pages and jobs: a record with two real captures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.accounts.conftest import _fast_passwords, client_for, make_user  # noqa: F401
from tests.compare import cases

# Quick jobs: fewer surface samples per capture, and light models for the browser.
QUICK = {"samples": 20_000, "heatmap_triangles": 20_000}


@pytest.fixture
def capture_of(storage_root: Path) -> Callable[..., Any]:
    """A processed capture whose original is ``path`` (kept in storage as ingest keeps it).

    The web copies are not needed by a comparison, which reads the master.
    """
    from spadok.catalogue.models import Capture, CaptureState
    from spadok.catalogue.storage import get_storage

    def make(path: Path, record: Any, **fields: Any) -> Any:
        capture = Capture(
            record=record,
            kind="mesh",
            format=path.suffix.lstrip(".").lower(),
            state=CaptureState.READY,
            source_name=path.name,
            primary_file=path.name,
            stats={"triangles": 50_000},
            progress=1.0,
            step="done",
            **fields,
        )
        key = f"fixtures/{capture.id}/original/{path.name}"
        get_storage().put_file(key, path)
        raw = path.read_bytes()
        capture.originals = [
            {
                "path": path.name,
                "key": key,
                "size": len(raw),
                "sha256": hashlib.sha256(raw).hexdigest(),
                "sha512": hashlib.sha512(raw).hexdigest(),
            }
        ]
        capture.save(force_insert=True)
        return capture

    return make


@pytest.fixture(scope="session")
def dent_files(tmp_path_factory: pytest.TempPathFactory) -> cases.Case:
    return cases.dent_case(tmp_path_factory.mktemp("compare-site"))


@pytest.fixture
def pair(capture_of: Callable[..., Any], dent_files: cases.Case) -> tuple[Any, Any]:
    """A public record with a capture of the gargoyle and a later one of it dented."""
    from spadok.catalogue.models import Record, Visibility

    record = Record.objects.create(title="Gargoyle", visibility=Visibility.PUBLIC)
    return capture_of(dent_files.before, record), capture_of(dent_files.after, record)


@pytest.fixture
def quick() -> Any:
    from spadok.core.compare import Params

    return Params(**QUICK)


@pytest.fixture(scope="session")
def dent_outputs(dent_files: cases.Case, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pair compared once (heat map, models, report.json) for tests of pages and access."""
    from spadok.core.compare import Params, compare_files

    out = tmp_path_factory.mktemp("compare-outputs")
    report = compare_files(dent_files.before, dent_files.after, out, Params(**QUICK))
    assert report.verdict == "changed"
    return out


@pytest.fixture
def ready(pair: tuple[Any, Any], quick: Any, dent_outputs: Path) -> Any:
    """A finished comparison of the pair, its row and files written as the job writes them."""
    import json

    from spadok.catalogue.storage import get_storage
    from spadok.compare.models import Comparison, ComparisonState
    from spadok.compare.services import FILE_PREFIX, FILES

    comparison = Comparison(
        before=pair[0],
        after=pair[1],
        params=quick.canonical(),
        params_key=quick.key(),
        state=ComparisonState.READY,
        step="done",
        progress=1.0,
        report=json.loads((dent_outputs / "report.json").read_text("utf-8")),
    )
    storage = get_storage()
    for role, (name, mime) in FILES.items():
        key = f"{FILE_PREFIX}/{comparison.id}/{name}"
        storage.put_file(key, dent_outputs / name)
        raw = (dent_outputs / name).read_bytes()
        comparison.files[role] = {
            "key": key,
            "size": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "mime": mime,
        }
    comparison.save(force_insert=True)
    return comparison

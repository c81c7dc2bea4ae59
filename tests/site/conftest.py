"""Fixtures for the public pages: records made through the real ingest, or rows
written directly (for states the ingest does not produce, like a failed capture)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.testdata import data

BOX_MESHOPT = ("awkward", "gltf_transform_testdata", "extensions", "test", "in", "BoxMeshopt.glb")
FUZE_OBJ = ("awkward", "trimesh_models", "fuze.obj")


def _thumbnail(path: Path) -> Path:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (512, 512), (236, 235, 230))
    draw = ImageDraw.Draw(img)
    draw.polygon(
        [(256, 90), (420, 180), (420, 360), (256, 450), (92, 360), (92, 180)], fill=(11, 78, 162)
    )
    draw.polygon([(256, 90), (420, 180), (256, 270), (92, 180)], fill=(255, 212, 59))
    img.save(path)
    return path


@pytest.fixture
def make_capture(storage_root: Path, tmp_path: Path) -> Callable[..., object]:
    """Write a record, a capture, its original and derivatives without the pipeline."""
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, CaptureState, Derivative, Record
    from spadok.catalogue.storage import get_storage

    def make(
        *,
        title: str = "Box",
        record: Record | None = None,
        original: Path | None = None,
        web: dict[str, Path] | None = None,
        state: str = CaptureState.READY,
        stats: dict | None = None,
        **fields: object,
    ) -> Capture:
        original = original or data(*BOX_MESHOPT)
        if web is None:
            web = {"web-medium": data(*BOX_MESHOPT)} if state == CaptureState.READY else {}
        storage = get_storage()
        record = record or Record.objects.create(title=title)
        capture = Capture(
            record=record,
            kind="mesh",
            format=original.suffix.lstrip(".").lower(),
            state=state,
            source_name=original.name,
            primary_file=original.name,
            stats=stats if stats is not None else {"triangles": 12, "vertices": 24},
            progress=1.0 if state == CaptureState.READY else 0.4,
            step="done" if state == CaptureState.READY else "web",
            **fields,
        )
        key = f"fixtures/{capture.id}/original/{original.name}"
        storage.put_file(key, original)
        raw = original.read_bytes()
        capture.originals = [
            {
                "path": original.name,
                "key": key,
                "size": len(raw),
                "sha256": hashlib.sha256(raw).hexdigest(),
                "sha512": hashlib.sha512(raw).hexdigest(),
            }
        ]
        capture.save(force_insert=True)
        files = dict(web)
        if state == CaptureState.READY:
            files["thumbnail"] = _thumbnail(tmp_path / f"{capture.id}-thumb.png")
        for role, path in files.items():
            dkey = f"fixtures/{capture.id}/derivatives/{role}{path.suffix}"
            storage.put_file(dkey, path)
            body = path.read_bytes()
            Derivative.objects.create(
                capture=capture,
                role=role,
                policy=services.POLICY,
                key=dkey,
                mime="image/png" if path.suffix == ".png" else "model/gltf-binary",
                size=len(body),
                sha256=hashlib.sha256(body).hexdigest(),
                tool="test fixture",
                stats={"triangles": 12} if role.startswith("web-") else {},
            )
        return capture

    return make


@pytest.fixture
def ingest(storage_root: Path) -> Callable[..., object]:
    """Ingest a real file through the whole pipeline, as the command line does."""
    from spadok.catalogue import services
    from spadok.core import inputs

    def run(path: Path, **kwargs: object) -> object:
        unit = inputs.Unit(label=path.name, primary=path, root=path.parent)
        return services.capture_ingest(unit=unit, **kwargs)

    return run

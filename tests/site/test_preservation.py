"""The archive's preservation, end to end through the command line.

Each capture is a valid OCFL object in every root; audits find damage in any
replica and repair it; a replica that was down catches up; the catalogue
comes back from storage alone; records leave as valid BagIt packages.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import bagit
import pytest

from spadok.core.storage.local import LocalStorage
from tests.core.ocfl_helpers import assert_valid
from tests.procs import spadok, spadok_env
from tests.testdata import data

pytestmark = pytest.mark.django_db(transaction=True)

# Object ids are the captures' own ids (c-…), not URIs, by choice (docs/adr/0005):
# OCFL recommends URIs (W005) but requires only uniqueness.
ID_NOT_URI = ("W005",)


def _ingest(env: dict[str, str], *paths: Path) -> list[dict]:
    proc = spadok("ingest", "--json", "--quiet", *map(str, paths), env=env, timeout=600)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert all(r["status"] == "ok" for r in results), results
    return results


def _audit(env: dict[str, str], *flags: str) -> tuple[int, dict]:
    proc = spadok("audit", "--json", *flags, env=env, check=False, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def two_roots(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    primary, replica = tmp_path / "primary", tmp_path / "replica"
    return primary, replica, spadok_env(storage=f"{primary.as_uri()},{replica.as_uri()}")


@pytest.mark.db_both
def test_ingest_writes_a_valid_object_with_its_events_in_every_root(two_roots) -> None:
    from spadok.catalogue.models import Capture
    from spadok.preservation.models import PreservationEvent

    primary, replica, env = two_roots
    src = data("awkward", "trimesh_models", "fuze.obj")
    (result,) = _ingest(env, src)
    for root in (primary, replica):
        assert_valid(LocalStorage(root), allow=ID_NOT_URI)
    capture = Capture.objects.get(id=result["id"])
    object_root = capture.originals[0]["key"].split("/v1/", 1)[0]
    inventory = json.loads((primary / object_root / "inventory.json").read_text())
    assert inventory["id"] == capture.id and inventory["digestAlgorithm"] == "sha512"
    v1 = {p for paths in inventory["versions"]["v1"]["state"].values() for p in paths}
    assert v1 == {"original/fuze.obj", "original/fuze.obj.mtl", "original/fuze uv.jpg",
                  "metadata/arrival.json"}  # fmt: skip
    head = {
        p for paths in inventory["versions"][inventory["head"]]["state"].values() for p in paths
    }
    assert {"metadata/record.json", "metadata/events.jsonl"} <= head
    assert any(p.startswith("derivatives/spadok-web-1/web-") for p in head)
    for original in capture.originals:  # byte for byte, in v1, in both roots
        expected = (src.parent / original["path"]).read_bytes()
        assert "/v1/content/original/" in original["key"]
        assert (primary / original["key"]).read_bytes() == expected
        assert (replica / original["key"]).read_bytes() == expected
    kinds = set(
        PreservationEvent.objects.filter(object_id=capture.id).values_list("event_type", flat=True)
    )
    assert {
        "ingestion",
        "message digest calculation",
        "validation",
        "creation",
        "replication",
    } <= kinds
    events_file = (
        primary / object_root / inventory["head"] / "content" / "metadata" / "events.jsonl"
    )
    logged = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert {e["eventType"] for e in logged} >= {"ingestion", "creation"}
    assert all(e["linkingObject"] == capture.id for e in logged)


def test_audit_finds_each_kind_of_damage_and_repair_mends_it(two_roots) -> None:
    primary, replica, env = two_roots
    (result,) = _ingest(env, data("scans", "3dhop_cnr_heritage", "gargo.ply"))
    assert _audit(env)[0] == 0
    from spadok.catalogue.models import Capture

    capture = Capture.objects.get(id=result["id"])
    original = capture.originals[0]["key"]
    web = capture.derivatives.get(role="web-high").key
    thumb = capture.derivatives.get(role="thumbnail").key
    # Flip a byte of the original in the replica, truncate a web copy in the primary,
    # delete the thumbnail from the replica, and leave a stray file in the primary.
    raw = bytearray((replica / original).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (replica / original).write_bytes(bytes(raw))
    (primary / web).write_bytes((primary / web).read_bytes()[:100])
    (replica / thumb).unlink()
    (primary / "stray.bin").write_bytes(b"left here")

    code, report = _audit(env)
    assert code == 1 and not report["ok"]
    found = {(Path(i["root"]).name, i["kind"], i["path"]) for i in report["issues"]}
    assert ("replica", "damaged", original) in found
    assert ("primary", "damaged", web) in found
    assert ("replica", "missing", thumb) in found
    assert any(kind == "unexpected" and path == "stray.bin" for _r, kind, path in found)

    code, report = _audit(env, "--repair")
    repaired = {(i["kind"], i["path"]) for i in report["issues"] if i["repaired"]}
    assert {("damaged", original), ("damaged", web), ("missing", thumb)} <= repaired
    assert (replica / original).read_bytes() == (primary / original).read_bytes()
    (primary / "stray.bin").unlink()  # spadok reports strays but never deletes them
    assert _audit(env)[0] == 0
    for root in (primary, replica):
        assert_valid(LocalStorage(root), allow=ID_NOT_URI)

    from spadok.preservation.models import AuditRun, PreservationEvent

    assert AuditRun.objects.count() == 4  # clean, damaged, repaired, clean again
    kinds = PreservationEvent.objects.filter(object_id=capture.id).values_list(
        "event_type", "outcome"
    )
    assert ("fixity check", "failure") in kinds and ("repair", "success") in kinds


def test_a_replica_that_was_down_catches_up(s3_server, tmp_path: Path) -> None:
    from tests.servers import closed_port

    primary = tmp_path / "primary"
    prefix = f"catchup-{tmp_path.name[-20:]}".replace("_", "-")
    down = f"s3://{s3_server.bucket}/{prefix}?endpoint=http://127.0.0.1:{closed_port()}"
    env = spadok_env(storage=f"{primary.as_uri()},{down}")
    (result,) = _ingest(env, data("awkward", "trimesh_models", "fuze.obj"))

    from spadok.preservation.models import PreservationEvent

    failed = PreservationEvent.objects.filter(
        object_id=result["id"], event_type="replication", outcome="failure"
    )
    assert failed.exists()
    # An audit while it is down (the scheduled one, with repair) finishes and says so.
    code, report = _audit(env, "--repair")
    assert code == 1 and not report["ok"]
    assert [(i["kind"], i["root"]) for i in report["issues"]] == [
        ("unreachable", down.split("?")[0])
    ]
    from spadok.preservation.models import AuditRun

    run = AuditRun.objects.get()
    assert run.finished_at is not None and run.ok is False and run.issues == 1
    # The replica comes back: the next audit with repair copies what it lacks.
    env = spadok_env(storage=f"{primary.as_uri()},{s3_server.url(prefix)}")
    _code, report = _audit(env, "--repair")
    assert any(a["action"] == "copied" for a in report["synced"])
    assert _audit(env)[0] == 0
    s3 = s3_server.client()
    from spadok.catalogue.models import Capture

    for original in Capture.objects.get(id=result["id"]).originals:
        body = s3.get_object(Bucket=s3_server.bucket, Key=f"{prefix}/{original['key']}")["Body"]
        assert body.read() == (primary / original["key"]).read_bytes()


@pytest.mark.db_both
def test_rebuild_index_brings_back_the_same_catalogue(two_roots) -> None:
    from django.db import connection

    _primary, _replica, env = two_roots
    _ingest(
        env,
        data("awkward", "trimesh_models", "fuze.zip"),
        data("scans", "3dhop_cnr_heritage", "laurana.ply"),
        data("pointclouds", "las_laspy_tests", "simple.laz"),
    )
    before = _snapshot()
    assert len(before["captures"]) == 3
    with connection.cursor() as cur:  # the database is lost
        for table in (
            "search_document",
            "preservation_preservationevent",
            "catalogue_derivative",
            "catalogue_capture",
            "catalogue_record",
        ):
            cur.execute(f"DELETE FROM {table}")
    assert _snapshot()["captures"] == []
    proc = spadok("rebuild-index", "--json", env=env)
    counts = json.loads(proc.stdout)
    assert counts["objects"] == 3 and counts["captures"] == 3
    assert _snapshot() == before
    spadok("rebuild-index", env=env)  # and again: nothing doubles
    assert _snapshot() == before


def _snapshot() -> dict[str, list]:
    from spadok.catalogue.models import Capture, Derivative, Record
    from spadok.preservation.models import PreservationEvent

    return {
        "records": sorted(
            (r.id, r.title, r.description, r.visibility, r.created_at.isoformat())
            for r in Record.objects.all()
        ),
        "captures": sorted(
            (
                c.id,
                c.record_id,
                c.kind,
                c.format,
                c.state,
                c.source_name,
                c.primary_file,
                c.created_at.isoformat(),
                json.dumps(c.originals, sort_keys=True),
                json.dumps(c.stats, sort_keys=True),
            )
            for c in Capture.objects.all()
        ),
        "derivatives": sorted(
            (
                d.capture_id,
                d.role,
                d.policy,
                d.key,
                d.mime,
                d.size,
                d.sha256,
                d.tool,
                json.dumps(d.params, sort_keys=True),
                json.dumps(d.stats, sort_keys=True),
            )
            for d in Derivative.objects.all()
        ),
        "events": sorted(
            (
                e.id,
                e.object_id,
                e.event_type,
                e.occurred_at.isoformat(),
                e.agent,
                e.outcome,
                e.detail,
                json.dumps(e.data, sort_keys=True),
            )
            for e in PreservationEvent.objects.filter(in_object=True)
        ),
    }


def test_export_writes_one_valid_bag_per_record(two_roots, tmp_path: Path) -> None:
    _primary, _replica, env = two_roots
    env["SPADOK_ORGANIZATION"] = "Heritage Rescue"
    env["SPADOK_CONTACT_EMAIL"] = "archive@example.org"
    first, second = _ingest(
        env,
        data("awkward", "trimesh_models", "fuze.obj"),
        data("scans", "3dhop_cnr_heritage", "gargo.ply"),
    )
    out = tmp_path / "bags"
    proc = spadok("export", "bagit", str(out), "--record", first["record"], env=env)
    (bag_path,) = [Path(line) for line in proc.stdout.splitlines()]
    bag = bagit.Bag(str(bag_path))
    assert bag.validate()
    assert bag.info["Source-Organization"] == "Heritage Rescue"
    assert bag.info["Contact-Email"] == "archive@example.org"
    payload = {Path(p).name for p in bag.payload_files()}
    assert {"fuze.obj", "fuze.obj.mtl", "fuze uv.jpg", "record.json", "events.jsonl"} <= payload
    assert (bag_path / "data" / first["id"] / "original" / "fuze.obj").read_bytes() == data(
        "awkward", "trimesh_models", "fuze.obj"
    ).read_bytes()

    whole = tmp_path / "all"
    proc = spadok("export", "bagit", str(whole), env=env)
    bags = [Path(line) for line in proc.stdout.splitlines()]
    assert {b.name for b in bags} == {first["record"], second["record"]}
    assert all(bagit.Bag(str(b)).validate() for b in bags)
    missing = spadok(
        "export", "bagit", str(tmp_path / "x"), "--record", "r-nope", env=env, check=False
    )
    assert missing.returncode == 2 and "r-nope" in missing.stderr


@pytest.mark.db_both
def test_scheduled_audits_are_queued_once_however_many_workers(settings) -> None:
    from django_tasks_db.models import DBTaskResult

    from spadok.jobs.schedule import queue_due

    assert "fixity-audit" in queue_due()
    assert queue_due() == []  # the next worker's heartbeat finds them already queued
    jobs = DBTaskResult.objects.filter(task_path__endswith="run_audit")
    assert jobs.count() == 1


def test_no_storage_url_secrets_in_events(s3_server, tmp_path: Path) -> None:
    prefix = f"secret-{tmp_path.name[-20:]}".replace("_", "-")
    env = spadok_env(storage=f"{s3_server.url(prefix)},{(tmp_path / 'r').as_uri()}")
    (result,) = _ingest(env, data("awkward", "trimesh_models", "fuze.obj"))
    from spadok.preservation.models import PreservationEvent

    for event in PreservationEvent.objects.filter(object_id=result["id"]):
        assert "endpoint=" not in event.detail and "endpoint" not in json.dumps(event.data)
    assert os.environ.get("AWS_SECRET_ACCESS_KEY", "x") not in json.dumps(
        list(PreservationEvent.objects.values()), default=str
    )

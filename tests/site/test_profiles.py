"""The production profile end to end: S3 primary (SeaweedFS), local replica, real CLI.

Marked ``db_both``: on PostgreSQL (``scripts/with-postgres pytest -m db_both``)
this is the whole production set-up, database included.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.procs import spadok, spadok_env
from tests.servers import S3Server
from tests.testdata import data

pytestmark = pytest.mark.db_both


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_ingest_into_s3_with_a_local_replica(
    transactional_db, s3_server: S3Server, tmp_path: Path
) -> None:
    from spadok.catalogue.models import Capture

    prefix = f"prod-{tmp_path.name[-20:]}".replace("_", "-")
    replica = tmp_path / "replica"
    primary_url = s3_server.url(prefix)
    env = spadok_env(storage=f"{primary_url},{replica.as_uri()}")
    src = data("awkward", "trimesh_models", "fuze.obj")

    proc = spadok("ingest", "--json", "--quiet", str(src), env=env, timeout=600)
    (result,) = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert result["status"] == "ok", result["error"]
    assert result["format"] == "obj" and result["stats"]["triangles"] == 1000

    capture = Capture.objects.get(id=result["id"])
    s3 = s3_server.client()
    names = {o["path"] for o in capture.originals}
    assert names == {"fuze.obj", "fuze.obj.mtl", "fuze uv.jpg"}
    for original in capture.originals:
        expected = (src.parent / original["path"]).read_bytes()
        obj = s3.get_object(Bucket=s3_server.bucket, Key=f"{prefix}/{original['key']}")
        assert obj["Body"].read() == expected  # byte for byte in the primary
        assert (replica / original["key"]).read_bytes() == expected  # and in the replica
        assert original["sha256"] == _sha256(expected)

    derivatives = list(capture.derivatives.all())
    assert {d.role for d in derivatives} >= {"thumbnail"}
    for d in derivatives:
        obj = s3.get_object(Bucket=s3_server.bucket, Key=f"{prefix}/{d.key}")
        assert _sha256(obj["Body"].read()) == d.sha256
        assert _sha256((replica / d.key).read_bytes()) == d.sha256

    # The capture is one OCFL object in each root, with nothing else beside it.
    listed = s3.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/")
    keys = {o["Key"][len(prefix) + 1 :] for o in listed.get("Contents", [])}
    object_root = capture.originals[0]["key"].split("/v1/", 1)[0]
    assert f"{object_root}/0=ocfl_object_1.1" in keys and "0=ocfl_1.1" in keys
    stored = {o["key"] for o in capture.originals} | {d.key for d in derivatives}
    assert stored <= keys
    assert keys == {str(p.relative_to(replica)) for p in replica.rglob("*") if p.is_file()}

    info = json.loads(spadok("info", "--json", env=env).stdout)
    from django.db import connection

    assert info["profile"] == "production"
    assert info["database_vendor"] == connection.vendor
    assert info["storage"] == [f"s3://{s3_server.bucket}/{prefix}", replica.as_uri()]
    assert info["captures"] == 1


def test_ingest_fails_cleanly_when_the_primary_is_down(transactional_db, tmp_path: Path) -> None:
    from spadok.catalogue.models import Capture
    from tests.servers import closed_port

    down = f"s3://spadok-test/x?endpoint=http://127.0.0.1:{closed_port()}"
    replica = tmp_path / "replica"
    env = spadok_env(
        storage=f"{down},{replica.as_uri()}",
        AWS_ACCESS_KEY_ID="k",
        AWS_SECRET_ACCESS_KEY="s",
    )
    src = data("awkward", "trimesh_models", "fuze.obj")
    proc = spadok("ingest", "--json", "--quiet", str(src), env=env, check=False, timeout=600)
    assert proc.returncode == 1
    (result,) = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert result["status"] == "error"
    assert result["error"]["code"] == "storage.unavailable"
    assert "Traceback" not in proc.stderr
    assert not Capture.objects.exists()
    # At most the replica's storage-root declaration; no object, no file of the scan.
    root_files = {"0=ocfl_1.1", "ocfl_layout.json", "config.json"}
    assert not [p for p in replica.rglob("*") if p.is_file() and p.name not in root_files]

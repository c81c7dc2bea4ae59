"""RFC 3161 time-stamps from a configured TSA: a real one made with OpenSSL's ``ts -reply``
on this machine (its own certificate), asked over HTTP as any public TSA would be."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from spadok.core.evidence import verify_dossier

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]

TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = {dir}/serial
signer_cert = {dir}/tsa.crt
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
crypto_device = builtin
"""


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[dict[str, Any]]:
    folder = tmp_path / "tsa"
    folder.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         str(folder / "tsa.key"), "-out", str(folder / "tsa.crt"), "-days", "2",
         "-subj", "/CN=spadok test TSA", "-addext", "extendedKeyUsage=critical,timeStamping"],
        check=True, capture_output=True,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "ts.cnf").write_text(TS_CONFIG.format(dir=folder))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers["Content-Length"]))
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "q.tsq").write_bytes(query)
                subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(folder / "ts.cnf"),
                     "-queryfile", f"{tmp}/q.tsq", "-out", f"{tmp}/r.tsr"],
                    check=True, capture_output=True,
                )  # fmt: skip
                reply = (Path(tmp) / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/tsa", "cert": folder / "tsa.crt"}
    server.shutdown()
    server.server_close()


def test_a_configured_tsa_time_stamps_the_signed_manifest(
    tsa: dict[str, Any], make_capture: Any, settings: Any, tmp_path: Path
) -> None:
    from spadok.evidence import keys
    from spadok.evidence.dossiers import dossier_make

    settings.SPADOK = replace(settings.SPADOK, tsa_url=tsa["url"])
    capture = make_capture()
    written = dossier_make(subject_id=capture.record_id, dest=tmp_path / "d")
    assert written.timestamp_error is None
    root = written.path
    reply = root / "evidence" / "manifest-sha512.txt.tsr"
    assert reply.is_file()
    assert (
        "Spadok-Timestamp: evidence/manifest-sha512.txt.tsr" in (root / "bag-info.txt").read_text()
    )
    pub = tmp_path / "key.pub"
    pub.write_bytes(keys.public_pem())
    report = verify_dossier(root, key=pub)
    assert report.ok and report.timestamp and report.timestamp["file"].endswith(".tsr")
    # the TSA's signature, checked by OpenSSL with the TSA's certificate
    proc = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(root / "manifest-sha512.txt"),
         "-in", str(reply), "-CAfile", str(tsa["cert"])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stdout + proc.stderr

    # A time-stamp of another dossier's manifest does not pass for this one.
    other = dossier_make(subject_id=make_capture(title="Other").record_id, dest=tmp_path / "o")
    shutil.copy(other.path / "evidence" / "manifest-sha512.txt.tsr", reply)
    report = verify_dossier(root, key=pub)
    assert {f.code for f in report.failures} == {"timestamp.mismatch", "tag.altered"}


def test_an_unreachable_tsa_leaves_a_dossier_without_a_time_stamp(
    make_capture: Any, settings: Any, tmp_path: Path
) -> None:
    from spadok.evidence.dossiers import dossier_make

    settings.SPADOK = replace(settings.SPADOK, tsa_url="http://127.0.0.1:9/tsa")
    written = dossier_make(subject_id=make_capture().record_id, dest=tmp_path / "d")
    assert written.timestamp_error
    assert not (written.path / "evidence" / "manifest-sha512.txt.tsr").exists()
    assert "Spadok-Timestamp: none: " in (written.path / "bag-info.txt").read_text()
    assert verify_dossier(written.path).ok


def test_evidence_settings_are_checked_at_start_up(tmp_path: Path) -> None:
    from spadok.config import ConfigError, load

    env = {"SPADOK_HOME": str(tmp_path)}
    assert load(env).tsa_url == "" and load(env).evidence_key_path is None
    assert load({**env, "SPADOK_TSA_URL": "https://tsa.example.org/tsr"}).tsa_url
    for bad in ({"SPADOK_TSA_URL": "ftp://tsa.example.org"}, {"SPADOK_EVIDENCE_KEY": "key.pem"}):
        with pytest.raises(ConfigError) as caught:
            load({**env, **bad})
        assert next(iter(bad)) in str(caught.value)

"""``spadok dossier`` on a real scan, checked by ``spadok verify``, the Library of Congress
``bagit`` validator and OpenSSL; then tampered with in every way the issue names, each
caught by ``spadok verify`` and named by its code, file, chain and entry."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import bagit
import pytest

from spadok.core.evidence import entry_hash, signing
from tests.procs import ROOT

LOG = "data/custody/log.jsonl"


def verify(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``spadok verify --json`` as an investigator runs it: no database, no settings."""
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", "verify", str(path), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["failures"]}


def failure(report: dict[str, Any], code: str) -> dict[str, Any]:
    found = [f for f in report["failures"] if f["code"] == code]
    assert found, report
    return found[0]


def read_log(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / LOG).read_text().splitlines()]


def write_log(root: Path, entries: list[dict[str, Any]]) -> None:
    (root / LOG).write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


def rehash(root: Path) -> None:
    """What a forger does after a change: rewrite every manifest and tag manifest."""
    payload = sorted(
        p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file()
    )
    oxum = sum((root / p).stat().st_size for p in payload)
    info = root / "bag-info.txt"
    lines = [ln for ln in info.read_text().splitlines() if not ln.startswith("Payload-Oxum")]
    info.write_text("\n".join([*lines, f"Payload-Oxum: {oxum}.{len(payload)}"]) + "\n")
    for alg in ("sha256", "sha512"):
        (root / f"manifest-{alg}.txt").write_text(
            "".join(
                f"{hashlib.new(alg, (root / p).read_bytes()).hexdigest()}  {p}\n" for p in payload
            )
        )
    retag(root)


def retag(root: Path) -> None:
    tags = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith(("data/", "tagmanifest-"))
    )
    for alg in ("sha256", "sha512"):
        (root / f"tagmanifest-{alg}.txt").write_text(
            "".join(f"{hashlib.new(alg, (root / t).read_bytes()).hexdigest()}  {t}\n" for t in tags)
        )


def resign(root: Path, key: Any, *, swap_key: bool) -> None:
    """Sign the manifests with ``key``; with ``swap_key`` also put its public key and
    fingerprint in the package, as a complete forgery would."""
    for alg in ("sha256", "sha512"):
        name = f"manifest-{alg}.txt"
        (root / "evidence" / f"{name}.sig").write_bytes(
            signing.sign(key, (root / name).read_bytes())
        )
    if swap_key:
        (root / "evidence" / "archive-key.pub").write_bytes(signing.public_pem(key))
        info = root / "bag-info.txt"
        lines = [
            f"Spadok-Signing-Key: ed25519 {signing.fingerprint(key)}"
            if ln.startswith("Spadok-Signing-Key")
            else ln
            for ln in info.read_text().splitlines()
        ]
        info.write_text("\n".join(lines) + "\n")
    retag(root)


def other_key() -> Any:
    return signing.load_private(signing.generate_private_pem())


# -- a good dossier --------------------------------------------------------------------


def test_dossier_of_a_real_scan_verifies_everywhere(cli_archive: dict[str, Any]) -> None:
    root, source = cli_archive["dossier"], cli_archive["source"]
    capture, record = cli_archive["capture"], cli_archive["record"]
    code, report = verify(root, "--key", str(cli_archive["public"]))
    assert code == 0 and report["ok"], report
    assert report["failures"] == [] and report["warnings"] == []
    assert report["key"]["fingerprint"] == cli_archive["fingerprint"] == cli_archive["made"]["key"]
    assert report["checked"]["files"] == cli_archive["made"]["files"]
    # pinned by the fingerprint the site shows, instead of the key file
    code, report = verify(root, "--key", cli_archive["fingerprint"])
    assert code == 0 and report["key"]["source"] == "pinned"
    # without a key it still checks, but says that the package's own key was trusted
    code, report = verify(root)
    assert code == 0 and [w["code"] for w in report["warnings"]] == ["key.not_given"]

    bagit.Bag(str(root)).validate()  # the Library of Congress validator

    original = root / "data" / "originals" / capture / source.name
    assert original.read_bytes() == source.read_bytes()  # byte for byte
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    meta = json.loads((root / "data" / "metadata" / "captures" / f"{capture}.json").read_text())
    assert meta["originals"][0]["sha256"] == sha256
    assert meta["record"] == record
    entries = read_log(root)
    arrival = next(e for e in entries if e["action"] == "capture.ingested")
    assert arrival["chain"] == capture and arrival["data"]["files"][0]["sha256"] == sha256
    record_chain = [e["action"] for e in entries if e["chain"] == record]
    assert record_chain == ["export.bagit", "export.dossier", "export.dossier"]
    assert all(e["hash"] == entry_hash(e) for e in entries)
    premis = json.loads((root / "data" / "premis" / f"{capture}.json").read_text())
    assert {"ingestion", "message digest calculation", "creation"} <= {
        e["eventType"] for e in premis
    }
    assert json.loads((root / "data" / "damage" / "events.json").read_text()) == []
    assert (root / "data" / "damage" / "README.txt").is_file()
    info = (root / "bag-info.txt").read_text()
    assert f"Spadok-Signing-Key: ed25519 {cli_archive['fingerprint']}" in info


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_signature_checks_with_openssl_alone(cli_archive: dict[str, Any]) -> None:
    """Nobody has to trust spadok's verifier: OpenSSL checks the same signature."""
    root = cli_archive["dossier"]
    proc = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(cli_archive["public"]),
         "-rawin", "-in", str(root / "manifest-sha512.txt"),
         "-sigfile", str(root / "evidence" / "manifest-sha512.txt.sig")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "Verified Successfully" in proc.stdout, proc.stderr


def test_the_command_line_says_what_is_wrong(cli_archive: dict[str, Any], tmp_path: Path) -> None:
    from tests.procs import spadok

    env = cli_archive["env"]
    proc = spadok("dossier", "r-doesnotexist", str(tmp_path / "x"), "--json", env=env, check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "evidence.not_found"
    proc = spadok("dossier", cli_archive["record"], str(cli_archive["dossier"] / "bagit.txt"),
                  env=env, check=False)  # fmt: skip
    assert proc.returncode == 1 and "evidence.dest_exists" in proc.stderr
    # the plain-text report of a good dossier
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", "verify", str(cli_archive["dossier"]),
         "--key", str(cli_archive["public"])],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("ok:"), proc.stdout + proc.stderr


# -- tampering -------------------------------------------------------------------------


def test_one_byte_of_an_original_altered(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    rel = f"data/originals/{cli_archive['capture']}/{cli_archive['source'].name}"
    raw = bytearray((dossier_copy / rel).read_bytes())
    raw[len(raw) // 3] ^= 0x01
    (dossier_copy / rel).write_bytes(bytes(raw))
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1 and not report["ok"]
    altered = [f for f in report["failures"] if f["code"] == "file.altered"]
    assert {(f["path"], f["algorithm"]) for f in altered} == {(rel, "sha256"), (rel, "sha512")}
    # also against the hash logged when it arrived, in the custody chain
    mismatch = failure(report, "original.arrival_mismatch")
    assert mismatch["path"] == rel and mismatch["chain"] == cli_archive["capture"]
    assert not any(c.startswith(("signature.", "custody.")) for c in codes(report))


def test_a_file_changed_and_its_manifest_rewritten(
    cli_archive: dict[str, Any], dossier_copy: Path
) -> None:
    """A forger without the key rewrites the manifests: the signature no longer holds."""
    meta = dossier_copy / "data" / "metadata" / "records" / f"{cli_archive['record']}.json"
    meta.write_text(meta.read_text().replace('"visibility": "public"', '"visibility": "sealed"'))
    rehash(dossier_copy)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    assert codes(report) == {"signature.invalid"}
    assert {f["path"] for f in report["failures"]} == {
        "evidence/manifest-sha256.txt.sig",
        "evidence/manifest-sha512.txt.sig",
    }


def test_a_custody_entry_dropped(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    record = cli_archive["record"]
    entries = [e for e in read_log(dossier_copy) if not (e["chain"] == record and e["seq"] == 2)]
    write_log(dossier_copy, entries)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    missing = failure(report, "custody.missing")
    assert (missing["chain"], missing["seq"], missing["missing"]) == (record, 2, [2])
    assert failure(report, "file.altered")["path"] == LOG


def test_the_last_custody_entry_dropped(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    record = cli_archive["record"]
    entries = [e for e in read_log(dossier_copy) if not (e["chain"] == record and e["seq"] == 3)]
    write_log(dossier_copy, entries)
    rehash(dossier_copy)  # even with the manifests rewritten, the signed heads say 3
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    truncated = failure(report, "custody.truncated")
    assert (truncated["chain"], truncated["seq"]) == (record, 3)
    assert "signature.invalid" in codes(report)


def test_custody_entries_reordered(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    record = cli_archive["record"]
    entries = read_log(dossier_copy)
    i = next(n for n, e in enumerate(entries) if e["chain"] == record and e["seq"] == 1)
    j = next(n for n, e in enumerate(entries) if e["chain"] == record and e["seq"] == 2)
    entries[i], entries[j] = entries[j], entries[i]
    write_log(dossier_copy, entries)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    moved = failure(report, "custody.reordered")
    assert (moved["chain"], moved["seq"]) == (record, 1)
    assert "custody.missing" not in codes(report) and "custody.altered" not in codes(report)


def test_a_custody_entry_altered(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    record = cli_archive["record"]
    entries = read_log(dossier_copy)
    target = next(e for e in entries if e["chain"] == record and e["seq"] == 2)
    target["actor"] = {"kind": "user", "id": 7, "name": "someone else", "role": "curator"}
    write_log(dossier_copy, entries)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    altered = failure(report, "custody.altered")
    assert (altered["chain"], altered["seq"]) == (record, 2)

    # A careful forger also recomputes the entry's own hash: the next entry's link breaks.
    target["hash"] = entry_hash(target)
    write_log(dossier_copy, entries)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1 and "custody.altered" not in codes(report)
    broken = failure(report, "custody.broken_link")
    assert (broken["chain"], broken["seq"]) == (record, 3)


def test_resigned_with_another_key(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    """A complete forgery: a changed original, new manifests, signed with the forger's key,
    whose public key and fingerprint replace the archive's in the package."""
    rel = f"data/originals/{cli_archive['capture']}/{cli_archive['source'].name}"
    raw = bytearray((dossier_copy / rel).read_bytes())
    raw[100] ^= 0xFF
    (dossier_copy / rel).write_bytes(bytes(raw))
    rehash(dossier_copy)
    forger = other_key()
    resign(dossier_copy, forger, swap_key=True)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    assert {"signature.wrong_key", "key.replaced"} <= codes(report)
    assert signing.fingerprint(forger) in failure(report, "signature.wrong_key")["message"]
    # the changed original still disagrees with the hash the custody chain logged on arrival
    assert failure(report, "original.arrival_mismatch")["path"] == rel
    # pinning the published fingerprint catches it too
    code, report = verify(dossier_copy, "--key", cli_archive["fingerprint"])
    assert code == 1 and "key.replaced" in codes(report)


def test_resigned_with_another_key_only(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    resign(dossier_copy, other_key(), swap_key=False)
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1 and codes(report) == {"signature.invalid"}


def test_public_key_in_the_package_replaced(
    cli_archive: dict[str, Any], dossier_copy: Path
) -> None:
    (dossier_copy / "evidence" / "archive-key.pub").write_bytes(signing.public_pem(other_key()))
    retag(dossier_copy)
    for key in (str(cli_archive["public"]), cli_archive["fingerprint"]):
        code, report = verify(dossier_copy, "--key", key)
        assert code == 1
        assert failure(report, "key.replaced")["path"] == "evidence/archive-key.pub"


def test_checked_with_a_key_that_is_not_the_archives(
    cli_archive: dict[str, Any], dossier_copy: Path, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pub"
    wrong.write_bytes(signing.public_pem(other_key()))
    code, report = verify(dossier_copy, "--key", str(wrong))
    assert code == 1 and {"signature.wrong_key", "key.replaced"} <= codes(report)


def test_signature_removed_or_file_added(cli_archive: dict[str, Any], dossier_copy: Path) -> None:
    (dossier_copy / "evidence" / "manifest-sha512.txt.sig").unlink()
    (dossier_copy / "data" / "originals" / "planted.ply").write_bytes(b"ply\n")
    code, report = verify(dossier_copy, "--key", str(cli_archive["public"]))
    assert code == 1
    assert failure(report, "signature.missing")["path"] == "evidence/manifest-sha512.txt.sig"
    assert failure(report, "file.unexpected")["path"] == "data/originals/planted.ply"
    assert {"bag.oxum", "tag.missing"} <= codes(report)


def test_not_a_dossier(tmp_path: Path) -> None:
    code, report = verify(tmp_path)
    assert code == 1 and codes(report) == {"bag.incomplete"}

"""Check an evidence dossier offline: every file, the custody chains, the signatures.

Needs nothing but the package and the archive's public key (a PEM file, or
its ``sha256:`` fingerprint to pin the key the package carries). Each problem
is reported with a stable code from :data:`CODES` and a message that names
the file, the chain and entry, or the key; the codes never change meaning.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from spadok.core.evidence import signing
from spadok.core.evidence.chain import Finding, check_chains
from spadok.core.evidence.dossier import (
    ALGORITHMS,
    KEY_LABEL,
    PUBLIC_KEY_FILE,
    SIGNATURE_DIR,
    TIMESTAMPED,
)
from spadok.core.evidence.timestamp import TimestampError, check_reply
from spadok.core.preservation.hashing import hash_file

# code -> what it means. Failures make the check fail; warnings do not.
CODES: dict[str, str] = {
    "bag.incomplete": "a file every dossier has (bagit.txt, a manifest, bag-info.txt) is missing",
    "bag.oxum": "the payload's size or file count differs from bag-info's Payload-Oxum",
    "file.altered": "a file's digest differs from the manifest: the file was changed",
    "file.missing": "a file named in a manifest is not in the package",
    "file.unexpected": "a payload file is in no manifest: it was added",
    "tag.altered": "a tag file (bag-info.txt, a manifest, the key) differs from the tag manifest",
    "tag.missing": "a tag file named in a tag manifest is not in the package",
    "custody.unreadable": "a custody log line is not a JSON entry",
    "custody.altered": "a custody entry's content no longer matches its hash",
    "custody.missing": "custody entries are missing from the middle of a chain",
    "custody.truncated": "custody entries are missing at the end of a chain (see heads.json)",
    "custody.reordered": "custody entries are not in sequence order",
    "custody.duplicate": "a custody entry's sequence number appears twice",
    "custody.broken_link": "a custody entry does not link to the entry before it",
    "custody.unexpected_chain": "the log holds a chain the signed heads do not name",
    "custody.unexpected_entry": "a chain has entries after its signed head",
    "original.arrival_mismatch": "an original's sha256 differs from the one logged on arrival",
    "signature.missing": "a manifest's signature file is missing",
    "signature.invalid": "a signature does not verify with the archive's key: "
    "the manifest changed after signing",
    "signature.wrong_key": "the manifests were signed with a key other than the archive's",
    "key.unreadable": "the public key given, or the one in the package, cannot be read",
    "key.replaced": "the public key in the package is not the archive's key",
    "key.not_given": "(warning) no key was given: the package's own key was trusted",
    "timestamp.mismatch": "the RFC 3161 time-stamp is not a granted one over the manifest",
}

FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass
class Report:
    path: str
    ok: bool = True
    failures: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    key: dict[str, Any] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    timestamp: dict[str, str] | None = None

    def fail(self, finding: Finding) -> None:
        self.failures.append(finding)
        self.ok = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "key": self.key,
            "checked": self.checked,
            "timestamp": self.timestamp,
            "failures": [f.as_dict() for f in self.failures],
            "warnings": [w.as_dict() for w in self.warnings],
        }

    def codes(self) -> set[str]:
        return {f.code for f in self.failures}


def _decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def _read_manifest(path: Path) -> dict[str, str]:
    """{relative path: digest} of a (tag) manifest."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, _, rel = line.partition(" ")
        out[_decode_path(rel.lstrip(" *"))] = digest.strip().lower()
    return out


def read_bag_info(path: Path) -> dict[str, list[str]]:
    info: dict[str, list[str]] = {}
    last: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:1] in (" ", "\t") and last is not None:
            info[last][-1] += "\n" + line.strip()
            continue
        label, sep, value = line.partition(":")
        if not sep:
            continue
        last = label.strip()
        info.setdefault(last, []).append(value.strip())
    return info


def _check_files(root: Path, report: Report) -> dict[str, dict[str, str]]:
    """Every payload file against every manifest; returns each file's actual digests."""
    manifests = {
        a: root / f"manifest-{a}.txt" for a in ALGORITHMS if (root / f"manifest-{a}.txt").exists()
    }
    listed: dict[str, dict[str, str]] = {}
    for algorithm, mpath in manifests.items():
        for rel, digest in _read_manifest(mpath).items():
            listed.setdefault(rel, {})[algorithm] = digest
    present = (
        {p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file()}
        if (root / "data").is_dir()
        else set()
    )
    actual: dict[str, dict[str, str]] = {}
    octets = 0
    for rel in sorted(listed):
        path = root / rel
        if rel not in present:
            report.fail(Finding("file.missing", f"{rel} is named in the manifest but missing", rel))
            continue
        digests, size = hash_file(path, sorted(listed[rel]))
        actual[rel] = digests
        octets += size
        for algorithm, want in sorted(listed[rel].items()):
            if digests[algorithm] != want:
                report.fail(
                    Finding(
                        "file.altered",
                        f"{rel}: {algorithm} is {digests[algorithm]}, the manifest says {want}",
                        rel,
                        extra={"algorithm": algorithm},
                    )
                )
    for rel in sorted(present - set(listed)):
        report.fail(Finding("file.unexpected", f"{rel} is in no manifest: it was added", rel))
    report.checked["files"] = len(listed)
    report.checked["bytes"] = octets
    info_path = root / "bag-info.txt"
    if info_path.exists():
        oxum = read_bag_info(info_path).get("Payload-Oxum", [""])[0]
        m = re.fullmatch(r"(\d+)\.(\d+)", oxum)
        files = len(present)
        total = sum((root / p).stat().st_size for p in present)
        if m and (int(m.group(1)), int(m.group(2))) != (total, files):
            report.fail(
                Finding(
                    "bag.oxum",
                    f"the payload has {total} bytes in {files} files; "
                    f"bag-info says {m.group(1)} in {m.group(2)}",
                    "bag-info.txt",
                )
            )
    return actual


def _check_tags(root: Path, report: Report) -> None:
    for algorithm in ALGORITHMS:
        tpath = root / f"tagmanifest-{algorithm}.txt"
        if not tpath.exists():
            continue
        for rel, want in sorted(_read_manifest(tpath).items()):
            path = root / rel
            if not path.is_file():
                report.fail(
                    Finding("tag.missing", f"{rel} is named in {tpath.name} but missing", rel)
                )
                continue
            got = hashlib.new(algorithm, path.read_bytes()).hexdigest()
            if got != want:
                report.fail(
                    Finding(
                        "tag.altered",
                        f"{rel}: {algorithm} is {got}, {tpath.name} says {want}",
                        rel,
                        extra={"algorithm": algorithm},
                    )
                )


def _load_key_arg(key: str | Path | None) -> tuple[Ed25519PublicKey | None, str | None]:
    """(a public key, a pinned fingerprint) from --key: a PEM file or ``sha256:<hex>``."""
    if key is None:
        return None, None
    text = str(key).strip().lower()
    if FINGERPRINT.fullmatch(text):
        return None, text
    return signing.load_public(Path(key).read_bytes()), None


def _check_signatures(root: Path, key: str | Path | None, report: Report) -> None:
    enclosed: Ed25519PublicKey | None = None
    if (root / PUBLIC_KEY_FILE).is_file():
        try:
            enclosed = signing.load_public((root / PUBLIC_KEY_FILE).read_bytes())
        except signing.BadKey as exc:
            report.fail(Finding("key.unreadable", f"{PUBLIC_KEY_FILE}: {exc}", PUBLIC_KEY_FILE))
    try:
        given, pinned = _load_key_arg(key)
    except (OSError, signing.BadKey) as exc:
        report.fail(Finding("key.unreadable", f"the key given ({key}): {exc}"))
        return
    enclosed_fp = signing.fingerprint(enclosed) if enclosed is not None else None
    trusted: Ed25519PublicKey | None
    if given is not None:
        trusted, source = given, "given"
    elif pinned is not None:
        trusted, source = (enclosed if enclosed_fp == pinned else None), "pinned"
    else:
        trusted, source = enclosed, "package"
        report.warnings.append(
            Finding(
                "key.not_given",
                f"no key was given; the package's own key {enclosed_fp} was used. Compare it "
                "with the key the archive publishes at /archive/key.pub, or run again with --key",
            )
        )
    trusted_fp = signing.fingerprint(trusted) if trusted is not None else pinned
    report.key = {"fingerprint": trusted_fp, "source": source, "in_package": enclosed_fp}
    if enclosed_fp is not None and trusted_fp is not None and enclosed_fp != trusted_fp:
        report.fail(
            Finding(
                "key.replaced",
                f"the package carries key {enclosed_fp}, not the archive's key {trusted_fp}",
                PUBLIC_KEY_FILE,
            )
        )
    claimed = (
        read_bag_info(root / "bag-info.txt").get(KEY_LABEL, [""])[0]
        if (root / "bag-info.txt").exists()
        else ""
    )
    claimed_fp = m.group(0) if (m := FINGERPRINT.search(claimed)) else None
    for algorithm in ALGORITHMS:
        name = f"manifest-{algorithm}.txt"
        sig_rel = f"{SIGNATURE_DIR}/{name}.sig"
        if not (root / name).exists():
            continue
        if not (root / sig_rel).is_file():
            report.fail(
                Finding("signature.missing", f"{sig_rel} is missing: {name} is unsigned", sig_rel)
            )
            continue
        data = (root / name).read_bytes()
        signature = (root / sig_rel).read_bytes()
        if trusted is not None and signing.verify(trusted, signature, data):
            continue
        by_other = (
            enclosed is not None
            and enclosed_fp != trusted_fp
            and signing.verify(enclosed, signature, data)
        )
        if by_other or (claimed_fp is not None and claimed_fp != trusted_fp):
            signer = enclosed_fp if by_other else claimed_fp
            report.fail(
                Finding(
                    "signature.wrong_key",
                    f"{name} was signed with key {signer}, not the archive's key {trusted_fp}",
                    sig_rel,
                )
            )
        else:
            report.fail(
                Finding(
                    "signature.invalid",
                    f"{sig_rel} does not verify {name} with the archive's key {trusted_fp}: "
                    f"{name} was changed after signing, or the signature is damaged",
                    sig_rel,
                )
            )


def _check_custody(root: Path, actual: dict[str, dict[str, str]], report: Report) -> None:
    log_rel, heads_rel = "data/custody/log.jsonl", "data/custody/heads.json"
    if not (root / log_rel).is_file():
        report.fail(Finding("bag.incomplete", f"{log_rel} is missing", log_rel))
        return
    heads: dict[str, Any] | None = None
    try:
        heads = json.loads((root / heads_rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report.fail(Finding("custody.unreadable", f"{heads_rel} is missing or not JSON", heads_rel))
    entries: list[tuple[int, dict[str, Any]]] = []
    with (root / log_rel).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                report.fail(
                    Finding("custody.unreadable", f"line {n} is not a JSON object", log_rel)
                )
                continue
            entries.append((n, entry))
    for finding in check_chains(entries, heads if isinstance(heads, dict) else None, path=log_rel):
        report.fail(finding)
    report.checked["custody_entries"] = len(entries)
    report.checked["custody_chains"] = len({e.get("chain") for _, e in entries})
    # The originals in the package are the ones whose hashes were logged when they arrived.
    for _n, entry in entries:
        if entry.get("action") not in ("upload.received", "capture.ingested"):
            continue
        chain = entry.get("chain")
        for item in (entry.get("data") or {}).get("files", []):
            rel = f"data/originals/{chain}/{item.get('path')}"
            got = actual.get(rel, {}).get("sha256")
            if got is not None and got != item.get("sha256"):
                report.fail(
                    Finding(
                        "original.arrival_mismatch",
                        f"{rel}: sha256 {got}, logged on arrival as {item.get('sha256')} "
                        f"(entry {entry.get('seq')} of {chain})",
                        rel,
                        chain,
                        entry.get("seq"),
                    )
                )


def _check_timestamp(root: Path, report: Report) -> None:
    """A time-stamp, when there is one, must be granted and over this very manifest.

    Its signature chains to the TSA's certificate, which the package cannot vouch
    for: check it with ``openssl ts -verify -data manifest-sha512.txt -in
    evidence/manifest-sha512.txt.tsr -CAfile TSA-CERTIFICATE``.
    """
    rel = f"{SIGNATURE_DIR}/{TIMESTAMPED}.tsr"
    if not (root / rel).is_file() or not (root / TIMESTAMPED).is_file():
        return
    digest = hashlib.sha256((root / TIMESTAMPED).read_bytes()).digest()
    try:
        check_reply((root / rel).read_bytes(), digest, None)
    except TimestampError as exc:
        report.fail(Finding("timestamp.mismatch", f"{rel}: {exc}", rel))
        return
    report.timestamp = {
        "file": rel,
        "check_signature": f"openssl ts -verify -data {TIMESTAMPED} -in {rel} -CAfile TSA-CERT",
    }


def verify_dossier(path: Path, *, key: str | Path | None = None) -> Report:
    """Check everything; the report lists every failure found, not only the first."""
    root = Path(path)
    report = Report(path=str(root))
    required = ["bagit.txt", "bag-info.txt", *(f"manifest-{a}.txt" for a in ALGORITHMS)]
    missing = [r for r in required if not (root / r).is_file()]
    if not root.is_dir() or missing:
        report.fail(
            Finding(
                "bag.incomplete",
                f"{root} is not an evidence dossier: missing {', '.join(missing) or root}",
            )
        )
        if not root.is_dir() or all(not (root / f"manifest-{a}.txt").is_file() for a in ALGORITHMS):
            return report
    actual = _check_files(root, report)
    _check_tags(root, report)
    _check_signatures(root, key, report)
    _check_custody(root, actual, report)
    _check_timestamp(root, report)
    return report


def format_report(report: Report) -> str:
    """The plain-text report of ``spadok verify``."""
    lines = []
    for f in report.failures:
        lines.append(f"FAIL  {f.code:<26} {f.message}")
    for w in report.warnings:
        lines.append(f"warn  {w.code:<26} {w.message}")
    checked = report.checked
    lines.append(
        f"{'ok' if report.ok else 'FAILED'}: {checked.get('files', 0)} files, "
        f"{checked.get('custody_entries', 0)} custody entries in "
        f"{checked.get('custody_chains', 0)} chains; key {report.key.get('fingerprint')}"
    )
    return "\n".join(lines)

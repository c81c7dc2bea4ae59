"""Write an evidence dossier: a signed BagIt package (RFC 8493) of what a record holds.

Layout (``dest``)::

    bagit.txt  bag-info.txt            BagIt; bag-info names the signing key's fingerprint
    manifest-sha256.txt                every payload file's sha256 ...
    manifest-sha512.txt                ... and sha512
    tagmanifest-sha256.txt, tagmanifest-sha512.txt
    evidence/manifest-sha512.txt.sig   Ed25519 signature (raw, 64 bytes) of manifest-sha512.txt
    evidence/manifest-sha256.txt.sig   ... and of manifest-sha256.txt
    evidence/archive-key.pub           the archive's public key (check it against the published one)
    evidence/README.txt                how to check the package by hand
    data/originals/<capture>/<path>    the originals byte for byte, checked against their
                                       arrival hashes while copied
    data/derivatives/<capture>/<file>  the web copies and thumbnails
    data/metadata/*.json               the record(s), captures, site, decisions, sealed access
    data/custody/log.jsonl             the complete custody chains of what the dossier covers
    data/custody/heads.json            each chain's last entry (signed through the manifests,
                                       so entries cut off at the end are noticed)
    data/premis/<capture>.json         the preservation events (PREMIS semantic units, JSON)
    data/damage/events.json            damage events with their sources ([] when none yet)

The signatures cover the manifests, the manifests cover every payload file, so
nothing in ``data/`` can change without :mod:`spadok.core.evidence.verify`
saying which file. Built beside ``dest`` and renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from spadok.core.errors import SpadokError
from spadok.core.evidence import signing
from spadok.core.evidence.timestamp import TimestampError, timestamp
from spadok.core.preservation.bagit import BAGIT_TXT, _label_line, _manifest_path
from spadok.core.preservation.hashing import CHUNK

ALGORITHMS = ("sha256", "sha512")
SIGNED = tuple(f"manifest-{a}.txt" for a in ALGORITHMS)
TIMESTAMPED = "manifest-sha512.txt"  # its RFC 3161 reply: evidence/<name>.tsr
SIGNATURE_DIR = "evidence"
PUBLIC_KEY_FILE = f"{SIGNATURE_DIR}/archive-key.pub"
KEY_LABEL = "Spadok-Signing-Key"  # bag-info: the fingerprint of the key that signed
FORMAT_LABEL = "Spadok-Dossier-Format"
FORMAT = "spadok-dossier/1"

DAMAGE_README = """\
Damage events recorded for what this dossier documents: what happened, when,
by whose account (UNESCO-verified, a ministry, a field report, a capture, a
news report) with the source's link or document, and who entered it.

events.json is a JSON list; it is empty while no damage event is recorded.
"""

EVIDENCE_README = """\
Evidence dossier {subject} made by {agent} on {created}.

Check it with spadok (nothing else needed):
    spadok verify . --key archive-key.pub
where archive-key.pub is the public key the archive publishes (/archive/key.pub),
NOT the copy in this folder; or give its fingerprint: --key {fingerprint}

Or by hand, with standard tools:
 1. BagIt (every file against both manifests):  bagit.py --validate .
 2. The signatures (OpenSSL 3):
      openssl pkeyutl -verify -pubin -inkey archive-key.pub -rawin \\
          -in manifest-sha512.txt -sigfile evidence/manifest-sha512.txt.sig
 3. The custody chains in data/custody/log.jsonl: each line's "hash" is the sha256
    of the line's JSON without "hash", keys sorted, no spaces, UTF-8; its "prev" is
    the hash of the entry before it in its chain (64 zeros for entry 1); the last
    entry of each chain is named in data/custody/heads.json.
 4. A time-stamp, when bag-info's Spadok-Timestamp names one (RFC 3161):
      openssl ts -verify -data manifest-sha512.txt \\
          -in evidence/manifest-sha512.txt.tsr -CAfile TSA-CERTIFICATE
"""


@dataclass
class PayloadFile:
    """A file to copy into ``data/``, checked against digests known beforehand."""

    path: str  # under data/, e.g. "originals/c-01.../scan.ply"
    open: Callable[[], AbstractContextManager[BinaryIO]]
    expected: Mapping[str, str] = field(default_factory=dict)  # {"sha256": hex, ...}
    label: str = ""  # how messages name it (a storage key)


@dataclass
class DossierContent:
    subject: str  # "record r-..." or "site s-..."
    identifiers: list[str]
    files: list[PayloadFile]
    metadata: dict[str, Any]  # file name under data/metadata/ -> JSON value
    custody: list[dict[str, Any]]  # chain entries, in chain and sequence order
    heads: dict[str, dict[str, Any]]  # chain -> {"seq": n, "hash": hex}
    premis: dict[str, list[dict[str, Any]]]  # object id -> events
    damage: list[dict[str, Any]] = field(default_factory=list)
    bag_info: dict[str, str | list[str]] = field(default_factory=dict)
    created: str = ""  # ISO 8601 UTC
    agent: str = "spadok"


@dataclass
class Written:
    path: Path
    files: int
    bytes: int
    fingerprint: str
    timestamp_error: str | None = None  # a TSA was configured but gave no time-stamp


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _copy(item: PayloadFile, out: Path) -> tuple[dict[str, str], int]:
    """Stream one file into the package, hashing it on the way; refuse a damaged one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    hashers = {a: hashlib.new(a) for a in ALGORITHMS}
    size = 0
    with item.open() as src, out.open("wb") as dst:
        while chunk := src.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    digests = {a: h.hexdigest() for a, h in hashers.items()}
    for algorithm, want in item.expected.items():
        if want and digests.get(algorithm) not in (None, want):
            raise SpadokError(
                "evidence.damaged_file",
                f"{item.label or item.path}: its {algorithm} is {digests[algorithm]}, "
                f"recorded {want}",
            )
    return digests, size


def _digests_of(data: bytes) -> dict[str, str]:
    return {a: hashlib.new(a, data).hexdigest() for a in ALGORITHMS}


def write_dossier(
    content: DossierContent, dest: Path, *, key: Ed25519PrivateKey, tsa_url: str = ""
) -> Written:
    """Write the package to ``dest`` (which must not exist) and sign its manifests.

    With ``tsa_url``, the sha512 manifest is also time-stamped (RFC 3161); a TSA
    that fails does not stop the dossier: bag-info and the result say so.
    """
    if dest.exists():
        raise SpadokError("evidence.dest_exists", str(dest))
    work = dest.with_name(f".{dest.name}.partial")
    if work.exists():
        shutil.rmtree(work)
    (work / "data").mkdir(parents=True)
    try:
        listed: list[tuple[str, dict[str, str]]] = []
        octets = 0
        for item in content.files:
            rel = f"data/{item.path}"
            digests, size = _copy(item, work / rel)
            listed.append((rel, digests))
            octets += size

        def put(rel: str, raw: bytes) -> None:
            nonlocal octets
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(raw)
            listed.append((rel, _digests_of(raw)))
            octets += len(raw)

        for name, value in sorted(content.metadata.items()):
            put(f"data/metadata/{name}", _json_bytes(value))
        put(
            "data/custody/log.jsonl",
            b"".join(
                json.dumps(e, ensure_ascii=False, sort_keys=True).encode() + b"\n"
                for e in content.custody
            ),
        )
        put("data/custody/heads.json", _json_bytes(content.heads))
        for object_id, events in sorted(content.premis.items()):
            put(f"data/premis/{object_id}.json", _json_bytes(events))
        put("data/damage/README.txt", DAMAGE_README.encode())
        put("data/damage/events.json", _json_bytes(content.damage))

        listed.sort()
        (work / "bagit.txt").write_bytes(BAGIT_TXT)
        for algorithm in ALGORITHMS:
            (work / f"manifest-{algorithm}.txt").write_text(
                "".join(f"{d[algorithm]}  {_manifest_path(p)}\n" for p, d in listed),
                encoding="utf-8",
            )
        fp = signing.fingerprint(key)
        (work / SIGNATURE_DIR).mkdir()
        for name in SIGNED:
            sig = signing.sign(key, (work / name).read_bytes())
            (work / SIGNATURE_DIR / f"{name}.sig").write_bytes(sig)
        (work / PUBLIC_KEY_FILE).write_bytes(signing.public_pem(key))
        stamp_note, stamp_error = "", None
        if tsa_url:
            try:
                reply = timestamp(tsa_url, (work / TIMESTAMPED).read_bytes())
                (work / SIGNATURE_DIR / f"{TIMESTAMPED}.tsr").write_bytes(reply)
                stamp_note = f"{SIGNATURE_DIR}/{TIMESTAMPED}.tsr (RFC 3161, {tsa_url})"
            except TimestampError as exc:
                stamp_error = str(exc)
                stamp_note = f"none: the time-stamping authority failed: {exc}"
        (work / SIGNATURE_DIR / "README.txt").write_text(
            EVIDENCE_README.format(
                subject=content.subject,
                agent=content.agent,
                created=content.created,
                fingerprint=fp,
            ),
            encoding="utf-8",
        )
        info: list[str] = []
        for label, values in content.bag_info.items():
            for value in [values] if isinstance(values, str) else values:
                info.append(_label_line(label, value))
        info += [_label_line("External-Identifier", i) for i in content.identifiers]
        info += [
            _label_line(FORMAT_LABEL, FORMAT),
            _label_line("Spadok-Dossier-Subject", content.subject),
            _label_line("Spadok-Dossier-Created", content.created),
            _label_line(KEY_LABEL, f"ed25519 {fp}"),
            _label_line("Spadok-Signatures", ", ".join(f"{SIGNATURE_DIR}/{n}.sig" for n in SIGNED)),
            *([_label_line("Spadok-Timestamp", stamp_note)] if stamp_note else []),
            _label_line("Bagging-Date", content.created[:10]),
            _label_line("Payload-Oxum", f"{octets}.{len(listed)}"),
        ]
        (work / "bag-info.txt").write_text("".join(info), encoding="utf-8")

        tags = sorted(
            p.relative_to(work).as_posix()
            for p in work.rglob("*")
            if p.is_file()
            and not p.relative_to(work).as_posix().startswith(("data/", "tagmanifest-"))
        )
        for algorithm in ALGORITHMS:
            lines = [
                f"{hashlib.new(algorithm, (work / t).read_bytes()).hexdigest()}  {t}\n"
                for t in tags
            ]
            (work / f"tagmanifest-{algorithm}.txt").write_text("".join(lines), encoding="utf-8")
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Written(
        path=dest,
        files=len(listed),
        bytes=octets,
        fingerprint=fp,
        timestamp_error=stamp_error,
    )

"""Export OCFL objects as a BagIt bag (RFC 8493) to hand to another archive.

Why BagIt: it is what receiving archives and the Library of Congress tools
expect for a transfer, and it needs nothing but sha512 to check. Files stream
from storage into the bag through the digest (never whole in memory), and each
is checked against the OCFL inventory on the way, so a bag never carries a
damaged file silently. The bag is built beside ``dest`` and renamed into place
when complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from spadok.core.preservation.hashing import CHUNK
from spadok.core.preservation.ocfl import (
    DIGEST,
    OcflError,
    OcflStore,
    state_of,
)

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
COMPUTED = ("Bagging-Date", "Payload-Oxum")


def bag_directory_name(object_id: str) -> str:
    """A portable folder name for an object id.

    Characters outside ``A-Za-z0-9-_.`` become ``_`` and a short hash keeps such
    names apart (``urn:a`` -> ``urn_a-<8 hex>``); bag-info's External-Identifier
    lines and ``ocfl/<folder>/inventory.json`` give the real id. No ``%``: the
    Library of Congress ``bagit`` tool does not decode it in manifests.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", object_id)
    if safe == object_id and not safe.startswith("."):
        return safe
    return f"{safe.lstrip('.')[:80]}-{hashlib.sha256(object_id.encode()).hexdigest()[:8]}"


def _manifest_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and % in a manifest file path are percent-encoded.

    (bagit-python 1.9 decodes only CR and LF, so it cannot check a bag whose
    logical paths hold ``%``; the RFC is what we follow.)
    """
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _label_line(label: str, value: str) -> str:
    if not label or ":" in label or any(c in label for c in "\r\n") or label != label.strip():
        raise ValueError(f"invalid bag-info label {label!r}")
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"{label}: " + "\n    ".join(lines) + "\n"


def export_bag(
    store: OcflStore,
    object_ids: list[str],
    dest: Path,
    *,
    bag_info: Mapping[str, str | list[str]],
    all_versions: bool = False,
) -> Path:
    """Write a bag of the objects' latest files (or every version) to ``dest``.

    Payload: ``data/<object id>/<logical path>`` (``data/<id>/<vN>/<path>`` with
    ``all_versions``). Each object's OCFL inventory goes along as the tag file
    ``ocfl/<object id>/inventory.json``. ``bag_info`` should name at least
    Source-Organization, Contact-Email and External-Description; Bagging-Date and
    Payload-Oxum are computed.
    """
    if dest.exists():
        raise FileExistsError(dest)
    work = dest.with_name(f".{dest.name}.partial")
    if work.exists():
        shutil.rmtree(work)
    (work / "data").mkdir(parents=True)
    try:
        manifest: list[tuple[str, str]] = []
        octets = 0
        tag_files: list[str] = []
        for object_id in object_ids:
            inventory = store.inventory(object_id)
            raw = store.load_inventory(store.object_root(object_id), object_id=object_id).raw
            folder = bag_directory_name(object_id)
            versions = list(inventory["versions"]) if all_versions else [inventory["head"]]
            for version in versions:
                prefix = f"data/{folder}/{version}" if all_versions else f"data/{folder}"
                for logical, digest in sorted(state_of(inventory, version).items()):
                    rel = f"{prefix}/{logical}"
                    key = store.content_key(object_id, logical, version)
                    octets += _copy_checked(store, key, digest, work / rel)
                    manifest.append((digest, rel))
            tag = f"ocfl/{folder}/inventory.json"
            (work / tag).parent.mkdir(parents=True, exist_ok=True)
            (work / tag).write_bytes(raw)
            tag_files.append(tag)

        (work / "bagit.txt").write_bytes(BAGIT_TXT)
        (work / f"manifest-{DIGEST}.txt").write_text(
            "".join(f"{d}  {_manifest_path(p)}\n" for d, p in manifest), encoding="utf-8"
        )
        info = [
            _label_line(k, v)
            for k, values in bag_info.items()
            if k not in COMPUTED
            for v in ([values] if isinstance(values, str) else values)
        ]
        info += [_label_line("External-Identifier", oid) for oid in object_ids]
        info.append(_label_line("Bagging-Date", date.today().isoformat()))
        info.append(_label_line("Payload-Oxum", f"{octets}.{len(manifest)}"))
        (work / "bag-info.txt").write_text("".join(info), encoding="utf-8")

        tags = ["bagit.txt", "bag-info.txt", f"manifest-{DIGEST}.txt", *tag_files]
        lines = [f"{hashlib.sha512((work / t).read_bytes()).hexdigest()}  {t}\n" for t in tags]
        (work / f"tagmanifest-{DIGEST}.txt").write_text("".join(lines), encoding="utf-8")
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest


def _copy_checked(store: OcflStore, key: str, digest: str, out_path: Path) -> int:
    """Stream one stored file into the bag, proving it is the inventory's bytes."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.new(DIGEST)
    size = 0
    with store.storage.open(key) as src, out_path.open("wb") as out:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if h.hexdigest() != digest:
        raise OcflError("ocfl.damaged", f"{store.url}: {key} does not match its inventory")
    return size

"""An OCFL 1.1 store on one :class:`~spadok.core.storage.base.Storage` root.

Why OCFL: in decades, with spadok long gone, anyone who reads the published
specification can list the objects, their versions and their files, and check
every byte with sha512 - from plain files on a disk or an S3 bucket. We write it
ourselves over the ``Storage`` interface so that it works the same on local
disks and S3, with the storage root layout extension 0004 (hashed n-tuple).

Commit protocol (why a crash at any moment never shows a half-written version):

1. Content files of the new version ``vN/content/...`` are written first (each
   write is atomic: temp + fsync + rename on disk, one PUT on S3). Nothing refers
   to them yet, so they are invisible.
2. ``vN/inventory.json`` and its sidecar are written. Still invisible: readers
   only follow the *root* inventory.
3. The root ``inventory.json`` is replaced in one atomic write: **the commit
   point**. Its sidecar follows; if a crash falls between the two, the root
   inventory is byte-identical to ``vN/inventory.json`` whose sidecar matches,
   so readers accept it and :meth:`OcflStore.recover` rewrites the root sidecar.
4. For a new object the declaration ``0=ocfl_object_1.1`` is written last: an
   object without it does not exist, whatever else its folder holds.

:meth:`OcflStore.recover` rolls back everything not committed: version folders
and content the root inventory does not name, objects without a declaration,
and (on local disk) temp files and empty folders. It runs lazily before every
write to an object. There must be one writer per object at a time (the caller
serialises jobs per object): recovery would otherwise remove another writer's
uncommitted files.

Write-once originals: the content files of ``v1`` (the originals as they
arrived) are written with ``retain=True`` (see :func:`retained`); a storage
root with the write-once option keeps them under a retention period, so that
nobody can delete them early. Nothing else is retained: inventories are
rewritten at every commit, and derivatives and metadata (which may name people
and must stay erasable) come in later versions or under ``metadata/``. A
retained file that a crash left uncommitted cannot be removed by recovery
before its retention ends: recovery leaves it (logged; the audit reports it as
"unexpected"), and a retry of the same ingest writes it again, which a
versioned, locked bucket allows (a new version on top of the retained one).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from spadok.core.preservation import layout
from spadok.core.preservation.hashing import HashingPath, hash_file, hash_key
from spadok.core.storage.base import Storage

log = logging.getLogger(__name__)

ROOT_DECL = "0=ocfl_1.1"
ROOT_DECL_BODY = b"ocfl_1.1\n"
OBJECT_DECL = "0=ocfl_object_1.1"
OBJECT_DECL_BODY = b"ocfl_object_1.1\n"
LAYOUT_KEY = "ocfl_layout.json"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
DIGEST = "sha512"
FIXITY = "sha256"
TEMP_PREFIX = ".tmp-"
METADATA_RECORD = "metadata/record.json"
METADATA_EVENTS = "metadata/events.jsonl"

VERSION_RE = re.compile(r"^v([1-9][0-9]*)$")


def retained(content_path: str) -> bool:
    """Whether a content file is written under retention (the write-once option).

    ``content_path`` is relative to the object root (``v1/content/original/a.obj``).
    The originals are v1's content; v1's ``metadata/`` files are records spadok made.
    """
    return content_path.startswith("v1/content/") and not content_path.startswith(
        "v1/content/metadata/"
    )


def metadata_files(
    record: dict[str, Any], events: Sequence[dict[str, Any]]
) -> list[tuple[bytes, str]]:
    """The descriptive record and the event log as (bytes, logical path) of an object."""
    events_raw = b"".join(
        json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for e in events
    )
    return [(_json(record), METADATA_RECORD), (events_raw, METADATA_EVENTS)]


class OcflError(Exception):
    """A preservation failure with a stable code (``ocfl.<what>``) kept as data."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class LoadedInventory:
    """A root inventory as read from storage, and how far it can be trusted."""

    inventory: dict[str, Any]
    raw: bytes
    digest: str
    sidecar_ok: bool  # False: committed, but the root sidecar is stale (crash after step 3)


@dataclass
class _Addition:
    logical: str
    sha512: str
    sha256: str
    size: int
    path: Path | None = None
    data: bytes | None = None
    claimed: bool = False  # digests given by the caller, checked while copying
    # sha512 "" (with ``claimed``): only the sha256 was given; the copy takes the sha512


# --- serialisation ----------------------------------------------------------------------


def inventory_bytes(inventory: dict[str, Any]) -> bytes:
    return json.dumps(inventory, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def sidecar_bytes(digest: str) -> bytes:
    return f"{digest} {INVENTORY}\n".encode()


def parse_sidecar(data: bytes) -> str | None:
    """The digest a sidecar records, or None if it is not a sidecar."""
    try:
        parts = data.decode("utf-8").split()
    except UnicodeDecodeError:
        return None
    if len(parts) != 2 or parts[1] != INVENTORY:
        return None
    return parts[0].lower()


def version_number(name: str) -> int:
    match = VERSION_RE.match(name)
    if not match:
        raise OcflError("ocfl.invalid_inventory", f"bad version name {name!r}")
    return int(match.group(1))


def check_logical_path(path: str) -> str:
    """Refuse logical paths that OCFL forbids or that could not be a storage key."""
    pure = PurePosixPath(path)
    if (
        not path
        or path.startswith("/")
        or path.endswith("/")
        or pure.as_posix() != path
        or any(p in {"", ".", ".."} or p.startswith(TEMP_PREFIX) for p in path.split("/"))
        or any(c in path for c in "\\\x00\n\r")
    ):
        raise OcflError("ocfl.bad_path", f"invalid logical path {path!r}")
    return path


def check_inventory(inventory: Any, *, object_id: str | None = None) -> dict[str, Any]:
    """The structural checks a reader needs before trusting an inventory."""

    def bad(why: str) -> OcflError:
        return OcflError("ocfl.invalid_inventory", why)

    if not isinstance(inventory, dict):
        raise bad("not a JSON object")
    for field in ("id", "type", "digestAlgorithm", "head", "manifest", "versions"):
        if field not in inventory:
            raise bad(f"no {field}")
    if object_id is not None and inventory["id"] != object_id:
        raise bad(f"id {inventory['id']!r} is not {object_id!r}")
    if inventory["digestAlgorithm"] != DIGEST:
        raise bad(f"digestAlgorithm {inventory['digestAlgorithm']!r}")
    versions = inventory["versions"]
    manifest = inventory["manifest"]
    if not isinstance(versions, dict) or inventory["head"] not in versions:
        raise bad("head is not among the versions")
    numbers = sorted(version_number(v) for v in versions)
    if numbers != list(range(1, len(numbers) + 1)) or version_number(inventory["head"]) != len(
        numbers
    ):
        raise bad("versions are not v1..head")
    for name, version in versions.items():
        for digest in version.get("state", {}):
            if digest not in manifest:
                raise bad(f"{name} state digest {digest[:16]}… not in manifest")
    return inventory


def state_of(inventory: dict[str, Any], version: str | None = None) -> dict[str, str]:
    """logical path -> digest for one version (the head by default)."""
    name = version or inventory["head"]
    if name not in inventory["versions"]:
        raise OcflError("ocfl.no_version", f"{inventory['id']} has no version {name}")
    state = inventory["versions"][name]["state"]
    return {path: digest for digest, paths in state.items() for path in paths}


def _now() -> str:
    return _rfc3339(datetime.now(UTC))


def _rfc3339(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("created must carry a time zone")
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- the store --------------------------------------------------------------------------


class OcflStore:
    """OCFL objects on one storage root (use one store per replica)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.url = storage.url

    # -- storage root ------------------------------------------------------------------

    def init_root(self) -> None:
        """Declare the storage root (idempotent); the declaration goes last."""
        if self.storage.exists(ROOT_DECL):
            layout_file = json.loads(self.storage.read_bytes(LAYOUT_KEY))
            if layout_file.get("extension") != layout.NAME:
                raise OcflError("ocfl.layout", f"{self.url} uses {layout_file.get('extension')}")
            return
        self.storage.put_bytes(layout.CONFIG_KEY, _json(layout.CONFIG))
        self.storage.put_bytes(LAYOUT_KEY, _json(layout.LAYOUT_FILE))
        self.storage.put_bytes(ROOT_DECL, ROOT_DECL_BODY)

    def object_root(self, object_id: str) -> str:
        return layout.object_root(object_id)

    def object_roots(self) -> Iterator[str]:
        """The folder of every declared object (one listing of the root)."""
        suffix = "/" + OBJECT_DECL
        for key in self.storage.list():
            if key.endswith(suffix):
                root = key[: -len(suffix)]
                if layout.object_root_of_key(key) == root:
                    yield root

    def object_ids(self) -> Iterator[str]:
        for root in self.object_roots():
            try:
                yield self.load_inventory(root).inventory["id"]
            except (OcflError, OSError, ValueError):
                log.warning("%s: unreadable inventory in %s", self.url, root, exc_info=True)

    def exists(self, object_id: str) -> bool:
        return self.storage.exists(f"{self.object_root(object_id)}/{OBJECT_DECL}")

    # -- reading -----------------------------------------------------------------------

    def load_inventory(self, root: str, *, object_id: str | None = None) -> LoadedInventory:
        """The committed root inventory of the object in folder ``root``.

        A root sidecar that does not match is accepted only in the one case a
        crash can cause: the inventory equals the head version's copy, whose own
        sidecar matches. Anything else is damage (the audit repairs it).
        """
        try:
            raw = self.storage.read_bytes(f"{root}/{INVENTORY}")
        except FileNotFoundError:
            raise OcflError("ocfl.not_found", f"{self.url}: no inventory in {root}") from None
        digest = hashlib.sha512(raw).hexdigest()
        try:
            recorded = parse_sidecar(self.storage.read_bytes(f"{root}/{SIDECAR}"))
        except FileNotFoundError:
            recorded = None
        try:
            inventory = check_inventory(json.loads(raw), object_id=object_id)
        except ValueError as exc:
            raise OcflError("ocfl.invalid_inventory", f"{root}: {exc}") from None
        if recorded == digest:
            return LoadedInventory(inventory, raw, digest, True)
        head = inventory["head"]
        try:
            head_sidecar = parse_sidecar(self.storage.read_bytes(f"{root}/{head}/{SIDECAR}"))
        except FileNotFoundError:
            head_sidecar = None
        if head_sidecar == digest:
            return LoadedInventory(inventory, raw, digest, False)
        raise OcflError("ocfl.invalid_inventory", f"{self.url}: {root}/{SIDECAR} does not match")

    def inventory(self, object_id: str) -> dict[str, Any]:
        root = self.object_root(object_id)
        if not self.exists(object_id):
            raise OcflError("ocfl.not_found", f"{self.url}: no object {object_id}")
        return self.load_inventory(root, object_id=object_id).inventory

    def state(self, object_id: str, version: str | None = None) -> dict[str, str]:
        """logical path -> sha512 of a version (the latest by default)."""
        return state_of(self.inventory(object_id), version)

    def content_key(self, object_id: str, logical_path: str, version: str | None = None) -> str:
        """The storage key that holds a logical file's bytes (to serve or fetch it)."""
        inventory = self.inventory(object_id)
        digest = state_of(inventory, version).get(logical_path)
        if digest is None:
            raise OcflError("ocfl.no_file", f"{object_id} has no {logical_path}")
        return f"{self.object_root(object_id)}/{inventory['manifest'][digest][0]}"

    def open_logical(
        self, object_id: str, logical_path: str, version: str | None = None
    ) -> AbstractContextManager[BinaryIO]:
        return self.storage.open(self.content_key(object_id, logical_path, version))

    # -- writing -----------------------------------------------------------------------

    def create_object(
        self,
        object_id: str,
        files: Sequence[tuple[Path, str]],
        *,
        message: str,
        user_name: str,
        user_address: str | None = None,
        created: datetime | None = None,
        add_bytes: Sequence[tuple[bytes, str]] = (),
        digests: Mapping[str, str] | None = None,
        fixity: Mapping[str, str] | None = None,
    ) -> str:
        """Make a new object from local files (source path, logical path); returns "v1".

        ``digests`` (logical path -> sha512) are the caller's digests from upload
        time; they are checked against the bytes actually stored. With ``fixity``
        (logical path -> sha256) the file is not read before the copy: the copy
        itself is hashed and checked (the given digests and the size), so a 2 GB
        upload is read once here, not twice. A file with only its sha256 given
        gets its sha512 from that same read.
        """
        root = self.object_root(object_id)
        self.recover(object_id)
        additions = self._additions(files, add_bytes, digests, fixity)
        if self.exists(object_id):
            for a in additions:  # a retry: the sha512s are needed before any copy
                if not a.sha512 and a.path is not None:
                    found, size = hash_file(a.path, (DIGEST, FIXITY))
                    if (found[FIXITY], size) != (a.sha256, a.size):
                        raise OcflError(
                            "ocfl.digest_mismatch", f"{a.logical}: not the digest given"
                        )
                    a.sha512 = found[DIGEST]
            inventory = self.load_inventory(root, object_id=object_id).inventory
            if inventory["head"] == "v1" and state_of(inventory) == {
                a.logical: a.sha512 for a in additions
            }:
                return "v1"  # a retry after a crash that recovery rolled forward
            raise OcflError("ocfl.exists", f"{self.url}: object {object_id} exists")
        meta = _version_meta(message, user_name, user_address, created)
        return self._commit(root, object_id, None, additions, [], meta)

    def add_version(
        self,
        object_id: str,
        *,
        add: Sequence[tuple[Path, str]] = (),
        add_bytes: Sequence[tuple[bytes, str]] = (),
        remove: Sequence[str] = (),
        message: str,
        user_name: str,
        user_address: str | None = None,
        created: datetime | None = None,
        digests: Mapping[str, str] | None = None,
    ) -> str:
        """A new version: the head's files, minus ``remove``, plus (or replaced by) ``add``."""
        root = self.object_root(object_id)
        self.recover(object_id)
        if not self.exists(object_id):
            raise OcflError("ocfl.not_found", f"{self.url}: no object {object_id}")
        previous = self.load_inventory(root, object_id=object_id).inventory
        additions = self._additions(add, add_bytes, digests)
        meta = _version_meta(message, user_name, user_address, created)
        return self._commit(root, object_id, previous, additions, list(remove), meta)

    def write_metadata(
        self,
        object_id: str,
        record: dict[str, Any],
        events: list[dict[str, Any]],
        *,
        message: str,
        user_name: str,
        user_address: str | None = None,
        created: datetime | None = None,
    ) -> str | None:
        """Store the descriptive record and the event log as files of the object.

        With them the catalogue can be rebuilt from storage alone. Returns the new
        version, or None when both are unchanged (no empty versions).
        """
        wanted = metadata_files(record, events)
        if not self.exists(object_id):
            return self.create_object(
                object_id,
                [],
                add_bytes=wanted,
                message=message,
                user_name=user_name,
                user_address=user_address,
                created=created,
            )
        current = self.state(object_id)
        changed = [
            (data, path)
            for data, path in wanted
            if current.get(path) != hashlib.sha512(data).hexdigest()
        ]
        if not changed:
            return None
        return self.add_version(
            object_id,
            add_bytes=changed,
            message=message,
            user_name=user_name,
            user_address=user_address,
            created=created,
        )

    def _additions(
        self,
        files: Sequence[tuple[Path, str]],
        blobs: Sequence[tuple[bytes, str]],
        digests: Mapping[str, str] | None,
        fixity: Mapping[str, str] | None = None,
    ) -> list[_Addition]:
        """Hash every new file once, before anything is written (for deduplication).

        A file with a claimed sha256 (and perhaps sha512) is not read here: its
        claim is taken for deduplication and checked while it is copied; without
        a claimed sha512, the copy takes it (:meth:`_copy_unhashed`).
        """
        out: list[_Addition] = []
        for path, logical in files:
            check_logical_path(logical)
            given = ((digests or {}).get(logical), (fixity or {}).get(logical))
            if given[1]:
                out.append(
                    _Addition(
                        logical,
                        (given[0] or "").lower(),
                        given[1].lower(),
                        path.stat().st_size,
                        path=path,
                        claimed=True,
                    )
                )
                continue
            found, size = hash_file(path, (DIGEST, FIXITY))
            out.append(_Addition(logical, found[DIGEST], found[FIXITY], size, path=path))
        for data, logical in blobs:
            check_logical_path(logical)
            out.append(
                _Addition(
                    logical,
                    hashlib.sha512(data).hexdigest(),
                    hashlib.sha256(data).hexdigest(),
                    len(data),
                    data=data,
                )
            )
        seen: set[str] = set()
        for a in out:
            if a.logical in seen:
                raise OcflError("ocfl.bad_path", f"{a.logical} given twice")
            seen.add(a.logical)
            claimed = (digests or {}).get(a.logical)
            if claimed is not None and a.sha512 and claimed.lower() != a.sha512:
                raise OcflError("ocfl.digest_mismatch", f"{a.logical}: not the digest given")
        return out

    def _commit(
        self,
        root: str,
        object_id: str,
        previous: dict[str, Any] | None,
        additions: list[_Addition],
        remove: list[str],
        meta: dict[str, Any],
    ) -> str:
        version = "v1" if previous is None else f"v{version_number(previous['head']) + 1}"
        inventory: dict[str, Any] = (
            copy.deepcopy(previous)
            if previous is not None
            else {
                "id": object_id,
                "type": INVENTORY_TYPE,
                "digestAlgorithm": DIGEST,
                "head": version,
                "contentDirectory": "content",
                "manifest": {},
                "fixity": {FIXITY: {}},
                "versions": {},
            }
        )
        state = state_of(previous) if previous is not None else {}
        for logical in remove:
            if logical not in state:
                raise OcflError("ocfl.no_file", f"{object_id} has no {logical} to remove")
            del state[logical]
        _check_no_file_folder_clash({**state, **{a.logical: a.sha512 for a in additions}})
        copied = {a.logical for a in additions if not a.sha512}
        for a in additions:
            if not a.sha512:  # only its sha256 was given: the copy takes the sha512
                self._copy_unhashed(root, f"{version}/content/{a.logical}", a)
        for a in additions:
            state[a.logical] = a.sha512

        manifest: dict[str, list[str]] = inventory["manifest"]
        fixity: dict[str, list[str]] = inventory.setdefault("fixity", {}).setdefault(FIXITY, {})
        for a in additions:
            content_path = f"{version}/content/{a.logical}"
            if a.logical in copied:
                if a.sha512 in manifest:  # these bytes are kept already: a copy too many
                    self._delete_uncommitted(f"{root}/{content_path}")
                    continue
                manifest[a.sha512] = [content_path]
                fixity.setdefault(a.sha256, []).append(content_path)
                continue
            if a.sha512 in manifest:
                if a.claimed and a.path is not None:  # not copied, so not checked yet
                    found, size = hash_file(a.path, (DIGEST,))
                    if (found[DIGEST], size) != (a.sha512, a.size):
                        raise OcflError(
                            "ocfl.digest_mismatch", f"{a.logical}: not the digest given"
                        )
                continue  # forward delta: these bytes are already kept
            self._put_verified(f"{root}/{content_path}", a, retain=retained(content_path))
            manifest[a.sha512] = [content_path]
            fixity.setdefault(a.sha256, []).append(content_path)

        by_digest: dict[str, list[str]] = {}
        for logical, digest in state.items():
            by_digest.setdefault(digest, []).append(logical)
        inventory["head"] = version
        inventory["versions"][version] = {
            **meta,
            "state": {d: sorted(paths) for d, paths in sorted(by_digest.items())},
        }
        raw = inventory_bytes(inventory)
        side = sidecar_bytes(hashlib.sha512(raw).hexdigest())
        self.storage.put_bytes(f"{root}/{version}/{INVENTORY}", raw)
        self.storage.put_bytes(f"{root}/{version}/{SIDECAR}", side)
        self.storage.put_bytes(f"{root}/{INVENTORY}", raw)  # the commit point
        self.storage.put_bytes(f"{root}/{SIDECAR}", side)
        if previous is None:
            self.storage.put_bytes(f"{root}/{OBJECT_DECL}", OBJECT_DECL_BODY)
        return version

    def _put_verified(self, key: str, a: _Addition, *, retain: bool = False) -> None:
        """Store one content file and prove the stored bytes are the ones hashed."""
        if a.data is not None:
            self.storage.put_bytes(key, a.data, retain=retain)
            return
        assert a.path is not None
        source = HashingPath.of(a.path, DIGEST)
        self.storage.put_file(key, source, retain=retain)
        copied = source.copied_digest()
        if copied is None:  # the backend did not read through our path: read the copy back
            copied = (hash_key(self.storage, key)[0][DIGEST], self.storage.size(key))
        if copied != (a.sha512, a.size):
            self._delete_uncommitted(key)
            if a.claimed:
                raise OcflError("ocfl.digest_mismatch", f"{a.logical}: not the digest given")
            raise OcflError("ocfl.changed_during_copy", f"{a.path} changed while it was stored")

    def _copy_unhashed(self, root: str, content_path: str, a: _Addition) -> None:
        """Store a file whose sha256 was given, taking its sha512 from the same read.

        The copy is checked against the given sha256 and size; ``a.sha512`` is then
        the stored bytes' sha512 (the manifest's key).
        """
        assert a.path is not None
        key = f"{root}/{content_path}"
        source = HashingPath.of(a.path, DIGEST, also=(FIXITY,))
        self.storage.put_file(key, source, retain=retained(content_path))
        copied = source.copied_digests()
        if copied is None:  # the backend did not read through our path: read the copy back
            copied = hash_key(self.storage, key, (DIGEST, FIXITY))
        found, size = copied
        if (found[FIXITY], size) != (a.sha256, a.size):
            self._delete_uncommitted(key)
            raise OcflError("ocfl.digest_mismatch", f"{a.logical}: not the digest given")
        a.sha512 = found[DIGEST]

    def _delete_uncommitted(self, key: str) -> bool:
        """Delete a file no inventory names; a retained one is left (and logged)."""
        try:
            self.storage.delete(key)
        except PermissionError as exc:
            log.warning(
                "%s: %s is uncommitted but retained, so it stays until its retention ends"
                " (the audit reports it as unexpected): %s",
                self.url,
                key,
                exc,
            )
            return False
        return True

    # -- recovery ----------------------------------------------------------------------

    def recover(self, object_id: str | None = None) -> list[str]:
        """Roll back whatever a crash left uncommitted; returns the keys removed.

        With an ``object_id`` only that object is looked at (cheap: run before every
        write). Without, the whole root: run it when no writer is active.
        """
        if object_id is not None:
            return self._recover_object(self.object_root(object_id))
        by_root: dict[str, list[str]] = {}
        for key in self.storage.list():
            root = layout.object_root_of_key(key)
            if root is not None:
                by_root.setdefault(root, []).append(key)
        removed: list[str] = []
        for root, keys in sorted(by_root.items()):
            removed += self._recover_object(root, keys)
        self._clean_local(None)
        return removed

    def recover_folder(self, root: str) -> list[str]:
        """:meth:`recover` for the object in storage folder ``root`` (id unknown)."""
        return self._recover_object(root)

    def _recover_object(self, root: str, keys: list[str] | None = None) -> list[str]:
        if keys is None:
            keys = list(self.storage.list(root))
        removed: list[str] = []
        declared = f"{root}/{OBJECT_DECL}" in keys
        try:
            loaded: LoadedInventory | None = self.load_inventory(root)
        except OcflError:
            loaded = None
        if loaded is None and not declared:
            if any(_is_later_version_key(root, k) for k in keys):
                log.warning("%s: %s lost its declaration; left for the audit", self.url, root)
                return []
            removed = sorted(keys)  # a half-made new object: never visible, so drop it
        elif loaded is None:
            log.warning("%s: %s has a bad inventory; left for the audit", self.url, root)
            return []
        else:
            if not declared:  # crashed after the commit point: finish the commit
                self.storage.put_bytes(f"{root}/{OBJECT_DECL}", OBJECT_DECL_BODY)
            if not loaded.sidecar_ok:
                self.storage.put_bytes(f"{root}/{SIDECAR}", sidecar_bytes(loaded.digest))
            keep = committed_keys(root, loaded.inventory)
            for key in keys:
                first = key[len(root) + 1 :].split("/", 1)[0]
                if VERSION_RE.match(first) and key not in keep:
                    removed.append(key)
        removed = [key for key in removed if self._delete_uncommitted(key)]
        if removed:
            log.info(
                "%s: recovery removed %d uncommitted files in %s", self.url, len(removed), root
            )
        self._clean_local(root)
        return removed

    def _clean_local(self, root: str | None) -> None:
        """On local disk: drop temp files a killed write left, and empty folders."""
        base = self.storage.local_path(root or ROOT_DECL)
        if base is None:
            return
        top = base.parent if root is None else base
        if root is not None:
            storage_root = self.storage.local_path(ROOT_DECL)
            assert storage_root is not None
            stop = storage_root.parent
        else:
            stop = top
        if not top.is_dir():
            return
        for dirpath, dirs, files in os.walk(top, topdown=False):
            for name in files:
                if name.startswith(TEMP_PREFIX):
                    Path(dirpath, name).unlink(missing_ok=True)
            for name in dirs:
                _rmdir_if_empty(Path(dirpath, name))
        # and the object folder and its tuple folders, when the object went away
        current = top
        while current != stop and stop in current.parents:
            if not _rmdir_if_empty(current):
                break
            current = current.parent


def committed_keys(root: str, inventory: dict[str, Any]) -> set[str]:
    """Every key a committed object must have (content, declarations, inventories)."""
    keys = {f"{root}/{OBJECT_DECL}", f"{root}/{INVENTORY}", f"{root}/{SIDECAR}"}
    for version in inventory["versions"]:
        keys.add(f"{root}/{version}/{INVENTORY}")
        keys.add(f"{root}/{version}/{SIDECAR}")
    for paths in inventory["manifest"].values():
        keys.update(f"{root}/{p}" for p in paths)
    return keys


def _is_later_version_key(root: str, key: str) -> bool:
    """A key of a version after v1: only an object that once existed has one."""
    first = key[len(root) + 1 :].split("/", 1)[0]
    return bool(VERSION_RE.match(first)) and first != "v1"


def _check_no_file_folder_clash(state: dict[str, str]) -> None:
    """OCFL forbids a logical path that is both a file and a folder (E095)."""
    folders = {str(parent) for path in state for parent in PurePosixPath(path).parents}
    clash = sorted(folders & state.keys())
    if clash:
        raise OcflError("ocfl.bad_path", f"{clash[0]} would be both a file and a folder")


def _version_meta(
    message: str, user_name: str, user_address: str | None, created: datetime | None
) -> dict[str, Any]:
    user: dict[str, str] = {"name": user_name}
    if user_address:
        user["address"] = user_address
    return {
        "created": _rfc3339(created) if created is not None else _now(),
        "message": message,
        "user": user,
    }


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def _rmdir_if_empty(path: Path) -> bool:
    try:
        path.rmdir()
    except OSError:
        return False
    return True

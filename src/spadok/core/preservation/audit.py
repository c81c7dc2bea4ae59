"""Fixity audit of OCFL storage roots, repair from the replicas, and replica catch-up.

Why: bits rot, disks lie, buckets get emptied by mistake. Every content file of
every object of every root is read back and hashed with sha512 against the
inventories; a bad copy is restored from a root where the same bytes are good
(proved by digest while copying) and checked again. Hashing runs on a thread
pool: hashlib releases the GIL, so N threads hash about N files at once.

Write-once roots (S3 Object Lock): an original deleted behind spadok's back
with a plain DELETE only got a delete marker; the retained version is still in
the bucket, but listings and reads no longer see it. The audit treats it like
any missing file: reported "missing" in that root and restored from another
root (the restored copy is retained again). Recovering the old version by its
id is left to a human (it needs the bucket's version history, which spadok
does not read). Retained files that a crashed ingest left behind, of an object
that exists on no root, are reported "unexpected" (they cannot be removed
before their retention ends).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spadok.core.preservation import layout
from spadok.core.preservation.hashing import CHUNK, HashingPath, hash_key
from spadok.core.preservation.ocfl import (
    DIGEST,
    INVENTORY,
    LAYOUT_KEY,
    OBJECT_DECL,
    OBJECT_DECL_BODY,
    ROOT_DECL,
    SIDECAR,
    TEMP_PREFIX,
    LoadedInventory,
    OcflError,
    OcflStore,
    committed_keys,
    parse_sidecar,
    retained,
    sidecar_bytes,
    version_number,
)

log = logging.getLogger(__name__)

# The kinds of problem, as stable codes (scripts and the site match on them).
DAMAGED = "damaged"  # a file's digest is not the inventory's
MISSING = "missing"  # a file the inventory names is absent
UNREADABLE = "unreadable"  # reading the file failed
UNEXPECTED = "unexpected"  # a file nobody refers to (not repaired: it may be evidence)
UNREACHABLE = "unreachable"  # the root could not be listed: nothing in it was checked
INVALID_INVENTORY = "invalid_inventory"  # unparsable, or its sidecar does not match
MISSING_OBJECT = "missing_object"  # another root has the object, this one not at all
OUTDATED_OBJECT = "outdated_object"  # another root has later versions
DIVERGED_OBJECT = "diverged_object"  # roots disagree on a version's content: needs a human


@dataclass
class Issue:
    root: str
    object_id: str
    path: str
    kind: str
    detail: str
    repaired: bool = False


@dataclass
class AuditReport:
    roots: list[str]
    issues: list[Issue] = field(default_factory=list)
    objects_checked: int = 0
    files_checked: int = 0
    bytes_checked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Nothing is wrong now (every issue found was repaired)."""
        return all(i.repaired for i in self.issues)

    @property
    def throughput_mb_s(self) -> float:
        return self.bytes_checked / 1e6 / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "roots": self.roots,
            "objects_checked": self.objects_checked,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 3),
            "throughput_mb_s": round(self.throughput_mb_s, 1),
            "issues": [asdict(i) for i in self.issues],
        }


@dataclass
class _Object:
    """What one root holds of one object."""

    root: str
    keys: set[str] = field(default_factory=set)
    loaded: LoadedInventory | None = None

    @property
    def head(self) -> int:
        return version_number(self.loaded.inventory["head"]) if self.loaded else 0


@dataclass
class _Scan:
    store: OcflStore
    objects: dict[str, _Object] = field(default_factory=dict)
    other_keys: list[str] = field(default_factory=list)
    error: str = ""  # the root could not be listed (a replica that is down)


def _scan(store: OcflStore) -> _Scan:
    scan = _Scan(store)
    try:
        keys = list(store.storage.list())
    except OSError as exc:
        log.warning("storage root %s is unreachable: %s", store.url.split("?", 1)[0], exc)
        scan.error = str(exc)
        return scan
    for key in keys:
        if key.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
            continue
        root = layout.object_root_of_key(key)
        if root is None:
            scan.other_keys.append(key)
        else:
            scan.objects.setdefault(root, _Object(root)).keys.add(key)
    return scan


def _object_id(scans: list[_Scan], root: str) -> str:
    for scan in scans:
        obj = scan.objects.get(root)
        if obj is not None and obj.loaded is not None:
            return str(obj.loaded.inventory["id"])
    return root


def _consistent(low: dict[str, Any], high: dict[str, Any]) -> bool:
    """``high`` continues ``low``: same versions and content up to low's head."""
    return all(high["versions"].get(v) == low["versions"][v] for v in low["versions"]) and all(
        high["manifest"].get(d) == p for d, p in low["manifest"].items()
    )


def audit(stores: list[OcflStore], *, workers: int = 2, repair: bool = False) -> AuditReport:
    """Check every file of every object on every root; with ``repair``, mend from the others."""
    started = time.perf_counter()
    report = AuditReport(roots=[s.url for s in stores])
    scans = []
    for scan in (_scan(s) for s in stores):
        if scan.error:  # reported, and left out: its objects are not "missing"
            report.issues.append(Issue(scan.store.url, "", "", UNREACHABLE, scan.error))
        else:
            scans.append(scan)
    jobs: list[tuple[_Scan, str, str, str]] = []  # scan, object root, key, expected digest

    for scan in scans:
        for key in scan.other_keys:
            if key not in (ROOT_DECL, LAYOUT_KEY) and not key.startswith("extensions/"):
                report.issues.append(Issue(scan.store.url, "", key, UNEXPECTED, "not OCFL"))
        for root, obj in scan.objects.items():
            jobs += _check_object(scan, root, obj, report)
    _report_leftovers(scans, report)

    all_roots = sorted({r for scan in scans for r in scan.objects})
    report.objects_checked = len(all_roots)
    _compare_replicas(scans, all_roots, report)

    def size_of(job: tuple[_Scan, str, str, str]) -> int:
        local = job[0].store.storage.local_path(job[2])
        return local.stat().st_size if local is not None else 0

    jobs.sort(key=size_of, reverse=True)  # big files first: the pool ends together

    def run(job: tuple[_Scan, str, str, str]) -> tuple[Issue | None, int]:
        scan, root, key, expected = job
        try:
            found, size = hash_key(scan.store.storage, key)
        except OSError as exc:
            oid = _object_id(scans, root)
            return Issue(scan.store.url, oid, key, UNREADABLE, str(exc)), 0
        if found[DIGEST] != expected:
            oid = _object_id(scans, root)
            detail = f"sha512 {found[DIGEST][:16]}…, inventory {expected[:16]}…"
            return Issue(scan.store.url, oid, key, DAMAGED, detail), size
        return None, size

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for issue, size in pool.map(run, jobs):
            report.files_checked += 1
            report.bytes_checked += size
            if issue is not None:
                report.issues.append(issue)

    if repair:
        _repair(scans, report)
    report.seconds = time.perf_counter() - started
    return report


def _check_object(scan: _Scan, root: str, obj: _Object, report: AuditReport) -> list[Any]:
    """Inventories, declaration and file list of one object; returns the files to hash."""
    url = scan.store.url
    storage = scan.store.storage
    if _never_committed(root, obj):
        return []  # judged once every root is scanned (_report_leftovers)
    try:
        obj.loaded = scan.store.load_inventory(root)
    except (OcflError, OSError, ValueError) as exc:
        kind = MISSING if f"{root}/{INVENTORY}" not in obj.keys else INVALID_INVENTORY
        report.issues.append(Issue(url, root, f"{root}/{INVENTORY}", kind, str(exc)))
        return []
    inv = obj.loaded.inventory
    oid = str(inv["id"])
    if not obj.loaded.sidecar_ok:
        report.issues.append(
            Issue(url, oid, f"{root}/{SIDECAR}", INVALID_INVENTORY, "sidecar does not match")
        )
    if f"{root}/{OBJECT_DECL}" not in obj.keys:
        report.issues.append(Issue(url, oid, f"{root}/{OBJECT_DECL}", MISSING, "no declaration"))
    for version in inv["versions"]:
        key = f"{root}/{version}/{INVENTORY}"
        if key not in obj.keys or f"{root}/{version}/{SIDECAR}" not in obj.keys:
            report.issues.append(Issue(url, oid, key, MISSING, "version inventory missing"))
            continue
        try:
            raw = storage.read_bytes(key)
            recorded = parse_sidecar(storage.read_bytes(f"{root}/{version}/{SIDECAR}"))
        except OSError as exc:
            report.issues.append(Issue(url, oid, key, UNREADABLE, str(exc)))
            continue
        if recorded != hashlib.sha512(raw).hexdigest():
            report.issues.append(Issue(url, oid, key, INVALID_INVENTORY, "sidecar does not match"))
        elif version == inv["head"] and raw != obj.loaded.raw:
            report.issues.append(
                Issue(url, oid, key, INVALID_INVENTORY, "head copy differs from root inventory")
            )
    expected = committed_keys(root, inv)
    jobs = []
    for digest, paths in inv["manifest"].items():
        for path in paths:
            key = f"{root}/{path}"
            if key in obj.keys:
                jobs.append((scan, root, key, digest))
            else:
                report.issues.append(Issue(url, oid, key, MISSING, "content file missing"))
    for key in sorted(obj.keys - expected):
        if key[len(root) + 1 :].startswith("extensions/"):
            continue
        first = key[len(root) + 1 :].split("/", 1)[0]
        detail = "not in the inventory"
        try:
            if version_number(first) > version_number(inv["head"]):
                detail = "left by an interrupted write (recover() removes it)"
        except OcflError:
            pass
        report.issues.append(Issue(url, oid, key, UNEXPECTED, detail))
    return jobs


def _never_committed(root: str, obj: _Object) -> bool:
    """Only v1 files, no inventory and no declaration: what a crashed new object leaves."""
    return (
        f"{root}/{INVENTORY}" not in obj.keys
        and f"{root}/{OBJECT_DECL}" not in obj.keys
        and all(k[len(root) + 1 :].startswith("v1/") for k in obj.keys)
    )


def _report_leftovers(scans: list[_Scan], report: AuditReport) -> None:
    """Files of never-committed objects: missing here if another root has the object."""
    for scan in scans:
        for root, obj in scan.objects.items():
            if obj.loaded is not None or not _never_committed(root, obj):
                continue
            elsewhere = any(
                s is not scan and root in s.objects and s.objects[root].loaded is not None
                for s in scans
            )
            if elsewhere:
                report.issues.append(
                    Issue(scan.store.url, root, f"{root}/{INVENTORY}", MISSING, "no inventory")
                )
                continue
            for key in sorted(obj.keys):
                report.issues.append(
                    Issue(
                        scan.store.url,
                        root,
                        key,
                        UNEXPECTED,
                        "left by an interrupted ingest (recover() removes it unless retained)",
                    )
                )


def _compare_replicas(scans: list[_Scan], roots: list[str], report: AuditReport) -> None:
    if len(scans) < 2:
        return
    for root in roots:
        oid = _object_id(scans, root)
        best = _best(scans, root)
        for scan in scans:
            obj = scan.objects.get(root)
            if obj is None:
                report.issues.append(
                    Issue(scan.store.url, oid, root, MISSING_OBJECT, "absent from this root")
                )
            elif best is not None and obj.loaded is not None and best.loaded is not None:
                mine, theirs = obj.loaded.inventory, best.loaded.inventory
                if not _consistent(mine, theirs):
                    report.issues.append(
                        Issue(scan.store.url, oid, root, DIVERGED_OBJECT, "roots disagree")
                    )
                elif obj.head < best.head:
                    detail = f"head {mine['head']}, another root has {theirs['head']}"
                    report.issues.append(Issue(scan.store.url, oid, root, OUTDATED_OBJECT, detail))


def _best(scans: list[_Scan], root: str) -> _Object | None:
    """The copy with the latest readable inventory (the first root wins a tie)."""
    found = [s.objects[root] for s in scans if root in s.objects and s.objects[root].loaded]
    return max(found, key=lambda o: o.head) if found else None


# --- repair ------------------------------------------------------------------------------


def _repair(scans: list[_Scan], report: AuditReport) -> None:
    by_url = {s.store.url: s for s in scans}
    synced: set[tuple[str, str]] = set()
    for issue in report.issues:
        if issue.kind in (UNEXPECTED, DIVERGED_OBJECT, UNREACHABLE):
            continue
        scan = by_url[issue.root]
        root = issue.path if issue.kind in (MISSING_OBJECT, OUTDATED_OBJECT) else None
        if root is None:
            root = layout.object_root_of_key(issue.path) or issue.path
        try:
            if issue.kind in (DAMAGED, UNREADABLE) or (
                issue.kind == MISSING and "/content/" in issue.path
            ):
                issue.repaired = _repair_file(scans, scan, root, issue.path)
            else:
                if (scan.store.url, root) not in synced:
                    synced.add((scan.store.url, root))
                    _repair_object(scans, scan, root)
                issue.repaired = _object_sound(scan.store, root)
        except (OSError, OcflError) as exc:
            log.warning("repair of %s in %s failed: %s", issue.path, issue.root, exc)
            issue.repaired = False
        if not issue.repaired:
            issue.detail += " (not repaired: no good copy on another root)"


def _expected_digest(scans: list[_Scan], root: str, key: str) -> str | None:
    path = key[len(root) + 1 :]
    for scan in scans:
        obj = scan.objects.get(root)
        if obj and obj.loaded:
            for digest, paths in obj.loaded.inventory["manifest"].items():
                if path in paths:
                    return str(digest)
    return None


def _repair_file(scans: list[_Scan], scan: _Scan, root: str, key: str) -> bool:
    digest = _expected_digest(scans, root, key)
    if digest is None:
        return False
    for donor in scans:
        if donor is scan or key not in donor.objects.get(root, _Object(root)).keys:
            continue
        if copy_verified(donor.store, scan.store, key, digest):
            return hash_key(scan.store.storage, key)[0][DIGEST] == digest
    return False


def _repair_object(scans: list[_Scan], scan: _Scan, root: str) -> None:
    """Bring one root's copy of an object level with the best copy elsewhere."""
    best = _best([s for s in scans if s is not scan], root)
    mine = scan.objects.get(root)
    if best is not None and best.loaded is not None:
        donor = next(s for s in scans if s.objects.get(root) is best)
        if mine is None or mine.loaded is None or mine.head <= best.head:
            sync_object(donor.store, scan.store, root, best.loaded, verify_existing=True)
            return
    # No better copy elsewhere: a stale root sidecar can still be rebuilt locally.
    if mine is not None and mine.loaded is not None:
        storage = scan.store.storage
        storage.put_bytes(f"{root}/{SIDECAR}", sidecar_bytes(mine.loaded.digest))
        if f"{root}/{OBJECT_DECL}" not in mine.keys:
            storage.put_bytes(f"{root}/{OBJECT_DECL}", OBJECT_DECL_BODY)


def _object_sound(store: OcflStore, root: str) -> bool:
    """Check again after a repair: inventories sound and every file present and right."""
    try:
        loaded = store.load_inventory(root)
    except (OcflError, OSError):
        return False
    storage = store.storage
    if not loaded.sidecar_ok or not storage.exists(f"{root}/{OBJECT_DECL}"):
        return False
    for version in loaded.inventory["versions"]:
        raw = storage.read_bytes(f"{root}/{version}/{INVENTORY}")
        side = parse_sidecar(storage.read_bytes(f"{root}/{version}/{SIDECAR}"))
        if side != hashlib.sha512(raw).hexdigest():
            return False
    for digest, paths in loaded.inventory["manifest"].items():
        for path in paths:
            try:
                if hash_key(storage, f"{root}/{path}")[0][DIGEST] != digest:
                    return False
            except FileNotFoundError:
                return False
    return True


def copy_verified(
    src: OcflStore, dst: OcflStore, key: str, digest: str, *, retain: bool | None = None
) -> bool:
    """Copy one file between roots only if the bytes copied have ``digest``.

    ``retain`` (by default: when the key is an original, see :func:`ocfl.retained`)
    writes the copy under the destination's retention, as the ingest did.
    """
    if retain is None:
        root = layout.object_root_of_key(key)
        retain = root is not None and retained(key[len(root) + 1 :])
    local = src.storage.local_path(key)
    if local is not None:
        source = HashingPath.of(local, DIGEST)
        if hash_key(src.storage, key)[0][DIGEST] != digest:
            return False
        dst.storage.put_file(key, source, retain=retain)
        copied = source.copied_digest()
        if copied is not None and copied[0] != digest:
            try:
                dst.storage.delete(key)
            except PermissionError:
                log.warning("%s: a bad copy of %s is retained; left in place", dst.url, key)
            return False
        return True
    with tempfile.TemporaryDirectory(prefix="spadok-copy-") as tmp:
        path = Path(tmp) / "file"
        h = hashlib.new(DIGEST)
        with src.storage.open(key) as fh, path.open("wb") as out:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != digest:
            return False
        dst.storage.put_file(key, path, retain=retain)
    return True


def sync_object(
    src: OcflStore,
    dst: OcflStore,
    root: str,
    loaded: LoadedInventory,
    *,
    verify_existing: bool = False,
) -> int:
    """Make ``dst``'s copy of an object equal ``src``'s, with the commit protocol.

    Content first, then version inventories, then the root inventory and the
    declaration: a sync that is cut off leaves ``dst`` at its previous state.
    Returns the number of files copied.
    """
    dst.recover_folder(root)
    inv = loaded.inventory
    storage = dst.storage
    copied = 0
    for digest, paths in inv["manifest"].items():
        for path in paths:
            key = f"{root}/{path}"
            present = storage.exists(key)
            if present and (not verify_existing or hash_key(storage, key)[0][DIGEST] == digest):
                continue
            if not copy_verified(src, dst, key, digest):
                raise OcflError("ocfl.no_good_copy", f"{src.url}: {key} is damaged too")
            copied += 1
    for version in inv["versions"]:
        for name in (INVENTORY, SIDECAR):
            key = f"{root}/{version}/{name}"
            data = src.storage.read_bytes(key)
            if not storage.exists(key) or storage.read_bytes(key) != data:
                storage.put_bytes(key, data)
                copied += 1
    storage.put_bytes(f"{root}/{INVENTORY}", loaded.raw)
    storage.put_bytes(f"{root}/{SIDECAR}", sidecar_bytes(loaded.digest))
    if not storage.exists(f"{root}/{OBJECT_DECL}"):
        storage.put_bytes(f"{root}/{OBJECT_DECL}", OBJECT_DECL_BODY)
    return copied + 2


@dataclass
class SyncAction:
    root: str
    object_id: str
    action: str  # "copied", "updated", "diverged" (left alone), "failed"
    detail: str


def sync_replicas(stores: list[OcflStore]) -> list[SyncAction]:
    """Copy to every root the objects and versions it lacks (a replica that was down).

    Only what is missing is copied, each file proved by digest; objects whose
    roots disagree are left alone and reported (the audit says more).
    """
    # A root that cannot be listed is skipped (the audit reports it), not filled blindly.
    scans = [scan for scan in (_scan(s) for s in stores) if not scan.error]
    actions: list[SyncAction] = []
    for scan in scans:
        for root, obj in scan.objects.items():
            try:
                obj.loaded = scan.store.load_inventory(root)
            except (OcflError, OSError, ValueError):
                obj.loaded = None
    for root in sorted({r for s in scans for r in s.objects}):
        best = _best(scans, root)
        if best is None or best.loaded is None:
            continue
        source = next(s for s in scans if s.objects.get(root) is best)
        for scan in scans:
            if scan is source:
                continue
            mine = scan.objects.get(root)
            oid = str(best.loaded.inventory["id"])
            if mine is not None and mine.loaded is not None:
                if not _consistent(mine.loaded.inventory, best.loaded.inventory):
                    actions.append(SyncAction(scan.store.url, oid, "diverged", "left alone"))
                    continue
                if mine.head == best.head:
                    continue
            action = "updated" if mine is not None and mine.loaded is not None else "copied"
            try:
                n = sync_object(source.store, scan.store, root, best.loaded)
            except (OSError, OcflError) as exc:
                actions.append(SyncAction(scan.store.url, oid, "failed", str(exc)))
                continue
            detail = f"{n} files from {source.store.url} to {best.loaded.inventory['head']}"
            actions.append(SyncAction(scan.store.url, oid, action, detail))
    return actions


def default_workers() -> int:
    return min(8, os.cpu_count() or 2)

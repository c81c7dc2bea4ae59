"""The preservation write path: OCFL objects, replicas, events, audits.

Each capture is one OCFL object whose id is the capture id:

* ``v1`` holds the originals under ``original/`` exactly as they arrived,
  and ``metadata/arrival.json`` (names, sizes, digests, time);
* later versions add the derivatives under ``derivatives/<policy>/``, the
  descriptive ``metadata/record.json`` and the event log
  ``metadata/events.jsonl``, so the catalogue can be rebuilt from storage.

Writes go to the primary root first; the replicas are brought level right
after, and a replica that was down catches up at the next audit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from spadok import __version__
from spadok.core.preservation import OcflStore, audit, sync_replicas
from spadok.core.preservation.audit import UNREACHABLE, sync_object
from spadok.core.preservation.ocfl import OcflError, metadata_files, state_of
from spadok.preservation.models import AuditRun, EventType, Outcome, PreservationEvent

log = logging.getLogger(__name__)

AGENT = f"spadok {__version__}"


def agent_address() -> str:
    """The OCFL version's user address: the archive's contact, else spadok's URN."""
    email = settings.SPADOK.contact_email
    return f"mailto:{email}" if email else "urn:spadok:software"


ORIGINAL_DIR = "original/"
ARRIVAL = "metadata/arrival.json"

_STORES: dict[tuple[str, ...], list[OcflStore]] = {}


def stores() -> list[OcflStore]:
    """One OCFL store per storage root, primary first; roots are declared on first use."""
    from spadok.catalogue.storage import get_storage

    urls = tuple(settings.SPADOK.storage_urls)
    if urls not in _STORES:
        found = []
        for root in get_storage().roots:
            store = OcflStore(root)
            try:
                store.init_root()
            except OSError as exc:
                log.warning("storage root %s is unreachable: %s", _plain(root.url), exc)
            found.append(store)
        _STORES.clear()
        _STORES[urls] = found
    return _STORES[urls]


def reset_stores() -> None:
    _STORES.clear()


def primary() -> OcflStore:
    return stores()[0]


# -- events -------------------------------------------------------------------------


def event_record(
    *,
    object_id: str,
    event_type: str,
    outcome: str = Outcome.SUCCESS,
    detail: str = "",
    data: dict[str, Any] | None = None,
    agent: str = AGENT,
    when: datetime | None = None,
) -> PreservationEvent:
    return PreservationEvent.objects.create(
        object_id=object_id,
        event_type=event_type,
        outcome=outcome,
        detail=detail[:2000],
        data=data or {},
        agent=agent[:200],
        occurred_at=when or timezone.now(),
    )


def events_of(object_id: str) -> list[PreservationEvent]:
    return list(PreservationEvent.objects.filter(object_id=object_id).order_by("occurred_at", "id"))


# -- objects ------------------------------------------------------------------------


def object_create(
    *,
    object_id: str,
    originals: list[tuple[Path, str]],
    arrival: dict[str, Any],
    digests: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Keep the originals as v1 of a new object; returns each original's stored facts.

    ``originals`` are (local path, relative name). The digests in the result are
    the inventory's, computed from the bytes as they were written. ``digests``
    (relative name -> {"sha256": .., and perhaps "sha512": ..}), from when the
    files arrived, spare the store its own read before copying: it checks them
    and the size while it copies (taking the sha512 there if none is given),
    and refuses a file that differs.
    """
    store = primary()
    given = digests or {}
    files = [(path, ORIGINAL_DIR + rel) for path, rel in originals]
    arrival_raw = json.dumps(arrival, ensure_ascii=False, indent=1, sort_keys=True).encode()
    try:
        store.create_object(
            object_id,
            files,
            add_bytes=[(arrival_raw, ARRIVAL)],
            message="ingest: the originals as they arrived",
            user_name=AGENT,
            user_address=agent_address(),
            digests={
                ORIGINAL_DIR + rel: d["sha512"] for rel, d in given.items() if d.get("sha512")
            },
            fixity={ORIGINAL_DIR + rel: d["sha256"] for rel, d in given.items() if d.get("sha256")},
        )
    except OcflError as exc:
        if exc.code != "ocfl.exists" or not _written_before(store, object_id, files, given):
            raise
        # An earlier try wrote this very object and died before the catalogue knew:
        # it is what this try would write (its first arrival note is kept).
        log.warning("object %s was written by an earlier try; keeping it", object_id)
    except OSError as exc:
        from spadok.core.errors import SpadokError

        raise SpadokError("storage.unavailable", f"{_plain(store.url)}: {exc}") from exc
    return _facts(store, object_id, [ORIGINAL_DIR + rel for _p, rel in originals])


def _written_before(
    store: OcflStore,
    object_id: str,
    files: list[tuple[Path, str]],
    given: dict[str, dict[str, str]],
) -> bool:
    """The object's v1 holds exactly these originals, proved by their arrival digests.

    An arrival sha512 is compared with v1's state; an arrival sha256 alone (an
    upload's) with the fixity block's sha256 of the content v1 names.
    """
    logicals = {ORIGINAL_DIR + rel: d for rel, d in given.items()}
    if not logicals or set(logicals) != {f[1] for f in files}:
        return False
    if any(not (d.get("sha512") or d.get("sha256")) for d in logicals.values()):
        return False
    inventory = store.load_inventory(store.object_root(object_id), object_id=object_id).inventory
    v1 = {p: d for p, d in state_of(inventory, "v1").items() if p.startswith(ORIGINAL_DIR)}
    if set(v1) != set(logicals):
        return False
    fixity = inventory.get("fixity", {}).get("sha256", {})
    for logical, d in logicals.items():
        if d.get("sha512"):
            if v1[logical] != d["sha512"]:
                return False
            continue
        content = set(inventory["manifest"].get(v1[logical], []))
        if not content & set(fixity.get(d["sha256"], [])):
            return False
    return True


def object_add_files(
    *,
    object_id: str,
    files: list[tuple[Path, str]],
    message: str,
    record: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """One new version with these files (and the metadata); returns their stored facts."""
    store = primary()
    blobs = metadata_files(record, events or []) if record is not None else []
    try:
        store.add_version(
            object_id,
            add=files,
            add_bytes=blobs,
            message=message,
            user_name=AGENT,
            user_address=agent_address(),
        )
    except OSError as exc:
        from spadok.core.errors import SpadokError

        raise SpadokError("storage.unavailable", f"{_plain(store.url)}: {exc}") from exc
    return _facts(store, object_id, [logical for _p, logical in files])


def _facts(store: OcflStore, object_id: str, logical_paths: Iterable[str]) -> dict[str, Any]:
    inventory = store.inventory(object_id)
    state = inventory["versions"][inventory["head"]]["state"]
    by_path = {p: d for d, paths in state.items() for p in paths}
    # The fixity block maps each sha256 to content paths; the manifest, sha512 to the same.
    sha256_of_path = {
        path: sha
        for sha, paths in inventory.get("fixity", {}).get("sha256", {}).items()
        for path in paths
    }
    sha256_of = {d: sha256_of_path.get(paths[0], "") for d, paths in inventory["manifest"].items()}
    root = store.object_root(object_id)
    out = {}
    for logical in logical_paths:
        digest = by_path[logical]
        out[logical] = {
            "key": f"{root}/{inventory['manifest'][digest][0]}",
            "sha512": digest,
            "sha256": sha256_of.get(digest, ""),
            "size": store.storage.size(f"{root}/{inventory['manifest'][digest][0]}"),
        }
    return out


def object_write_metadata(*, object_id: str, record: dict[str, Any]) -> str | None:
    """Write the descriptive record and every event so far into the object."""
    events = events_of(object_id)
    version = primary().write_metadata(
        object_id,
        record,
        [e.as_premis() for e in events],
        message="metadata: record and preservation events",
        user_name=AGENT,
        user_address=agent_address(),
    )
    PreservationEvent.objects.filter(id__in=[e.id for e in events]).update(in_object=True)
    return version


def replicate(object_id: str) -> None:
    """Bring every replica level with the primary for one object; record the outcome."""
    all_stores = stores()
    if len(all_stores) < 2:
        return
    source = all_stores[0]
    root = source.object_root(object_id)
    loaded = source.load_inventory(root, object_id=object_id)
    for replica in all_stores[1:]:
        try:
            copied = sync_object(source, replica, root, loaded)
        except Exception as exc:  # a replica that is down catches up at the next audit
            log.warning("replica %s missed %s: %s", replica.url, object_id, exc)
            event_record(
                object_id=object_id,
                event_type=EventType.REPLICATION,
                outcome=Outcome.FAILURE,
                detail=f"{_plain(replica.url)} unreachable; it catches up at the next audit",
            )
            continue
        event_record(
            object_id=object_id,
            event_type=EventType.REPLICATION,
            detail=f"{loaded.inventory['head']} copied to {_plain(replica.url)}",
            data={"files": copied, "version": loaded.inventory["head"]},
        )


def _plain(url: str) -> str:
    """A storage URL without its query (endpoints may carry credentials)."""
    return url.split("?", 1)[0]


# -- audit --------------------------------------------------------------------------


def audit_run(*, repair: bool, trigger: str) -> AuditRun:
    """Check every file of every root; repair from good copies when asked; record it all."""
    run = AuditRun.objects.create(started_at=timezone.now(), trigger=trigger, repair=repair)
    all_stores = stores()
    synced = sync_replicas(all_stores) if repair else []
    report = audit(all_stores, repair=repair)
    data = report.as_dict()
    data["synced"] = [a.__dict__ for a in synced]
    for item in data["issues"]:
        item["root"] = _plain(item["root"])
    data["roots"] = [_plain(r) for r in data["roots"]]
    by_object: dict[str, list[Any]] = {}
    for issue in report.issues:
        if issue.object_id:  # not a root that could not be reached (kind "unreachable")
            by_object.setdefault(issue.object_id, []).append(issue)
    reachable = len(all_stores) - sum(1 for i in report.issues if i.kind == UNREACHABLE)
    now = timezone.now()
    with transaction.atomic():
        for object_id in _object_ids_checked(all_stores):
            issues = by_object.get(object_id, [])
            bad = [i for i in issues if not i.repaired]
            event_record(
                object_id=object_id,
                event_type=EventType.FIXITY_CHECK,
                outcome=Outcome.FAILURE if issues else Outcome.SUCCESS,
                detail=(
                    f"{len(issues)} problem(s) in {len({i.root for i in issues})} root(s)"
                    if issues
                    else f"every file matched its sha512 in {reachable} root(s)"
                ),
                data={"issues": [f"{_plain(i.root)} {i.kind} {i.path}" for i in issues][:50]},
                when=now,
            )
            if issues and repair:
                event_record(
                    object_id=object_id,
                    event_type=EventType.REPAIR,
                    outcome=Outcome.FAILURE if bad else Outcome.SUCCESS,
                    detail=f"{len(issues) - len(bad)} of {len(issues)} copies restored",
                    when=now,
                )
        for action in synced:
            event_record(
                object_id=action.object_id,
                event_type=EventType.REPLICATION,
                outcome=Outcome.SUCCESS
                if action.action in ("copied", "updated")
                else Outcome.FAILURE,
                detail=f"{action.action} to {_plain(action.root)}: {action.detail}",
                when=now,
            )
        run.finished_at = timezone.now()
        run.ok = report.ok
        run.files = report.files_checked
        run.bytes = report.bytes_checked
        run.issues = len(report.issues)
        run.repaired = sum(1 for i in report.issues if i.repaired)
        run.report = data
        run.save()
    # With repair, problems and repairs go into the objects now; routine successful
    # checks go in with the object's next version (no new version per object per
    # audit). A plain audit only reads: it never writes to a root it found damaged.
    if repair:
        for object_id in by_object:
            _flush_events(object_id)
    return run


def _object_ids_checked(all_stores: list[OcflStore]) -> list[str]:
    ids: set[str] = set()
    for store in all_stores:
        try:
            ids.update(store.object_ids())
        except OSError:
            continue
    return sorted(ids)


def _flush_events(object_id: str) -> None:
    from spadok.catalogue import services as catalogue
    from spadok.catalogue.models import Capture

    if not Capture.objects.filter(id=object_id).exists():
        return  # a stray file, or an object the catalogue does not list (yet)
    try:
        catalogue.capture_write_metadata(capture_id=object_id)
    except Exception as exc:
        log.warning("could not write events into %s: %s", object_id, exc)


def audit_due() -> bool:
    """True when the last audit is older than the configured interval."""
    last = AuditRun.objects.order_by("-started_at").first()
    if last is None:
        return True
    age = (timezone.now() - last.started_at).total_seconds()
    return age > settings.SPADOK.audit_interval_hours * 3600


# -- disaster recovery --------------------------------------------------------------


def _rebuilt_site(ref: dict[str, Any] | None) -> Any:
    """The registry's site a record.json names: by id, else by Wikidata id (a registry
    imported afresh after the database was lost has new ids but the same QIDs)."""
    if not ref:
        return None
    from spadok.sites.models import Site

    site = Site.objects.filter(id=ref.get("id", "")).first()
    if site is None and ref.get("wikidata"):
        site = Site.objects.filter(wikidata=ref["wikidata"]).order_by("id").first()
    return site


def catalogue_rebuild() -> dict[str, int]:
    """Rebuild the catalogue from the storage roots alone (after the database is lost).

    Every object's ``metadata/record.json`` and ``metadata/events.jsonl`` give back
    its record, capture, derivatives and events; an object that never got past its
    originals comes back as a received capture and is queued for processing.
    Safe to run again: rows are matched by id.
    """
    from spadok.catalogue.models import Capture, CaptureState, Derivative, Record
    from spadok.core.preservation.ocfl import METADATA_EVENTS, METADATA_RECORD

    counts = {
        "objects": 0,
        "records": 0,
        "captures": 0,
        "derivatives": 0,
        "events": 0,
        "queued": 0,
        "contributors": 0,  # captures linked back to an account that still exists
    }
    seen: dict[str, OcflStore] = {}
    for store in stores():
        try:
            for object_id in store.object_ids():
                seen.setdefault(object_id, store)
        except OSError:
            log.warning("storage root %s is unreachable", store.url, exc_info=True)
    for object_id, store in sorted(seen.items()):
        counts["objects"] += 1
        state = store.state(object_id)
        if METADATA_RECORD in state:
            meta = _read_json(store, object_id, METADATA_RECORD)
        else:
            arrival = _read_json(store, object_id, ARRIVAL)
            meta = _meta_from_arrival(store, object_id, arrival)
        events = []
        if METADATA_EVENTS in state:
            with store.open_logical(object_id, METADATA_EVENTS) as fh:
                events = [json.loads(line) for line in fh.read().decode().splitlines() if line]
        with transaction.atomic():
            rec = meta["record"]
            record, made = Record.objects.update_or_create(
                id=rec["id"],
                defaults={
                    "title": rec["title"],
                    "description": rec.get("description", ""),
                    "visibility": rec.get("visibility", "public"),
                },
            )
            counts["records"] += int(made)
            site = _rebuilt_site(rec.get("site"))
            if site is not None and record.site_id != site.id:
                Record.objects.filter(id=record.id).update(site=site)
                counts["sites"] = counts.get("sites", 0) + 1
            if rec.get("created_at"):
                Record.objects.filter(id=record.id).update(created_at=rec["created_at"])
            cap = meta["capture"]
            originals = []
            for item in cap["originals"]:
                key = store.content_key(object_id, ORIGINAL_DIR + item["path"])
                originals.append({**item, "key": key})
            capture, made = Capture.objects.update_or_create(
                id=object_id,
                defaults={
                    "record": record,
                    "kind": cap.get("kind", ""),
                    "format": cap.get("format", ""),
                    "state": cap.get("state", CaptureState.RECEIVED),
                    "source_name": cap.get("source_name", ""),
                    "primary_file": cap.get("primary_file", ""),
                    "originals": originals,
                    "stats": cap.get("stats", {}),
                    "timings": cap.get("timings", {}),
                    "step": "done" if cap.get("state") == CaptureState.READY else "",
                    "progress": 1.0 if cap.get("state") == CaptureState.READY else 0.0,
                },
            )
            counts["captures"] += 1
            if cap.get("created_at"):
                Capture.objects.filter(id=object_id).update(created_at=cap["created_at"])
            restored = _contribution_fields(cap)
            if restored:
                Capture.objects.filter(id=object_id).update(**restored)
                counts["contributors"] += int(restored.get("contributor") is not None)
            for d in meta.get("derivatives", []):
                Derivative.objects.update_or_create(
                    capture=capture,
                    role=d["role"],
                    policy=d["policy"],
                    defaults={
                        "key": store.content_key(object_id, d["path"]),
                        "mime": d["mime"],
                        "size": d["size"],
                        "sha256": d["sha256"],
                        "tool": d["tool"],
                        "params": d.get("params", {}),
                        "stats": d.get("stats", {}),
                    },
                )
                counts["derivatives"] += 1
            for e in events:
                PreservationEvent.objects.update_or_create(
                    id=e["eventIdentifier"],
                    defaults={
                        "object_id": object_id,
                        "event_type": e["eventType"],
                        "occurred_at": e["eventDateTime"],
                        "agent": e.get("linkingAgent", ""),
                        "outcome": e.get("eventOutcome", Outcome.SUCCESS),
                        "detail": e.get("eventDetail", ""),
                        "data": e.get("eventOutcomeDetail", {}),
                        "in_object": True,
                    },
                )
                counts["events"] += 1
            if capture.state != CaptureState.READY:
                from spadok.catalogue.services import enqueue_processing

                transaction.on_commit(partial(enqueue_processing, object_id))
                counts["queued"] += 1
    return counts


DESCRIPTION_FIELDS = (
    "latitude",
    "longitude",
    "location_precision_m",
    "location_source",
    "licence",
    "flag_private_interior",
    "flag_faces",
)


def _contribution_fields(cap: dict[str, Any]) -> dict[str, Any]:
    """What the contributor said and agreed to, and who they are if the account exists.

    The contributor is named in record.json by a pseudonymous account reference
    only; it is linked back when an account with that reference is here (the
    accounts survived, or were restored from their own backup).
    """
    from spadok.catalogue.contributions import contributor_from_metadata

    out: dict[str, Any] = {}
    described = cap.get("description") or {}
    for key in DESCRIPTION_FIELDS:
        if described.get(key) is not None:
            out[key] = described[key]
    for key in ("captured_at", "consent_at"):
        if described.get(key):
            out[key] = described[key]
    contributor = cap.get("contributor") or {}
    if contributor.get("consent_at") and "consent_at" not in out:
        out["consent_at"] = contributor["consent_at"]
    if contributor.get("licence") and "licence" not in out:
        out["licence"] = contributor["licence"]
    user = contributor_from_metadata(contributor)
    if user is not None:
        out["contributor"] = user
    return out


def _read_json(store: OcflStore, object_id: str, logical: str) -> dict[str, Any]:
    with store.open_logical(object_id, logical) as fh:
        data: dict[str, Any] = json.loads(fh.read())
    return data


def _meta_from_arrival(store: OcflStore, object_id: str, arrival: dict[str, Any]) -> dict[str, Any]:
    """What an object holding only its originals says about its capture."""
    facts = _facts(store, object_id, [ORIGINAL_DIR + f["path"] for f in arrival["files"]])
    return {
        "record": {
            "id": arrival.get("record") or f"r-{object_id[2:]}",
            "title": arrival.get("title") or Path(arrival["files"][0]["path"]).stem,
        },
        "capture": {
            "id": object_id,
            "source_name": arrival.get("source", ""),
            "primary_file": arrival["files"][0]["path"],
            "created_at": arrival.get("received_at"),
            "originals": [
                {"path": f["path"], **{k: v for k, v in facts[ORIGINAL_DIR + f["path"]].items()}}
                for f in arrival["files"]
            ],
        },
        "derivatives": [],
    }

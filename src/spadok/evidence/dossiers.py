"""Gather what a record (or a site) holds and write its evidence dossier.

The dossier is for investigators: it carries the full record, exact locations
included, so only curators and administrators (and the command line) make one,
and making one is itself a custody entry, written first so that the dossier
carries its own making.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from spadok import __version__
from spadok.catalogue.models import AccessLog, Capture, Record, ReviewDecision
from spadok.catalogue.storage import get_storage
from spadok.core.errors import SpadokError
from spadok.core.evidence import DossierContent, PayloadFile, Written, check_chains, write_dossier
from spadok.evidence import keys
from spadok.evidence.models import CustodyEntry
from spadok.evidence.services import actor_of, custody_append, utc_iso
from spadok.preservation import services as preservation
from spadok.preservation.models import EventType, PreservationEvent
from spadok.sites.models import Site

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    from spadok.accounts.selectors import user_display

    return {"id": user.pk, "name": user_display(user)}


def subject_of(subject_id: str) -> tuple[Site | None, list[Record]]:
    """The site and its records, or one record; ``evidence.not_found`` otherwise."""
    site = Site.objects.filter(id=subject_id).first()
    if site is not None:
        return site, list(Record.objects.filter(site=site).order_by("created_at", "id"))
    record = Record.objects.filter(id=subject_id).first()
    if record is None:
        raise SpadokError("evidence.not_found", repr(subject_id))
    return record.site, [record]


def damage_events(site: Site | None, records: list[Record]) -> list[dict[str, Any]]:
    """Damage events with their sources for ``data/damage/events.json``.

    Every event of the site and of the records (date or range with its
    precision, kind, severity, source and its standing, link or document,
    who entered it and when), internal and retracted ones included and marked:
    a dossier is for investigators, who must see what was said and withdrawn.
    """
    from spadok.damage.presenters import event_dossier
    from spadok.damage.selectors import events_for_dossier

    return [event_dossier(e) for e in events_for_dossier(site, records)]


def _record_data(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "description": record.description,
        "visibility": record.visibility,
        "embargo_until": record.embargo_until,
        "sealed_readers": [_person(u) for u in record.sealed_readers.order_by("pk")],
        "site": record.site_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _site_data(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "names": site.names,
        "descriptions": site.descriptions,
        "type": site.type,
        "designation": site.designation,
        "region": site.region_id,
        "settlement": site.settlement,
        "address": site.address,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "sensitive": site.sensitive,
        "wikidata": site.wikidata,
        "external_ids": site.external_ids,
        "damage_status": site.damage_status,
        "damage_date": site.damage_date,
        "provenance": site.provenance,
        "created_at": site.created_at,
    }


def _arrival(capture: Capture) -> dict[str, Any] | None:
    """The upload the capture came from: its arrival sha256 (and stored sha512), and chunks."""
    from spadok.uploads.models import Upload

    upload = Upload.objects.filter(capture=capture).select_related("user").first()
    if upload is None:
        return None
    return {
        "upload": str(upload.id),
        "filename": upload.filename,
        "length": upload.length,
        "sha256": upload.sha256,
        "sha512": upload.sha512,
        "created_at": upload.created_at,
        "completed_at": upload.completed_at,
        "uploader": _person(upload.user),
        "chunks": [
            {
                "offset": c.offset,
                "length": c.length,
                "sha256": c.sha256,
                "whole": c.whole,
                "received_at": c.received_at,
            }
            for c in upload.chunks.order_by("offset", "id")
        ],
    }


def _capture_data(capture: Capture, arrival: dict[str, Any] | None) -> dict[str, Any]:
    fields = [
        "id", "record_id", "created_at", "kind", "format", "state", "step", "error_code",
        "error_message", "source_name", "primary_file", "stats", "timings", "attempts",
        "captured_at", "latitude", "longitude", "location_precision_m", "location_source",
        "licence", "consent_at", "flag_private_interior", "flag_faces", "described_at",
        "suggested_record_id",
    ]  # fmt: skip
    data = {f.removesuffix("_id") if f != "id" else f: getattr(capture, f) for f in fields}
    data["contributor"] = _person(capture.contributor)
    data["originals"] = [
        {
            **{k: o.get(k) for k in ("path", "size", "sha256", "sha512")},
            "in_dossier": f"data/originals/{capture.id}/{o['path']}",
        }
        for o in capture.originals
    ]
    data["arrival"] = arrival
    data["derivatives"] = [
        {**d.as_dict(), "in_dossier": f"data/{_derivative_path(capture, d)}"}
        for d in capture.derivatives.order_by("role", "policy")
    ]
    return data


def _derivative_path(capture: Capture, d: Any) -> str:
    ext = d.key.rsplit(".", 1)[-1] if "." in d.key.rsplit("/", 1)[-1] else "bin"
    policy = d.policy.replace("/", "-")
    return f"derivatives/{capture.id}/{policy}/{d.role}.{ext}"


def _opener(key: str) -> Any:
    return lambda: get_storage().open(key)


def dossier_make(*, subject_id: str, dest: Path, actor: Any = None) -> Written:
    """Write the dossier of a record or a site to ``dest``; log the export first."""
    site, records = subject_of(subject_id)
    kind = "site" if site is not None and site.id == subject_id else "record"
    made_at = timezone.now()
    with transaction.atomic():
        for record in records:
            custody_append(
                record=record,
                action="export.dossier",
                actor=actor,
                data={"subject": f"{kind} {subject_id}", "package": dest.name},
            )
        if kind == "site":
            custody_append(
                site=site, action="export.dossier", actor=actor, data={"package": dest.name}
            )
    captures = list(
        Capture.objects.filter(record__in=records)
        .select_related("contributor")
        .order_by("created_at", "id")
    )
    files: list[PayloadFile] = []
    capture_data: dict[str, Any] = {}
    for capture in captures:
        arrival = _arrival(capture)
        for o in capture.originals:
            expected = {"sha256": o["sha256"], "sha512": o["sha512"]}
            if arrival and arrival["filename"] == o["path"] and arrival["sha256"]:
                # the hash taken on arrival, never one recomputed from a copy (an
                # upload's sha512 is its stored copy's, checked against that sha256)
                expected = {
                    "sha256": arrival["sha256"],
                    "sha512": arrival["sha512"] or o["sha512"],
                }
            files.append(
                PayloadFile(
                    path=f"originals/{capture.id}/{o['path']}",
                    open=_opener(o["key"]),
                    expected=expected,
                    label=o["key"],
                )
            )
        for d in capture.derivatives.order_by("role", "policy"):
            files.append(
                PayloadFile(
                    path=_derivative_path(capture, d),
                    open=_opener(d.key),
                    expected={"sha256": d.sha256},
                    label=d.key,
                )
            )
        capture_data[f"captures/{capture.id}.json"] = _capture_data(capture, arrival)

    chains = [c.id for c in captures] + [r.id for r in records] + ([site.id] if site else [])
    rows = list(CustodyEntry.objects.filter(chain__in=chains).order_by("chain", "seq"))
    entries = [r.entry() for r in rows]
    heads: dict[str, dict[str, Any]] = {}
    for entry in entries:
        heads[entry["chain"]] = {"seq": entry["seq"], "hash": entry["hash"]}
    problems = check_chains(list(enumerate(entries, 1)), heads)
    for problem in problems:  # the package shows it too: never hide it, never stop on it
        log.error("custody log in the database: %s", problem.message)

    capture_ids = [c.id for c in captures]
    decisions = [
        {
            "capture": d.capture_id,
            "decision": d.decision,
            "reviewer": _person(d.reviewer),
            "reason": d.reason,
            "visibility": d.visibility,
            "embargo_until": d.embargo_until,
            "data": d.data,
            "decided_at": d.decided_at,
        }
        for d in ReviewDecision.objects.filter(capture_id__in=capture_ids)
        .select_related("reviewer")
        .order_by("decided_at", "id")
    ]
    access = [
        {
            "record": a.record_id,
            "capture": a.capture_id,
            "user": _person(a.user),
            "action": a.action,
            "when": a.when,
        }
        for a in AccessLog.objects.filter(record__in=records)
        .select_related("user")
        .order_by("when", "id")
    ]
    key = keys.archive_key()
    cfg = settings.SPADOK
    metadata: dict[str, Any] = {
        "subject.json": {
            "kind": kind,
            "id": subject_id,
            "made_at": made_at,
            "made_by": actor_of(actor),
            "archive": cfg.organization,
            "records": [r.id for r in records],
            "captures": capture_ids,
        },
        **{f"records/{r.id}.json": _record_data(r) for r in records},
        **capture_data,
        "review-decisions.json": decisions,
        "sealed-access.json": access,
    }
    if site is not None:
        metadata["site.json"] = _site_data(site)
    premis = {
        cid: [
            e.as_premis()
            for e in PreservationEvent.objects.filter(object_id=cid).order_by("occurred_at", "id")
        ]
        for cid in capture_ids
    }
    bag_info: dict[str, str | list[str]] = {
        "Source-Organization": cfg.organization,
        "External-Description": f"Evidence dossier of {kind} {subject_id}: "
        f"{len(records)} record(s), {len(captures)} capture(s), originals byte for byte "
        "with their arrival hashes, derivatives, metadata, custody log, PREMIS events",
        "Bag-Software-Agent": f"spadok {__version__}",
    }
    if cfg.contact_email:
        bag_info["Contact-Email"] = cfg.contact_email
    content = DossierContent(
        subject=f"{kind} {subject_id}",
        identifiers=[subject_id, *[r.id for r in records if r.id != subject_id], *capture_ids],
        files=files,
        metadata=_plain(metadata),
        custody=entries,
        heads=heads,
        premis=_plain(premis),
        damage=_plain(damage_events(site, records)),
        bag_info=bag_info,
        created=utc_iso(made_at),
        agent=f"spadok {__version__}",
    )
    written = write_dossier(content, dest, key=key, tsa_url=cfg.tsa_url)
    if written.timestamp_error:
        log.warning("dossier %s has no time-stamp: %s", dest.name, written.timestamp_error)
    with transaction.atomic():
        for cid in capture_ids:
            preservation.event_record(
                object_id=cid,
                event_type=EventType.REPLICATION,
                detail=f"copied into the evidence dossier of {kind} {subject_id}",
                data={"package": "evidence-dossier", "name": dest.name, "key": written.fingerprint},
            )
    return written


def dossier_name(subject_id: str) -> str:
    return f"dossier-{subject_id}-{timezone.now():%Y%m%dT%H%M%SZ}"

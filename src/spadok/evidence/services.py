"""The one write path of the custody log: :func:`custody_append`.

Call it where an action on a capture happens (arrival, processing, review,
sealed access, export), inside the action's own transaction when it has one,
so that an action rolled back leaves no entry and an entry never lacks its
action. Appends to one chain are serialised by locking the chain's head row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` write lock).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from spadok.core.evidence.chain import make_entry
from spadok.evidence.models import CustodyEntry, CustodyHead

SYSTEM = "system"


def _id(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "pk", value))


def _plain(value: Any) -> Any:
    """Values the chain's canonical JSON allows: floats, dates, ids become strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(getattr(value, "pk", value))


def actor_of(user: Any) -> dict[str, Any]:
    """Who acted, as the log keeps it: the user's id, role and display name, or the system."""
    from spadok import __version__

    if user is None or not getattr(user, "is_authenticated", False):
        return {"kind": SYSTEM, "agent": f"spadok {__version__}"}
    from spadok.accounts.selectors import user_display
    from spadok.catalogue.selectors import user_role

    return {
        "kind": "user",
        "id": user.pk,
        "role": user_role(user),
        "name": user_display(user),
    }


def _subject(capture: Any, record: Any, site: Any) -> tuple[str, dict[str, Any]]:
    if capture is not None:
        capture_id = _id(capture)
        record_id = getattr(capture, "record_id", None) or _id(record)
        if record_id is None:
            from spadok.catalogue.models import Capture

            record_id = (
                Capture.objects.filter(id=capture_id).values_list("record_id", flat=True).first()
            )
        assert capture_id is not None
        return capture_id, {"capture": capture_id, "record": record_id}
    if record is not None:
        record_id = _id(record)
        assert record_id is not None
        return record_id, {"record": record_id}
    if site is not None:
        site_id = _id(site)
        assert site_id is not None
        return site_id, {"site": site_id}
    raise ValueError("a custody entry needs a capture, a record or a site")


def utc_iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def custody_append(
    *,
    action: str,
    capture: Any = None,
    record: Any = None,
    site: Any = None,
    actor: Any = None,
    data: Mapping[str, Any] | None = None,
) -> CustodyEntry:
    """Append one entry to the chain of the capture (else the record, else the site).

    ``action`` is a stable name such as ``upload.received``, ``processing.started``,
    ``review.approve``, ``access.sealed``, ``export.dossier``; ``actor`` a user or
    None for the archive itself; ``data`` what an investigator needs to know.
    """
    chain, subject = _subject(capture, record, site)
    now = timezone.now()
    with transaction.atomic():
        CustodyHead.objects.bulk_create([CustodyHead(chain=chain)], ignore_conflicts=True)
        head = CustodyHead.objects.select_for_update().get(chain=chain)
        entry = make_entry(
            chain=chain,
            seq=head.seq + 1,
            prev=head.hash,
            at=utc_iso(now),
            action=action,
            actor=actor_of(actor),
            subject=subject,
            data=_plain(dict(data or {})),
        )
        row = CustodyEntry.objects.create(
            chain=chain,
            seq=entry["seq"],
            action=action[:64],
            at=now,
            body=_canonical_with_hash(entry),
            hash=entry["hash"],
            prev=entry["prev"],
        )
        CustodyHead.objects.filter(chain=chain).update(seq=entry["seq"], hash=entry["hash"])
    return row


def custody_append_many(*, items: list[dict[str, Any]], actor: Any = None) -> int:
    """Append many entries by one actor at once (an import): the same chains as
    :func:`custody_append`, written with a few queries instead of a few per entry.

    Each item has ``action``, ``data`` and one of ``capture``, ``record`` or
    ``site``; entries of one chain follow each other in the order given. The heads
    of every chain touched are locked first, in a stable order.
    """
    if not items:
        return 0
    subjects = [_subject(i.get("capture"), i.get("record"), i.get("site")) for i in items]
    chains = sorted({chain for chain, _subject_ in subjects})
    who = actor_of(actor)
    now = timezone.now()
    at = utc_iso(now)
    rows: list[CustodyEntry] = []
    with transaction.atomic():
        CustodyHead.objects.bulk_create(
            [CustodyHead(chain=c) for c in chains], ignore_conflicts=True, batch_size=1000
        )
        heads: dict[str, CustodyHead] = {}
        for start in range(0, len(chains), 500):
            part = chains[start : start + 500]
            for head in CustodyHead.objects.select_for_update().filter(chain__in=part):
                heads[head.chain] = head
        for item, (chain, subject) in zip(items, subjects, strict=True):
            head = heads[chain]
            entry = make_entry(
                chain=chain,
                seq=head.seq + 1,
                prev=head.hash,
                at=at,
                action=item["action"],
                actor=who,
                subject=subject,
                data=_plain(dict(item.get("data") or {})),
            )
            rows.append(
                CustodyEntry(
                    chain=chain,
                    seq=entry["seq"],
                    action=item["action"][:64],
                    at=now,
                    body=_canonical_with_hash(entry),
                    hash=entry["hash"],
                    prev=entry["prev"],
                )
            )
            head.seq, head.hash = entry["seq"], entry["hash"]
        CustodyEntry.objects.bulk_create(rows, batch_size=1000)
        # One plain UPDATE per head: much cheaper than bulk_update's CASE expressions.
        for head in heads.values():
            CustodyHead.objects.filter(chain=head.chain).update(seq=head.seq, hash=head.hash)
    return len(rows)


def _canonical_with_hash(entry: dict[str, Any]) -> str:
    from spadok.core.evidence.chain import canonical

    return canonical(entry).decode("utf-8")


def custody_files(capture: Any) -> dict[str, Any]:
    """The ``files`` of an arrival entry: each original's path, size and digests."""
    return {
        "files": [
            {k: o.get(k) for k in ("path", "size", "sha256", "sha512")}
            for o in (capture.originals or [])
        ]
    }


def upload_arrival(upload: Any) -> dict[str, Any]:
    """An upload's arrival as the log keeps it.

    The sha256 taken as its bytes came; the sha512 of the stored copy, whose sha256 was
    checked against that arrival sha256 when it was filed.
    """
    return {
        "upload": str(upload.id),
        "filename": upload.filename,
        "size": upload.length,
        "completed_at": upload.completed_at,
        "chunks": upload.chunks.count(),
        "files": [
            {
                "path": upload.filename,
                "size": upload.length,
                "sha256": upload.sha256,
                "sha512": upload.sha512,
            }
        ],
    }

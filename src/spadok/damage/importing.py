"""Damage events from published lists, within the site import's own transaction.

:func:`spadok.sites.importing.import_sites` reads a list, matches or files its
sites, then hands each row's damage claims here with the site they describe.
An imported event is known by its key, ``<source>|<the list's own id for the
claim, or the site>|<kind>``: the two copies of UNESCO's list give one
UNESCO-verified event per site, both Linked4Resilience exports one volunteer
event per URI, and a second import finds every event instead of adding one.

Re-imports only ever add: an empty field is filled, a new link or a new
(file, row) joins the lists, nothing already recorded is overwritten (what the
first list said stays, and a curator's correction is never undone); a retracted
event stays retracted. Every event made or changed gets its custody entry, and
the sites' damage status is derived again from their events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spadok.core.registry.damage import MAX_REFERENCES, DamageClaim
from spadok.damage.models import DamageEvent
from spadok.damage.services import custody_item, site_damage_derive, snapshot
from spadok.evidence.services import custody_append_many

BATCH = 1000
MAX_KEY_PART = 180
# What folding another claim into an event may change.
FOLDED_FIELDS = [
    "date_start", "date_end", "date_precision", "date_as_published", "source_name",
    "source_url", "source_document", "description", "severity", "references", "import_refs",
]  # fmt: skip


@dataclass
class ClaimAt:
    """A claim, the site it is about, and where in which list it was read."""

    claim: DamageClaim
    site_id: str
    source: str
    file: str
    row: int


@dataclass
class DamageCounts:
    imported: int = 0
    updated: int = 0
    # Sites whose damage status or date changed (the caller re-indexes them).
    sites_changed: list[str] = field(default_factory=list)


def claim_key(item: ClaimAt) -> str:
    subject = item.claim.key or item.site_id
    return f"{item.source[:MAX_KEY_PART]}|{subject[:MAX_KEY_PART]}|{item.claim.kind}"


def _ref(item: ClaimAt) -> dict[str, Any]:
    return {"source": item.source, "file": item.file, "row": item.row}


def _new_event(key: str, item: ClaimAt) -> DamageEvent:
    c = item.claim
    return DamageEvent(
        site_id=item.site_id,
        kind=c.kind,
        severity=c.severity,
        date_start=c.date_start,
        date_end=c.date_end,
        date_precision=c.precision if c.date_start else "",
        date_as_published=c.date_as_published[:100],
        standing=c.standing,
        source_name=c.source_name[:200],
        source_url=c.source_url[:1000],
        source_document=c.source_document[:300],
        references=list(c.references[:MAX_REFERENCES]),
        description=c.description,
        public=True,
        import_key=key,
        import_refs=[_ref(item)],
    )


def _fold(event: DamageEvent, item: ClaimAt) -> bool:
    """Fill the event's gaps from another claim of the same key; whether anything changed."""
    c = item.claim
    changed = False
    if event.date_start is None and c.date_start is not None:
        event.date_start, event.date_end = c.date_start, c.date_end
        event.date_precision = c.precision
        event.date_as_published = c.date_as_published[:100]
        changed = True
    for name, value, limit in (
        ("source_name", c.source_name, 200),
        ("source_url", c.source_url, 1000),
        ("source_document", c.source_document, 300),
        ("description", c.description, None),
    ):
        if value and not getattr(event, name):
            setattr(event, name, value[:limit] if limit else value)
            changed = True
    if event.severity == "unknown" and c.severity != "unknown":
        event.severity, changed = c.severity, True
    links = list(event.references or [])
    for url in c.references:
        if url not in links and url != event.source_url and len(links) < MAX_REFERENCES:
            links.append(url)
    if links != (event.references or []):
        event.references, changed = links, True
    ref = _ref(item)
    if ref not in (event.import_refs or []):
        event.import_refs, changed = [*(event.import_refs or []), ref], True
    return changed


def import_claims(items: Sequence[ClaimAt]) -> DamageCounts:
    """Write the claims of one list file as damage events (the caller holds the transaction
    and tells the search index of ``sites_changed`` after it commits)."""
    counts = DamageCounts()
    if not items:
        return counts
    grouped: dict[str, list[ClaimAt]] = {}
    for item in items:
        grouped.setdefault(claim_key(item), []).append(item)
    existing: dict[str, DamageEvent] = {}
    keys = list(grouped)
    for start in range(0, len(keys), BATCH):
        for event in DamageEvent.objects.filter(import_key__in=keys[start : start + BATCH]):
            assert event.import_key is not None
            existing[event.import_key] = event
    new: list[DamageEvent] = []
    changed: list[tuple[DamageEvent, dict[str, Any]]] = []
    for key, group in grouped.items():
        found = existing.get(key)
        if found is None:
            made = _new_event(key, group[0])
            for item in group[1:]:
                _fold(made, item)
            new.append(made)
        elif found.retracted_at is None:
            before = snapshot(found)
            if any([_fold(found, item) for item in group]):
                changed.append((found, before))
    DamageEvent.objects.bulk_create(new, batch_size=BATCH)
    notes = [custody_item(event, "damage.recorded", snapshot(event)) for event in new]
    for event, before in changed:
        after = snapshot(event)
        diff = {k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v}
        notes.append(custody_item(event, "damage.corrected", {"event": event.id, "changed": diff}))
    for event, _before in changed:  # a plain UPDATE each: cheaper than bulk_update's CASEs
        DamageEvent.objects.filter(pk=event.pk).update(
            **{name: getattr(event, name) for name in FOLDED_FIELDS}
        )
    custody_append_many(items=notes, actor=None)
    sites = {i.site_id for i in items}
    counts.imported = len(new)
    counts.updated = len(changed)
    counts.sites_changed = site_damage_derive(sorted(sites), refresh=False)
    return counts

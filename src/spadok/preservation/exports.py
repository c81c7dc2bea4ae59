"""Packages for transfer to other archives: one BagIt bag per record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from spadok import __version__
from spadok.core.preservation import export_bag
from spadok.evidence.services import custody_append
from spadok.preservation import services as preservation
from spadok.preservation.models import EventType

if TYPE_CHECKING:
    from spadok.catalogue.models import Record


def export_records_bagit(records: list[Record], dest: Path) -> list[Path]:
    """Write one bag per record (all its captures) under ``dest``; return the bags."""
    dest.mkdir(parents=True, exist_ok=True)
    cfg = settings.SPADOK
    written = []
    for record in records:
        capture_ids = list(record.captures.order_by("created_at").values_list("id", flat=True))
        if not capture_ids:
            continue
        bag_info: dict[str, str | list[str]] = {
            "Source-Organization": cfg.organization,
            "External-Description": f"{record.title}: {len(capture_ids)} capture(s), "
            "originals and derivatives with their OCFL inventories",
            "External-Identifier": [record.id, *capture_ids],
            "Bag-Software-Agent": f"spadok {__version__}",
        }
        if cfg.contact_email:
            bag_info["Contact-Email"] = cfg.contact_email
        bag = export_bag(preservation.primary(), capture_ids, dest / record.id, bag_info=bag_info)
        with transaction.atomic():
            custody_append(record=record, action="export.bagit", data={"bag": bag.name})
            for capture_id in capture_ids:
                preservation.event_record(
                    object_id=capture_id,
                    event_type=EventType.REPLICATION,
                    detail=f"exported as a BagIt package for record {record.id}",
                    data={"package": "bagit", "bag": bag.name},
                )
        written.append(bag)
    return written

"""The write path for what people decide about captures: describe, retry, review.

Each function checks who may act, changes the rows and writes its audit row
(a :class:`ReviewDecision`, or a preservation event naming the person) in one
transaction; then the capture's OCFL object gets the new ``record.json``.
Permission failures raise :class:`PermissionDenied`, bad input
:class:`ValidationError` (with a code).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from spadok.catalogue import selectors
from spadok.catalogue.models import (
    AccessLog,
    Capture,
    CaptureState,
    Decision,
    Licence,
    LocationSource,
    Record,
    ReviewDecision,
    Visibility,
)
from spadok.core.errors import SpadokError
from spadok.preservation import services as preservation
from spadok.preservation.models import EventType

log = logging.getLogger(__name__)

APPROVE_VISIBILITIES = (
    Visibility.PUBLIC,
    Visibility.COARSE,
    Visibility.EMBARGOED,
    Visibility.SEALED,
)


def access_log(*, user: Any, record: Record, capture: Capture | None, action: str) -> AccessLog:
    """Custody: who opened sealed material, what, and when."""
    return AccessLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        record=record,
        capture=capture,
        action=action[:32],
    )


def _who(actor: Any) -> dict[str, Any]:
    return {"user": actor.pk, "role": selectors.user_role(actor)}


def _event(capture: Capture, detail: str, data: dict[str, Any]) -> None:
    preservation.event_record(
        object_id=capture.id, event_type=EventType.METADATA, detail=detail, data=data
    )


def _write_metadata(capture_ids: Iterable[str]) -> None:
    """Bring each capture's record.json level with the catalogue (after the commit)."""
    from spadok.catalogue.services import capture_write_metadata

    for capture_id in capture_ids:
        try:
            capture_write_metadata(capture_id=capture_id)
        except (OSError, SpadokError):
            # The decision stands (it is in the database and its event); the
            # object catches up on the next metadata write of this capture.
            log.exception("writing the metadata of %s failed", capture_id)


# -- describe ----------------------------------------------------------------------


def _check_location(
    latitude: float | None, longitude: float | None, precision_m: float | None, source: str
) -> tuple[float | None, float | None, float | None, str]:
    if latitude is None or longitude is None:
        return None, None, None, LocationSource.NONE
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationError(_("The location is not on Earth."), code="describe.location")
    if precision_m is not None and precision_m < 0:
        raise ValidationError(_("The precision is a distance in metres."), code="describe.location")
    if source not in (LocationSource.EXIF, LocationSource.MAP):
        source = LocationSource.MAP
    return latitude, longitude, precision_m, source


def capture_describe(
    *,
    actor: Any,
    capture: Capture,
    title: str,
    description: str = "",
    suggested_record: Record | None = None,
    captured_at: datetime | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    location_precision_m: float | None = None,
    location_source: str = LocationSource.NONE,
    licence: str,
    consent: bool,
    flag_private_interior: bool = False,
    flag_faces: bool = False,
) -> Capture:
    """The contributor says what, when and where they captured, under which licence."""
    if capture.contributor_id != actor.pk:
        raise PermissionDenied("describe.forbidden")
    if not consent:
        raise ValidationError(
            _("Confirm that you may share this capture with the archive."), code="describe.consent"
        )
    if licence not in Licence.values:
        raise ValidationError(_("Choose a licence."), code="describe.licence")
    lat, lon, precision, source = _check_location(
        latitude, longitude, location_precision_m, location_source
    )
    now = timezone.now()
    with transaction.atomic():
        capture = Capture.objects.select_for_update().select_related("record").get(id=capture.id)
        record = capture.record
        if record.visibility == Visibility.DRAFT:  # a reviewed record keeps its words
            record.title = title.strip()[:300] or record.title
            record.description = description.strip()
            record.save(update_fields=["title", "description", "updated_at"])
        capture.captured_at = captured_at
        capture.latitude, capture.longitude = lat, lon
        capture.location_precision_m, capture.location_source = precision, source
        capture.licence = licence
        capture.consent_at = capture.consent_at or now
        capture.flag_private_interior = flag_private_interior
        capture.flag_faces = flag_faces
        capture.described_at = now
        capture.suggested_record = (
            suggested_record if suggested_record and suggested_record.pk != record.pk else None
        )
        capture.save()
        _event(
            capture,
            "described by its contributor",
            {
                **_who(actor),
                "licence": licence,
                "location_source": source,
                "flags": {"private_interior": flag_private_interior, "faces": flag_faces},
            },
        )
    _write_metadata([capture.id])
    return capture


# -- retry -------------------------------------------------------------------------


def may_retry(*, actor: Any, capture: Capture) -> bool:
    """Its contributor, or a curator or administrator."""
    if selectors.user_role(actor) is None:
        return False
    return capture.contributor_id == actor.pk or selectors.may_seal(actor)


def capture_retry(*, actor: Any, capture: Capture) -> Capture:
    """Queue a failed capture's processing again, with a fresh count of attempts."""
    from spadok.catalogue.services import enqueue_processing

    if not may_retry(actor=actor, capture=capture):
        raise PermissionDenied("retry.forbidden")
    with transaction.atomic():
        capture = Capture.objects.select_for_update().get(id=capture.id)
        if capture.state != CaptureState.FAILED:
            raise ValidationError(
                _("Only a capture whose processing failed can be tried again."),
                code="retry.not_failed",
            )
        before = {"error_code": capture.error_code, "attempts": capture.attempts}
        Capture.objects.filter(id=capture.id).update(
            state=CaptureState.RECEIVED,
            attempts=0,
            step="",
            progress=0.0,
            error_code="",
            error_message="",
        )
        ReviewDecision.objects.create(
            capture=capture, reviewer=actor, decision=Decision.RETRY, data=before
        )
        _event(capture, "processing queued again", {**_who(actor), **before})
        captured_id = capture.id
        transaction.on_commit(lambda: enqueue_processing(captured_id))
    capture.refresh_from_db()
    return capture


# -- review ------------------------------------------------------------------------


def _sealed_readers(readers: Iterable[Any]) -> list[Any]:
    found = list(readers)
    if not found:
        raise ValidationError(
            _("Name at least one curator who may read a sealed record."), code="review.readers"
        )
    for reader in found:
        if not selectors.may_seal(reader):
            raise ValidationError(
                _("Only curators and administrators can be readers of a sealed record."),
                code="review.readers",
            )
    return found


def review_decide(
    *,
    actor: Any,
    capture: Capture,
    decision: str,
    reason: str = "",
    visibility: str = "",
    embargo_until: date | None = None,
    sealed_readers: Iterable[Any] = (),
    target_record: Record | None = None,
) -> ReviewDecision:
    """Approve (with a visibility), reject, ask for a re-capture, or merge into a record."""
    if not selectors.may_review(actor):
        raise PermissionDenied("review.forbidden")
    reason = reason.strip()
    readers: list[Any] = []
    data: dict[str, Any] = {}
    if decision == Decision.APPROVE:
        if visibility not in APPROVE_VISIBILITIES:
            raise ValidationError(_("Choose who may see the record."), code="review.visibility")
        if visibility == Visibility.SEALED:
            if not selectors.may_seal(actor):
                raise PermissionDenied("review.seal_forbidden")
            readers = _sealed_readers(sealed_readers)
            data["sealed_readers"] = [r.pk for r in readers]
        if visibility == Visibility.EMBARGOED:
            if embargo_until is None:
                raise ValidationError(
                    _("An embargo needs the date it ends."), code="review.embargo_date"
                )
            data["embargo_until"] = embargo_until.isoformat()
        else:
            embargo_until = None
    elif decision in (Decision.REJECT, Decision.RECAPTURE):
        if not reason:
            raise ValidationError(
                _("Say why, so that the contributor knows what to do."), code="review.reason"
            )
        visibility = ""
    elif decision == Decision.MERGE:
        if target_record is None or target_record.pk == capture.record_id:
            raise ValidationError(_("Choose the record to move it to."), code="review.target")
        visibility = ""
    else:
        raise ValidationError(_("There is no such decision."), code="review.decision")

    with transaction.atomic():
        capture = Capture.objects.select_for_update().select_related("record").get(id=capture.id)
        record = capture.record
        touched = [capture.id]
        if decision == Decision.APPROVE:
            if capture.state != CaptureState.READY:
                raise ValidationError(
                    _("Only a processed capture can be approved."), code="review.not_ready"
                )
            data["from_visibility"] = record.visibility
            record.visibility = visibility
            record.embargo_until = embargo_until
            record.save(update_fields=["visibility", "embargo_until", "updated_at"])
            record.sealed_readers.set(readers)
            touched = list(record.captures.values_list("id", flat=True))
        elif decision == Decision.MERGE:
            assert target_record is not None
            data["from_record"] = record.pk
            data["to_record"] = target_record.pk
            Capture.objects.filter(id=capture.id).update(record=target_record)
        row = ReviewDecision.objects.create(
            capture=capture,
            reviewer=actor,
            decision=decision,
            reason=reason,
            visibility=visibility,
            embargo_until=embargo_until,
            data=data,
        )
        _event(
            capture,
            f"review: {decision}" + (f" as {visibility}" if visibility else ""),
            {**_who(actor), "decision": decision, "reason": reason, **data},
        )
    log.info("capture %s: %s by user %s", capture.id, decision, actor.pk)
    _write_metadata(touched)
    return row

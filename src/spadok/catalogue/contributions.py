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
from dataclasses import dataclass
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
from spadok.catalogue.signals import send_capture_changed
from spadok.core.errors import SpadokError
from spadok.evidence.services import custody_append
from spadok.preservation import services as preservation
from spadok.preservation.models import EventType
from spadok.search.index import refresh_records
from spadok.sites.models import Site

log = logging.getLogger(__name__)

APPROVE_VISIBILITIES = (
    Visibility.PUBLIC,
    Visibility.COARSE,
    Visibility.EMBARGOED,
    Visibility.SEALED,
)


def access_log(*, user: Any, record: Record, capture: Capture | None, action: str) -> AccessLog:
    """Custody: who opened sealed material, what, and when."""
    custody_append(
        record=record, capture=capture, actor=user, action="access.sealed", data={"action": action}
    )
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


# -- sites -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSite:
    """A site a contributor describes in the capture form (the registry files it)."""

    name: str
    type: str
    settlement: str = ""
    lang: str = "uk"


def _describe_site(
    actor: Any, new: NewSite, lat: float | None, lon: float | None, sensitive: bool
) -> Site:
    from spadok.sites.services import describe_site

    if not new.name.strip():
        raise ValidationError(_("Give the new site a name."), code="describe.site")
    if lat is None or lon is None:
        raise ValidationError(
            _("A new site needs its place: set the point on the map or type the coordinates."),
            code="describe.site",
        )
    try:
        return describe_site(
            names={new.lang: new.name},
            latitude=lat,
            longitude=lon,
            type=new.type,
            settlement=new.settlement,
            sensitive=sensitive,
            by_user=actor,
        )
    except SpadokError as exc:
        raise ValidationError(exc.message, code="describe.site") from exc


# -- the contributor in the preservation record -------------------------------------


def contributor_metadata(capture: Capture) -> dict[str, Any] | None:
    """Who sent the capture, as its OCFL object's record.json keeps it.

    The account appears only as its pseudonymous, stable reference
    (``Profile.archive_ref``: no user name, e-mail or database id), so that a
    rebuilt catalogue can link the capture back to an account that still
    exists; the display name only when its owner chose to be credited; and
    what they agreed to (consent, licence). None for captures nobody sent
    (the command line).
    """
    if capture.contributor_id is None:
        return None
    from spadok.accounts.models import Profile
    from spadok.accounts.services import profile_ensure

    user = capture.contributor
    assert user is not None
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        profile = profile_ensure(user=user)
    data: dict[str, Any] = {
        "account": profile.archive_ref,
        "credited": bool(profile.credit_me),
        "consent_at": capture.consent_at.isoformat() if capture.consent_at else None,
        "licence": capture.licence or None,
    }
    if profile.credit_me and profile.display_name:
        data["display_name"] = profile.display_name
    return data


def contributor_from_metadata(data: dict[str, Any] | None) -> Any:
    """The account a record.json's contributor block names, if it exists here."""
    if not data or not data.get("account"):
        return None
    from spadok.accounts.models import Profile

    profile = (
        Profile.objects.select_related("user").filter(archive_ref=str(data["account"])).first()
    )
    return profile.user if profile is not None else None


def contributor_rewrite_metadata(*, user_id: int) -> int:
    """Write record.json again for every capture of this person (after a credit change)."""
    ids = list(Capture.objects.filter(contributor_id=user_id).values_list("id", flat=True))
    _write_metadata(ids)
    return len(ids)


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
    site: Site | None = None,
    new_site: NewSite | None = None,
    flag_sensitive_site: bool = False,
) -> Capture:
    """The contributor says what, when and where they captured, under which licence.

    The place is a site of the registry (``site``) or one they describe
    (``new_site``, filed through the registry's service at the capture's point,
    sensitive if they say so). A draft record is filed under it at once; a
    reviewed record keeps its site, and a reviewer sees the suggestion.
    """
    if site is not None and new_site is not None:
        raise ValidationError(
            _("Pick a site or describe a new one, not both."), code="describe.site"
        )
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
        if new_site is not None:
            site = _describe_site(actor, new_site, lat, lon, flag_sensitive_site)
        capture.suggested_site = site
        capture.flag_sensitive_site = flag_sensitive_site
        if site is not None and record.visibility == Visibility.DRAFT:
            record.site = site
            record.save(update_fields=["site", "updated_at"])
        capture.save()
        _event(
            capture,
            "described by its contributor",
            {
                **_who(actor),
                "licence": licence,
                "location_source": source,
                "site": site.pk if site is not None else None,
                "new_site": new_site is not None,
                "flags": {
                    "private_interior": flag_private_interior,
                    "faces": flag_faces,
                    "sensitive_site": flag_sensitive_site,
                },
            },
        )
        custody_append(
            capture=capture,
            action="capture.described",
            actor=actor,
            data={"licence": licence, "location_source": source},
        )
    _write_metadata([capture.id])
    refresh_records([record.id])
    send_capture_changed(capture.id)
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
        custody_append(capture=capture, action="processing.retry", actor=actor, data=before)
        captured_id = capture.id
        transaction.on_commit(lambda: enqueue_processing(captured_id))
    capture.refresh_from_db()
    return capture


# -- review ------------------------------------------------------------------------

KEEP = object()  # review_decide(site=KEEP): the record keeps its site


def _site_sensitive(actor: Any, site: Site, sensitive: bool, data: dict[str, Any]) -> None:
    """A reviewer marks the record's site sensitive (or not): the registry records it too."""
    from spadok.sites.services import set_sensitive

    if site.sensitive != sensitive:
        data["site_sensitive"] = {"from": site.sensitive, "to": sensitive}
        set_sensitive(site, sensitive, by_user=actor)


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
    site: Site | object | None = KEEP,
    site_sensitive: bool | None = None,
) -> ReviewDecision:
    """Approve (with a visibility), reject, ask for a re-capture, or merge into a record.

    On approval the reviewer confirms or changes the record's site (``site``: a
    Site, None for no site, :data:`KEEP` to leave it) and may mark that site
    sensitive or not (``site_sensitive``); both are recorded in the decision.
    """
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
            if site is not KEEP:
                data["from_site"] = record.site_id
                record.site = site if isinstance(site, Site) else None
                data["site"] = record.site_id
            record.save(update_fields=["visibility", "embargo_until", "site", "updated_at"])
            if record.site is not None and site_sensitive is not None:
                _site_sensitive(actor, record.site, site_sensitive, data)
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
        custody_append(
            capture=capture,
            action=f"review.{decision}",
            actor=actor,
            data={"decision": decision, "visibility": visibility, "reason": reason, **data},
        )
        if decision == Decision.APPROVE:
            custody_append(
                record=record,
                action="record.visibility",
                actor=actor,
                data={"from": data["from_visibility"], "to": visibility, "capture": capture.id},
            )
    log.info("capture %s: %s by user %s", capture.id, decision, actor.pk)
    send_capture_changed(capture.id)
    _write_metadata(touched)
    refresh_records([record.id, *([target_record.pk] if target_record is not None else [])])
    return row

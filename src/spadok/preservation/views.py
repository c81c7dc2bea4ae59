"""The archive's status page, for staff (archivists and curators) only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from spadok.catalogue.presenters import STATE_LABELS
from spadok.preservation import selectors


def is_staff(user) -> bool:  # type: ignore[no-untyped-def]
    return bool(user.is_active and user.is_staff)


# Anyone else is sent to the sign-in page; the page itself says nothing to them.
staff_required = user_passes_test(is_staff)


@require_GET
@staff_required
def archive(request: HttpRequest) -> HttpResponse:
    last, previous = selectors.audits()
    next_at = selectors.next_audit_at()
    counts = selectors.archive_counts()
    counts["by_state"] = [
        (state, STATE_LABELS.get(state, state), n) for state, n in counts["by_state"]
    ]
    response = render(
        request,
        "preservation/archive.html",
        {
            "last": last,
            "previous": previous,
            "roots": selectors.storage_roots(),
            "counts": counts,
            "next_audit_at": next_at,
            "next_audit_overdue": next_at is not None and next_at <= timezone.now(),
            "pending": selectors.pending_audit(),
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@staff_required
def archive_audit(request: HttpRequest) -> HttpResponse:
    """Queue a full audit with repair; a second click while one waits queues nothing."""
    from spadok.preservation.tasks import run_audit

    if selectors.pending_audit() is not None:
        messages.info(request, _("An audit is already queued or running; no other was queued."))
    else:
        run_audit.enqueue(True)
        messages.success(
            request,
            _("An audit with repair was queued. A worker runs it: reload this page later."),
        )
    return redirect("preservation:archive")


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitors: 200 when this process can serve, else 503.

    Curators and administrators (signed in, or with their API token) also get the
    queues, the workers alive and the last audit, as ``spadok info --json`` prints.
    """
    from spadok.catalogue.selectors import may_seal
    from spadok.jobs.selectors import health as check
    from spadok.jobs.selectors import operations_status

    ok, body = check()
    if ok and may_seal(request.user):
        body["operations"] = operations_status()
    return JsonResponse(body, status=200 if ok else 503)

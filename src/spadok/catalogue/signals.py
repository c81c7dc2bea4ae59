"""Signals other apps may listen to; the catalogue's services send them.

``capture_changed(capture_id=…)`` is sent after a capture's site, processing
state or review decision changed, once the change is committed. Receivers
only queue their own jobs (which take the id and reload the row); the
catalogue does not know who listens.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

capture_changed = Signal()


def send_capture_changed(capture_id: str) -> None:
    """Send :data:`capture_changed` when the current transaction commits (now if none)."""
    transaction.on_commit(
        lambda: capture_changed.send(sender="spadok.catalogue", capture_id=capture_id)
    )

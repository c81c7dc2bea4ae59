"""The custody log: hash-chained, append-only entries, one chain per subject.

A chain is named by its subject's id (a capture ``c-…``, a record ``r-…``, a
site ``s-…``); :class:`CustodyHead` holds each chain's last entry and is the row
that appenders lock, so two workers appending at once queue instead of forking
the chain (docs/adr/0008-custody-log.md). Entries are never changed or deleted:
the ORM refuses, and a database trigger refuses updates (and, on PostgreSQL,
deletes) made by hand. Write through :func:`spadok.evidence.services.custody_append`.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.db import models

from spadok.core.evidence.chain import GENESIS


class AppendOnly(Exception):
    """Someone tried to change or delete a custody entry."""


class CustodyQuerySet(models.QuerySet["CustodyEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnly("custody entries are append-only")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnly("custody entries are append-only")


class CustodyHead(models.Model):
    """The last entry of one chain; locked by whoever appends to it."""

    chain = models.CharField(primary_key=True, max_length=64)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"{self.chain} @{self.seq}"


class CustodyEntry(models.Model):
    """One action on a subject: who, what, when, linked to the chain's previous entry."""

    chain = models.CharField(max_length=64)
    seq = models.PositiveBigIntegerField()
    action = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(db_index=True)
    # The entry exactly as hashed (canonical JSON, with its hash): the columns
    # beside it are copies for queries, the body is the evidence.
    body = models.TextField()
    hash = models.CharField(max_length=64, unique=True)
    prev = models.CharField(max_length=64)

    objects = CustodyQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="custody_one_entry_per_seq")
        ]
        verbose_name_plural = "custody entries"

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("custody entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AppendOnly("custody entries are append-only")

    def entry(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

"""The search index: one document per site and per record.

A document holds what the result list and the facets need (so that a search
is one query over one table) and is written only by :mod:`spadok.search.index`.
Its words live beside it, per backend: an FTS5 table ``search_fts`` (same
rowid) on SQLite, a ``tsv`` tsvector column with a GIN index on PostgreSQL;
both are made by migration 0001 and hold the tokens of :mod:`spadok.core.text`.

Records of every visibility are indexed. What everyone may see is stored as
``public_from`` (the catalogue's :func:`~spadok.catalogue.selectors.public_since`),
compared with the day when a search runs, so that an embargo ends on its day;
what a signed-in reader may see beyond that is decided at query time by
:func:`spadok.catalogue.selectors.visible_q`, never stored here.

Every transaction that writes the index takes the next :class:`SearchState`
version, stamps the documents it writes with it and logs it as a
:class:`SearchChange` (with the documents it removed), so that each process's
copy of the columns (:mod:`spadok.search.columns`) can catch up with only what
changed.
"""

from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    SITE = "site", "site"
    RECORD = "record", "record"


class SearchDocument(models.Model):
    id = models.BigAutoField(primary_key=True)  # the FTS5 rowid
    key = models.CharField(max_length=48, unique=True)  # "site:s-…" / "record:r-…"
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # SET_NULL, not CASCADE: a deleted row's document leaves through the index
    # (refresh_* or rebuild), which logs the removal for every process's copy.
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    record = models.ForeignKey(
        "catalogue.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    names = models.JSONField(default=dict)  # {lang: name}; a record's title is its "" name
    sort_name = models.CharField(max_length=300, blank=True, db_index=True)
    settlement = models.CharField(max_length=200, blank=True)
    region = models.CharField(max_length=8, blank=True, db_index=True)
    type = models.CharField(max_length=32, blank=True, db_index=True)
    damage = models.CharField(max_length=16, blank=True, db_index=True)
    damage_date = models.DateField(null=True, blank=True, db_index=True)
    # Year of the damage (sites) or of the capture (records), for the date facet.
    year = models.IntegerField(null=True, blank=True, db_index=True)
    # Public 3D: a public record with a ready capture (the record itself, or under the site).
    has_3d = models.BooleanField(default=False, db_index=True)
    formats = models.CharField(max_length=200, blank=True)  # "|glb|ply|"
    # The thumbnail derivative to show: the capture of a public record that has one.
    thumb_record = models.CharField(max_length=32, blank=True)
    thumb_capture = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(db_index=True)
    indexed_at = models.DateTimeField(auto_now=True)
    # The first day everyone may see it (sites: always, date.min); None: not public.
    public_from = models.DateField(null=True, blank=True, db_index=True)
    # The SearchState version of the transaction that wrote it last.
    version = models.BigIntegerField(default=0, db_index=True)

    class Meta:
        db_table = "search_document"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.key


class SearchState(models.Model):
    """One row: the index's version, raised by every transaction that writes it.

    The row lock orders writers, so versions follow the order of commits.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)

    class Meta:
        db_table = "search_state"

    def __str__(self) -> str:
        return f"search index version {self.version}"


class SearchChange(models.Model):
    """A version of the index: a random token (a version number can come back after
    a rollback, a token does not) and the documents that version removed."""

    version = models.BigIntegerField(primary_key=True)
    token = models.CharField(max_length=32)
    removed = models.JSONField(default=list)  # document ids
    changed_at = models.DateTimeField()

    class Meta:
        db_table = "search_change"
        ordering = ["version"]

    def __str__(self) -> str:
        return f"search index version {self.version}"

"""The search index: its document table, and its words per backend.

SQLite: an FTS5 table ``search_fts`` (rowid = document id) with three columns
weighted at query time (names, place, body) and prefix indexes for partial
names. PostgreSQL: a ``tsv`` tsvector column with a GIN index. Both hold the
tokens of :mod:`spadok.core.text` as they are (see docs/adr/0006-search.md).
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "names, place, body, tokenize = 'unicode61 remove_diacritics 0', prefix = '3 4 5')",
]
SQLITE_BACKWARD = ["DROP TABLE IF EXISTS search_fts"]
POSTGRES_FORWARD = [
    "ALTER TABLE search_document ADD COLUMN tsv tsvector NOT NULL DEFAULT ''::tsvector",
    "CREATE INDEX search_document_tsv ON search_document USING gin (tsv)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS search_document_tsv",
    "ALTER TABLE search_document DROP COLUMN IF EXISTS tsv",
]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("sites", "0001_initial"),
        ("catalogue", "0004_record_site"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("key", models.CharField(max_length=48, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[("site", "site"), ("record", "record")], max_length=8
                    ),
                ),
                ("names", models.JSONField(default=dict)),
                ("sort_name", models.CharField(blank=True, db_index=True, max_length=300)),
                ("settlement", models.CharField(blank=True, max_length=200)),
                ("region", models.CharField(blank=True, db_index=True, max_length=8)),
                ("type", models.CharField(blank=True, db_index=True, max_length=32)),
                ("damage", models.CharField(blank=True, db_index=True, max_length=16)),
                ("damage_date", models.DateField(blank=True, db_index=True, null=True)),
                ("year", models.IntegerField(blank=True, db_index=True, null=True)),
                ("has_3d", models.BooleanField(db_index=True, default=False)),
                ("formats", models.CharField(blank=True, max_length=200)),
                ("thumb_record", models.CharField(blank=True, max_length=32)),
                ("thumb_capture", models.CharField(blank=True, max_length=32)),
                ("created_at", models.DateTimeField(db_index=True)),
                ("indexed_at", models.DateTimeField(auto_now=True)),
                (
                    "record",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalogue.record",
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="sites.site",
                    ),
                ),
            ],
            options={"db_table": "search_document", "ordering": ["id"]},
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]

"""What everyone may see, stored per document; versions of the index for each
process's copy of its columns (see docs/adr/0012-search-columns-in-memory.md)."""

import datetime as dt
import secrets
from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def _fill(apps: Any, schema_editor: Any) -> None:
    """Documents indexed before this migration get their ``public_from``, and the
    index its first version (so that no ``spadok reindex`` is needed)."""
    from spadok.catalogue.selectors import public_since

    Document = apps.get_model("search", "SearchDocument")
    Record = apps.get_model("catalogue", "Record")
    Document.objects.filter(kind="site").update(public_from=dt.date.min)
    by_since: dict[Any, list[str]] = {}
    for record in Record.objects.only("id", "visibility", "embargo_until").iterator():
        by_since.setdefault(public_since(record), []).append(record.id)
    for since, ids in by_since.items():
        for start in range(0, len(ids), 500):
            Document.objects.filter(kind="record", record_id__in=ids[start : start + 500]).update(
                public_from=since
            )
    apps.get_model("search", "SearchState").objects.update_or_create(id=1, defaults={"version": 1})
    apps.get_model("search", "SearchChange").objects.update_or_create(
        version=1, defaults={"token": secrets.token_hex(16), "changed_at": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_initial"),
        ("catalogue", "0005_capture_suggested_site"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchChange",
            fields=[
                ("version", models.BigIntegerField(primary_key=True, serialize=False)),
                ("token", models.CharField(max_length=32)),
                ("removed", models.JSONField(default=list)),
                ("changed_at", models.DateTimeField()),
            ],
            options={"db_table": "search_change", "ordering": ["version"]},
        ),
        migrations.CreateModel(
            name="SearchState",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
            options={"db_table": "search_state"},
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="public_from",
            field=models.DateField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="version",
            field=models.BigIntegerField(db_index=True, default=0),
        ),
        migrations.AlterField(
            model_name="searchdocument",
            name="record",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="catalogue.record",
            ),
        ),
        migrations.AlterField(
            model_name="searchdocument",
            name="site",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="sites.site",
            ),
        ),
        migrations.RunPython(_fill, migrations.RunPython.noop),
    ]

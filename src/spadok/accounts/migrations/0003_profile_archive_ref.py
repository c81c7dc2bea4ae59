"""Give every profile a pseudonymous reference for the preservation record."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

import spadok.accounts.models


def fill(apps: Any, schema_editor: Any) -> None:
    Profile = apps.get_model("accounts", "Profile")
    for profile in Profile.objects.filter(archive_ref__isnull=True).only("pk"):
        Profile.objects.filter(pk=profile.pk).update(
            archive_ref=spadok.accounts.models.new_archive_ref()
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_profiles_for_existing_users")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="archive_ref",
            field=models.CharField(max_length=40, null=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="profile",
            name="archive_ref",
            field=models.CharField(
                max_length=40,
                unique=True,
                default=spadok.accounts.models.new_archive_ref,
                editable=False,
            ),
        ),
    ]

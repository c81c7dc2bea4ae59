"""Every user that existed before accounts came gets a profile; staff keep their powers as a role."""

import secrets

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Profile = apps.get_model("accounts", "Profile")
    for user in User.objects.filter(profile__isnull=True):
        if user.is_superuser:
            role = "administrator"
        elif user.is_staff:
            role = "curator"
        else:
            role = "contributor"
        Profile.objects.create(
            user=user, display_name=f"volunteer-{secrets.token_hex(2)}", role=role
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

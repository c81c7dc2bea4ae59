"""Every user has a profile, however the user was made (sign-up, createsuperuser, admin).

The receiver only calls the service that makes the profile; no other logic here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="spadok-profile-ensure")
def _user_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        from spadok.accounts.services import profile_ensure

        profile_ensure(user=instance)

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "spadok.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from spadok.campaigns import signals  # noqa: F401 - connects the receivers

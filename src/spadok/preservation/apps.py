from django.apps import AppConfig


class PreservationConfig(AppConfig):
    name = "spadok.preservation"
    label = "preservation"
    verbose_name = "Preservation"
    default_auto_field = "django.db.models.BigAutoField"

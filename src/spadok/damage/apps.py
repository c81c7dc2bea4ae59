from django.apps import AppConfig


class DamageConfig(AppConfig):
    name = "spadok.damage"
    label = "damage"
    verbose_name = "Damage"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class CompareConfig(AppConfig):
    name = "spadok.compare"
    label = "compare"
    verbose_name = "Before and after comparisons"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "spadok.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

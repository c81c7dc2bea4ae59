from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "spadok.api"
    label = "spadok_api"
    verbose_name = "open APIs"

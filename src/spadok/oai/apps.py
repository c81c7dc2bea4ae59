from django.apps import AppConfig


class OaiConfig(AppConfig):
    name = "spadok.oai"
    label = "spadok_oai"
    verbose_name = "OAI-PMH"

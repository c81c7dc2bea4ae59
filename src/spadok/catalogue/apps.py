import mimetypes

from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "spadok.catalogue"
    label = "catalogue"
    verbose_name = "Catalogue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django's own static and file serving guess types from this table;
        # without these, nosniff browsers refuse the meshopt decoder script.
        mimetypes.add_type("text/javascript", ".cjs")
        mimetypes.add_type("text/javascript", ".mjs")
        mimetypes.add_type("model/gltf-binary", ".glb")

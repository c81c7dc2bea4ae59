from django.contrib import admin

from spadok.site.readonly_admin import ReadOnlyAdminMixin
from spadok.sites.models import Region, Site


@admin.register(Region)
class RegionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "__str__")
    exclude = ("geometry",)


@admin.register(Site)
class SiteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "__str__", "type", "region", "damage_status", "wikidata", "sensitive")
    list_filter = ("type", "damage_status", "sensitive", "region")
    search_fields = ("id", "wikidata", "settlement")

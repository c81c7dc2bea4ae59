from django.urls import path

from spadok.sites import views

app_name = "sites"

urlpatterns = [
    path("sites/", views.site_list, name="site-list"),
    path("sites/<str:site_id>/", views.site_page, name="site"),
    path("map/", views.map_page, name="map"),
    path("api/sites.geojson", views.sites_geojson, name="sites-geojson"),
    path("api/regions.geojson", views.regions_geojson, name="regions-geojson"),
]

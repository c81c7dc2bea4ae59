from django.urls import path

from spadok.catalogue import views

app_name = "catalogue"

urlpatterns = [
    path("", views.home, name="home"),
    path("records/", views.browse, name="browse"),
    path("records/<str:record_id>/", views.record_page, name="record"),
    path("records/<str:record_id>.json", views.record_json, name="record-json"),
    path(
        "records/<str:record_id>/captures/<str:capture_id>/<str:kind>/<path:name>",
        views.capture_file,
        name="file",
    ),
]

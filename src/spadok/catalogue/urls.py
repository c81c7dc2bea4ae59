from django.urls import path

from spadok.catalogue import contribution_views, views

app_name = "catalogue"

urlpatterns = [
    path("", views.home, name="home"),
    path("records/", views.browse, name="browse"),
    path("records/<str:record_id>/", views.record_page, name="record"),
    path("records/<str:record_id>.json", views.record_json, name="record-json"),
    path(
        "records/<str:record_id>/captures/<str:capture_id>/",
        contribution_views.capture_page,
        name="capture",
    ),
    path(
        "records/<str:record_id>/captures/<str:capture_id>/status.json",
        contribution_views.capture_status,
        name="capture-status",
    ),
    path(
        "records/<str:record_id>/captures/<str:capture_id>/sites.json",
        contribution_views.capture_sites,
        name="capture-sites",
    ),
    path(
        "records/<str:record_id>/captures/<str:capture_id>/retry/",
        contribution_views.capture_retry,
        name="capture-retry",
    ),
    path("review/", contribution_views.review_queue, name="review"),
    path("review/<str:capture_id>/", contribution_views.review_decide, name="review-decide"),
    path(
        "records/<str:record_id>/captures/<str:capture_id>/<str:kind>/<path:name>",
        views.capture_file,
        name="file",
    ),
]

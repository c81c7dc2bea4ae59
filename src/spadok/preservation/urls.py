from django.urls import path

from spadok.preservation import views

app_name = "preservation"

urlpatterns = [
    path("", views.archive, name="archive"),
    path("audit/", views.archive_audit, name="audit"),
]

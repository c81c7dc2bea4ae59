from django.urls import path

from spadok.evidence import views

app_name = "evidence"

urlpatterns = [
    path("archive/key.pub", views.key_pub, name="key-pub"),
    path(".well-known/spadok-archive-key.pub", views.key_pub, name="key-pub-well-known"),
    path("archive/key/", views.key_page, name="key"),
    path("records/<str:record_id>/dossier/", views.record_dossier, name="record-dossier"),
]

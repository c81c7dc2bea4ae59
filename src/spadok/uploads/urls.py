from django.urls import path

from spadok.uploads import views

app_name = "uploads"

urlpatterns = [
    path("api/uploads/", views.collection, name="collection"),
    path("api/uploads/<uuid:upload_id>", views.upload, name="upload"),
    path("upload/", views.upload_page, name="page"),
]

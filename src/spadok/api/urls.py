from django.urls import path

from spadok.api.embed import embed_page
from spadok.api.main import api

urlpatterns = [
    path("api/", api.urls),
    path("embed/<str:record_id>", embed_page, name="embed"),
]

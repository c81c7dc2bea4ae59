from django.urls import path

from spadok.oai.views import endpoint

urlpatterns = [path("oai", endpoint, name="oai")]

from django.urls import path

from spadok.damage import views

app_name = "damage"

urlpatterns = [
    path("damage/", views.dashboard, name="dashboard"),
    path("damage/stats/<slug:name>.<str:ext>", views.stats_export, name="stats-export"),
    path("damage/sites/<str:site_id>/add/", views.site_add, name="site-add"),
    path("damage/records/<str:record_id>/add/", views.record_add, name="record-add"),
    path("damage/events/<str:event_id>/edit/", views.edit, name="edit"),
    path("damage/events/<str:event_id>/retract/", views.retract, name="retract"),
]

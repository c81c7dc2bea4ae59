from django.urls import path

from spadok.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_new, name="new"),
    path("campaigns/<str:campaign_id>/", views.campaign_page, name="campaign"),
    path("campaigns/<str:campaign_id>/map.geojson", views.campaign_geojson, name="geojson"),
    path("campaigns/<str:campaign_id>/sites/", views.campaign_sites, name="sites"),
    path("campaigns/<str:campaign_id>/join/", views.campaign_join, name="join"),
    path("campaigns/<str:campaign_id>/leave/", views.campaign_leave, name="leave"),
    path("campaigns/<str:campaign_id>/state/", views.campaign_state, name="state"),
    path(
        "campaigns/<str:campaign_id>/members/<int:member_id>/role/",
        views.member_role,
        name="member-role",
    ),
    path("next/", views.next_page, name="next"),
    path("tasks/<int:task_id>/", views.task_page, name="task"),
    path("tasks/<int:task_id>/claim/", views.task_claim, name="claim"),
    path("tasks/<int:task_id>/release/", views.task_release, name="release"),
    path("tasks/<int:task_id>/edit/", views.task_edit, name="edit"),
    path("tasks/<int:task_id>/remove/", views.task_remove, name="remove"),
    path("coverage/", views.coverage_page, name="coverage"),
    path("api/coverage.geojson", views.coverage_geojson, name="coverage-geojson"),
]

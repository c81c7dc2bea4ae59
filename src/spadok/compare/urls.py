from django.urls import path

from spadok.compare import views

app_name = "compare"

urlpatterns = [
    path("records/<str:record_id>/compare/", views.record_compare, name="record-compare"),
    path("comparisons/<str:comparison_id>/", views.comparison_page, name="comparison"),
    path("comparisons/<str:comparison_id>/status.json", views.comparison_status, name="status"),
    path("comparisons/<str:comparison_id>/nudge/", views.comparison_nudge, name="nudge"),
    path("comparisons/<str:comparison_id>/files/<str:role>", views.comparison_file, name="file"),
]

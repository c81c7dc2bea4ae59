from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    # Not redirect_authenticated_user: a signed-in user who is not staff and is sent
    # here from a staff page would loop between the two.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("archive/", include("spadok.preservation.urls")),
    path("", include("spadok.catalogue.urls")),
]

"""The site's URLs for the search tests, tolerant of apps still being written.

Other engineers add apps to the site's URLs in the same tree; while one of
them is half-written its include fails to import. The search tests then run
against the site's URLs without it.
"""

from __future__ import annotations

from django.urls import include, path
from django.views.i18n import set_language

try:
    from spadok.site.urls import urlpatterns
except ImportError:  # pragma: no cover - only while another app is unfinished
    from allauth.account import views as allauth_views

    urlpatterns = [
        path("i18n/setlang/", set_language, name="set_language"),
        path("accounts/login/", allauth_views.login, name="login"),
        path("accounts/logout/", allauth_views.logout, name="logout"),
        path("accounts/", include("allauth.urls")),
        path("account/", include("spadok.accounts.urls")),
        path("archive/", include("spadok.preservation.urls")),
        path("", include("spadok.uploads.urls")),
        path("", include("spadok.sites.urls")),
        path("", include("spadok.search.urls")),
        path("", include("spadok.api.urls")),
        path("", include("spadok.catalogue.urls")),
    ]

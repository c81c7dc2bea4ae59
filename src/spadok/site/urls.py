from allauth.account import views as allauth_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from spadok.accounts import views as accounts_views
from spadok.preservation import views as preservation_views

# The admin signs in through allauth too (rate limits, two-factor), not its own form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    # django-allauth: sign-up, sign-in, password reset, e-mail, two-factor (/accounts/2fa/).
    # "login" and "logout" stay as names for the same views (LOGIN_URL, templates).
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("spadok.accounts.urls")),
    path("api/me", accounts_views.api_me, name="api-me"),
    path("admin/", admin.site.urls),
    path("archive/", include("spadok.preservation.urls")),
    path("health", preservation_views.health, name="health"),
    path("", include("spadok.uploads.urls")),
    path("", include("spadok.sites.urls")),
    path("", include("spadok.search.urls")),
    path("", include("spadok.api.urls")),  # /api/ (REST, oEmbed), /embed/<record>
    path("", include("spadok.oai.urls")),  # /oai
    path("", include("spadok.evidence.urls")),  # /archive/key.pub, dossiers
    path("", include("spadok.damage.urls")),  # /damage/ statistics, damage event forms
    path("", include("spadok.campaigns.urls")),  # /campaigns/, /next/, /tasks/, /coverage/
    path("", include("spadok.compare.urls")),  # /records/<id>/compare/, /comparisons/<id>/
    path("", include("spadok.catalogue.urls")),
]

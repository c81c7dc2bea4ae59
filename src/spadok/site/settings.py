"""Django settings, all derived from :mod:`spadok.config` (the environment)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url

from spadok import config as _config

try:
    CONFIG = _config.load()
except _config.ConfigError as exc:  # stop the start with the message, no traceback
    sys.stderr.write(f"spadok: configuration error: {exc}\n")
    raise SystemExit(2) from None

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = PACKAGE_DIR.parent.parent
SPADOK_HOME = CONFIG.home
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "spadok.sites",
    "spadok.catalogue",
    "spadok.preservation",
    "spadok.jobs",
    "spadok.uploads",
    "spadok.accounts",
    "spadok.evidence",  # the custody log, the archive key, evidence dossiers
    "spadok.damage",  # damage events with their sources, and their statistics
    "spadok.compare",  # before and after: comparisons of two captures
    "spadok.search",
    "spadok.api",
    "spadok.oai",
    "spadok.campaigns",  # campaigns: target sites, tasks near volunteers, claims, progress
    "ninja",  # its bundled Swagger UI for /api/docs (no CDN)
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "spadok.accounts.auth.TokenAuthenticationMiddleware",  # Authorization: Bearer
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "spadok.accounts.middleware.MfaRequiredMiddleware",  # after messages: it leaves one
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "spadok.site.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "spadok.site.urls"
WSGI_APPLICATION = "spadok.site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]


def _database(url: str) -> dj_database_url.DBConfig:
    db = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        db["OPTIONS"] = {
            # WAL lets the web server read while a worker writes; IMMEDIATE makes
            # writers queue on the lock instead of failing mid-transaction.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    return db


DATABASES = {"default": _database(CONFIG.database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One cache shared by every web process and machine (sign-in rate limits and
# lock-outs must hold across them): a table in the archive's own database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "spadok_cache",
    },
    # Each process's own: public fragments that are the same for every reader, kept
    # under a digest of what they show (the record page, see spadok.catalogue.views).
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "spadok-pages",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "processing"],
    }
}

LANGUAGE_CODE = "uk"
LANGUAGES = [("uk", "Українська"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = CONFIG.home / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise looks here before collectstatic
NODE_MODULES = PROJECT_DIR / "node_modules"
# Front-end libraries come from npm at install time and are served from
# node_modules as they are; nothing is copied into the repository.
STATICFILES_DIRS = [
    PACKAGE_DIR / "site" / "static",  # spadok's own CSS and JS under spadok/
    ("vendor/model-viewer", NODE_MODULES / "@google" / "model-viewer" / "dist"),
    ("vendor/three-libs", NODE_MODULES / "three" / "examples" / "jsm" / "libs"),
    # model-viewer loads its meshopt decoder location as a classic <script>;
    # meshoptimizer's meshopt_decoder.cjs is the only non-module build in node_modules.
    ("vendor/meshoptimizer", NODE_MODULES / "meshoptimizer"),
    # Uppy is ESM-only: `make` bundles static_src/upload.js here with esbuild (not committed).
    ("uploads", PROJECT_DIR / "build" / "static" / "uploads"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Served with a script type, or nosniff makes browsers refuse to run them.
WHITENOISE_MIMETYPES = {".cjs": "text/javascript", ".mjs": "text/javascript"}
WHITENOISE_AUTOREFRESH = DEBUG

# Everyone signs in with django-allauth (see the accounts block below).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:account"
LOGOUT_REDIRECT_URL = "catalogue:home"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "spadok": {"level": "INFO"},
        "django_tasks_db": {"level": "WARNING"},
    },
}

SPADOK = CONFIG

# -- accounts: sign-up, sign-in, two-factor, tokens (spadok.accounts, django-allauth) --
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "spadok.accounts.forms.SignupExtraForm"
ACCOUNT_USER_DISPLAY = "spadok.accounts.selectors.user_display"  # never the user name
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_LOGOUT_ON_GET = False
# A signed-in user sent to sign-in from a staff page sees why, instead of a redirect loop.
ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS = False
ACCOUNT_PREVENT_ENUMERATION = True
# Failed sign-ins: 5 per 5 minutes per address and per account, then a lock-out.
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "spadok"
EMAIL_SUBJECT_PREFIX = "[spadok] "
DEFAULT_FROM_EMAIL = CONFIG.contact_email or "spadok@localhost"
try:
    _EMAIL = _config.email_settings(os.environ.get("SPADOK_EMAIL_URL", ""))
    HTTPS = _config.env_bool("SPADOK_HTTPS", False)
except _config.ConfigError as exc:
    sys.stderr.write(f"spadok: configuration error: {exc}\n")
    raise SystemExit(2) from None
# No mail server in the embedded profile: mail goes to the console (SPADOK_EMAIL_URL for SMTP).
EMAIL_BACKEND = str(_EMAIL["EMAIL_BACKEND"])
EMAIL_HOST = str(_EMAIL.get("EMAIL_HOST", "localhost"))
EMAIL_PORT = int(str(_EMAIL.get("EMAIL_PORT", 25)))
EMAIL_HOST_USER = str(_EMAIL.get("EMAIL_HOST_USER", ""))
EMAIL_HOST_PASSWORD = str(_EMAIL.get("EMAIL_HOST_PASSWORD", ""))
EMAIL_USE_TLS = bool(_EMAIL.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_EMAIL.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = 30
# Behind HTTPS (SPADOK_HTTPS=true): cookies only over TLS; trust the proxy's X-Forwarded-Proto.
if HTTPS and not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

# -- contributions: the capture form's map (spadok.catalogue) --
# Leaflet from npm, served from node_modules like the other front-end libraries.
STATICFILES_DIRS += [("vendor/leaflet", NODE_MODULES / "leaflet" / "dist")]
# Map tiles, e.g. "https://tile.example.org/{z}/{x}/{y}.png"; empty: no tiles (a plain
# background to click on), so the site still loads nothing from other servers.
SPADOK_TILE_URL = os.environ.get("SPADOK_TILE_URL", "").strip()
if SPADOK_TILE_URL and not (
    SPADOK_TILE_URL.startswith(("https://", "http://"))
    and all(part in SPADOK_TILE_URL for part in ("{z}", "{x}", "{y}"))
):
    sys.stderr.write(
        "spadok: configuration error: SPADOK_TILE_URL must be an http(s) URL with "
        "{z}, {x} and {y} in it, or empty for no tiles\n"
    )
    raise SystemExit(2)
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # type: ignore[index]
    "spadok.catalogue.context_processors.review"
)

# -- the map of sites (spadok.sites) --
STATICFILES_DIRS += [
    ("vendor/leaflet.markercluster", NODE_MODULES / "leaflet.markercluster" / "dist"),
]
# Shown under the map when SPADOK_TILE_URL is set (the tile server's licence asks for it).
SPADOK_TILE_ATTRIBUTION = os.environ.get("SPADOK_TILE_ATTRIBUTION", "").strip()

# -- open APIs: REST at /api/, OAI-PMH at /oai (spadok.api, spadok.oai) --
# Items per OAI-PMH list response, and how long its resumption token stays valid.
try:
    SPADOK_OAI_PAGE_SIZE = _config._int(dict(os.environ), "SPADOK_OAI_PAGE_SIZE", 100)
    SPADOK_OAI_TOKEN_HOURS = _config._int(dict(os.environ), "SPADOK_OAI_TOKEN_HOURS", 24)
except _config.ConfigError as exc:
    sys.stderr.write(f"spadok: configuration error: {exc}\n")
    raise SystemExit(2) from None

# -- campaigns: tasks, claims and coverage (spadok.campaigns) --
# How long a claim holds a task for one volunteer by default (each campaign may set
# its own), and how many tasks one person may hold at once.
try:
    SPADOK_CLAIM_HOURS = _config._int(dict(os.environ), "SPADOK_CLAIM_HOURS", 48)
    SPADOK_MAX_CLAIMS = _config._int(dict(os.environ), "SPADOK_MAX_CLAIMS", 5)
except _config.ConfigError as exc:
    sys.stderr.write(f"spadok: configuration error: {exc}\n")
    raise SystemExit(2) from None
if SPADOK_CLAIM_HOURS > 24 * 14:
    sys.stderr.write("spadok: configuration error: SPADOK_CLAIM_HOURS must be at most 336\n")
    raise SystemExit(2)

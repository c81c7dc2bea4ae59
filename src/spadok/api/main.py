"""The REST API: one NinjaAPI at /api/, its schema at /api/openapi.json.

The interactive documentation at /api/docs is Swagger UI served from this
server (Ninja's bundled copy, "ninja" in INSTALLED_APPS), never from a CDN,
so the strict Content Security Policy holds there too.
"""

from __future__ import annotations

import importlib.util

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from spadok import __version__
from spadok.api import errors
from spadok.api.routers import oembed, records, sites

DESCRIPTION = """Open data of the archive: sites, records, captures and their web copies.

Read-only and public: every answer shows what the public pages show, no more.
A personal API token (`Authorization: Bearer TOKEN`) lets its owner also read
the records they may see on the site (their own drafts, for example).
Errors are `{"code", "message", "detail"}` with a stable `code`.
Harvesters: OAI-PMH 2.0 at `/oai` (oai_dc and EDM).
"""

api = NinjaAPI(
    title="spadok API",
    version=__version__,
    description=DESCRIPTION,
    urls_namespace="api",
    docs=Swagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("/sites", sites.router)
api.add_router("/records", records.router)
api.add_router("/captures", records.captures_router)
api.add_router("/oembed", oembed.router)

# Search is another app's router; mounted when that app provides it.
if importlib.util.find_spec("spadok.search.api") is not None:
    api.add_router("/search", "spadok.search.api.router")
# Campaigns' "tasks near me", for signed-in volunteers (a personal API token).
if importlib.util.find_spec("spadok.campaigns.api") is not None:
    api.add_router("/tasks", "spadok.campaigns.api.router")

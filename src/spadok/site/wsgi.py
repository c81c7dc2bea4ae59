"""The WSGI application that `spadok serve` hands to granian."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
application = get_wsgi_application()

from django.urls import reverse  # noqa: E402  (these need the apps loaded above)

from spadok.search import query  # noqa: E402

# What the first reader would otherwise wait for, done once as the process starts:
# the URLs (imported and indexed on the first link made), the lemmatiser's
# dictionaries and the search index's columns.
reverse("catalogue:home")
query.warm()

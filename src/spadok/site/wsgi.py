"""The WSGI application that `spadok serve` hands to granian."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
application = get_wsgi_application()

"""ASGI entry point (uvicorn): the live front in front of Django.

``results.stream.LiveApp`` answers ``/live/stream`` (Server-Sent Events, fanned out from one
Redis connection per process) and GET/HEAD of the ``/live/`` snapshot documents from
pre-built bytes, without Django's per-request cost; everything else goes to Django.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_application = get_asgi_application()

from results.stream import LiveApp  # noqa: E402 - needs the apps loaded by get_asgi_application

application = LiveApp(django_application)

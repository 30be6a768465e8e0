"""``/live/``: snapshot documents and the live stream (docs/live-data.md)."""

from django.urls import path, re_path

from . import live_views

app_name = "live"
urlpatterns = [
    path("live/stream", live_views.stream, name="stream"),
    re_path(r"^live/(?P<path>.+)$", live_views.document, name="document"),
]

"""``/live/...``: the snapshot documents and the live stream, for servers without the ASGI
front (``config/asgi.py`` answers these paths itself, before Django, with the same rules).

The documents are only read here, never built: ``results.publication`` writes them.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET, require_safe

from .stream import DATE, accepts_gzip, document_server, iter_stream_blocking


@require_safe
def document(request: HttpRequest, path: str) -> HttpResponse:
    """A snapshot document (docs/live-data.md): ETag, 304 and Cache-Control as the contract says."""
    status, headers, body = document_server(Path(settings.SNAPSHOT_ROOT)).respond(
        path,
        request.headers.get("If-None-Match"),
        gzip_ok=accepts_gzip(request.headers.get("Accept-Encoding")),
    )
    response = HttpResponse(b"" if request.method == "HEAD" else body, status=status)
    for name, value in headers:
        response[name.decode()] = value.decode()
    return response


@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    """The live stream, one thread per client: for the development and test servers."""
    date = request.GET.get("date", "")
    if not DATE.match(date):
        return HttpResponseBadRequest("GET /live/stream?date=YYYY-MM-DD", content_type="text/plain")
    last_id = request.headers.get("Last-Event-ID") or request.GET.get("last_id", "")
    response = StreamingHttpResponse(
        iter_stream_blocking(date, last_id), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"
    return response

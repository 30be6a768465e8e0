"""HTTP mechanics shared by every read endpoint: conditional requests, caching, pagination.

**Conditional requests.** Every 200 carries a strong ``ETag`` (a hash of the body) and a
``Last-Modified``; a request whose ``If-None-Match`` matches (or, without one, whose
``If-Modified-Since`` is not older than ``Last-Modified``) gets ``304 Not Modified`` with no
body. A poller that sends back the ETag it was given therefore gets 304 for as long as
nothing it asked for changed.

**The change token.** Every accepted change of a result appends a ``ResultEvent`` in the same
transaction (``results.services``), and new ballots and candidacies get new ids, so the
highest event, ballot and candidacy ids are a cheap token of "anything changed": one query
of three index lookups. A rendered document is kept in the cache under its URL and that
token for ``API_RESPONSE_CACHE_SECONDS``; a request whose token has not moved is answered
from the cache, so polling costs one query and one cache read, and a result is never served
stale. On PostgreSQL, event ids are drawn before commit and can become visible out of order;
while another transaction holds an uncommitted insert into the event table, nothing is
cached (see ``change_token``). Edits that change an existing row without an event (a party
renamed, a ward's name corrected) reach cached documents within
``API_RESPONSE_CACHE_SECONDS``.

**Cache-Control** says how long shared caches may keep a document: ``LIVE`` for anything
that can still change on the night, ``SETTLED`` for elections some days past (corrections
remain possible, so even these revalidate hourly), ``REFERENCE`` for councils and parties,
``FEED`` (one second) for the change feed.

**Pagination** is keyset ("cursor") pagination on a unique, indexed key: the cost of a page
does not grow with its depth, and concurrent inserts never shift a page under a client.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from rest_framework.pagination import BasePagination
from rest_framework.renderers import BaseRenderer, JSONRenderer

from config.api_errors import ErrorCode, invalid_parameter

LIVE = "public, max-age=5, stale-while-revalidate=10, stale-if-error=300"
SETTLED = "public, max-age=3600, stale-while-revalidate=86400, stale-if-error=604800"
REFERENCE = "public, max-age=300, stale-while-revalidate=600, stale-if-error=86400"
# One second: a front cache may answer a crowd of pollers from one request to the API (a
# cached page is never wrong for the feed, only older: its ``next`` is not past anything).
FEED = "public, max-age=1"

JSON = "application/json"


def cache_seconds() -> float:
    return float(getattr(settings, "API_RESPONSE_CACHE_SECONDS", 60))


def settled_after_days() -> int:
    return int(getattr(settings, "API_SETTLED_AFTER_DAYS", 3))


def is_settled(day: dt.date | None) -> bool:
    """Whether an election on ``day`` is settled: far enough past that only a rare official
    correction can still change it."""
    if day is None:
        return False
    return day <= timezone.localdate() - dt.timedelta(days=settled_after_days())


def policy_for_dates(days: Sequence[dt.date | None]) -> str:
    """``SETTLED`` when every date given is settled (and there is at least one), else ``LIVE``."""
    return SETTLED if days and all(is_settled(d) for d in days) else LIVE


def dumps(value: Any) -> bytes:
    """orjson, with Decimals as strings (as DRF renders them)."""
    return orjson.dumps(value, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Document:
    """A rendered response body and how it may be cached.

    ``last_modified`` is when the data last changed, when the builder knows it; the
    ``Last-Modified`` header is the later of it and the first time this exact body was
    served. ``cacheable=False`` keeps the body out of the server-side cache (a change feed
    page cut short by an in-flight write).
    """

    body: bytes
    cache_control: str = LIVE
    content_type: str = JSON
    last_modified: dt.datetime | None = None
    cacheable: bool = True
    headers: tuple[tuple[str, str], ...] = ()


def json_document(payload: Any, **kwargs: Any) -> Document:
    return Document(body=dumps(payload), **kwargs)


@dataclass(frozen=True)
class ChangeToken:
    """What has changed, cheaply: the highest committed ``ResultEvent`` id, the highest
    ballot and candidacy ids (new contests and candidates arrive without events), and
    whether another transaction may still commit events with lower ids (PostgreSQL only)."""

    max_event_id: int
    writers_in_flight: bool
    max_ballot_id: int = 0
    max_candidacy_id: int = 0

    @property
    def key(self) -> str:
        return f"{self.max_event_id}.{self.max_ballot_id}.{self.max_candidacy_id}"


_MAXIMA_SQL = """
(SELECT max(id) FROM results_resultevent), (SELECT max(id) FROM elections_ballot),
(SELECT max(id) FROM elections_candidacy)
"""
_PG_CHANGE_STATE_SQL = f"""
SELECT {_MAXIMA_SQL},
       EXISTS (
           SELECT 1 FROM pg_locks
           WHERE locktype = 'relation'
             AND relation = 'results_resultevent'::regclass
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND mode = 'RowExclusiveLock' AND granted AND pid <> pg_backend_pid()
       )
"""  # noqa: S608 - constant SQL, no values


def change_token() -> ChangeToken:
    """One query (three index lookups). On PostgreSQL the maxima are read in the
    statement's snapshot and the lock table after it: when no other transaction holds a
    row-exclusive lock on the event table then, every event id at or below the maximum is
    either committed (and visible to any later statement) or rolled back for good. An insert
    takes that lock before drawing its id and keeps it until commit, so this is exactly the
    "no event can still appear below the maximum" condition. SQLite has one writer at a time,
    so it always holds."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_CHANGE_STATE_SQL)
            events, ballots, candidacies, in_flight = cursor.fetchone()
        else:
            cursor.execute(f"SELECT {_MAXIMA_SQL}")  # noqa: S608 - constant SQL
            (events, ballots, candidacies), in_flight = cursor.fetchone(), False
    return ChangeToken(
        max_event_id=events or 0,
        writers_in_flight=bool(in_flight),
        max_ballot_id=ballots or 0,
        max_candidacy_id=candidacies or 0,
    )


@dataclass
class _Entry:
    """A rendered document's validators and headers; the body is kept under its own key so
    that a 304 never reads it."""

    etag: str
    last_modified: float
    cache_control: str
    content_type: str
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    body: bytes | None = None


def _request_key(request: HttpRequest, token: ChangeToken) -> str:
    query = sorted((k, v) for k, values in request.GET.lists() for v in values)
    raw = f"{request.scheme}://{request.get_host()}{request.path}?{urlencode(query)}#{token.key}"
    return "api:doc:" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _first_seen(etag: str) -> float:
    now = timezone.now().timestamp()
    key = "api:seen:" + etag.strip('"')
    # add() keeps the earliest time across processes sharing the cache.
    cache.add(key, now, timeout=7 * 24 * 3600)
    return float(cache.get(key) or now)


def serve(request: HttpRequest, build: Callable[[ChangeToken], Document]) -> HttpResponse:
    """Answer a GET/HEAD with the document ``build`` renders, or 304 if the client has it.

    ``build`` runs only when no cached rendering exists for this URL and change token. A
    request carrying a current validator costs the token query and one small cache read.
    """
    token = change_token()
    ttl = cache_seconds()
    key = _request_key(request, token)
    entry: _Entry | None = None
    if ttl > 0:
        if _has_validators(request):
            entry = cache.get(key)
            if entry is not None and _not_modified(request, entry.etag, entry.last_modified):
                return conditional_response(request, entry)
            body = cache.get(key + ":body") if entry is not None else None
        else:
            found = cache.get_many([key, key + ":body"])
            entry, body = found.get(key), found.get(key + ":body")
        if entry is not None and body is not None:
            entry.body = body
            return conditional_response(request, entry)
    document = build(token)
    etag = _etag(document.body)
    # Never earlier than the first time this exact body was served: a list can change (a
    # ballot added) without any of its timestamps moving, and If-Modified-Since must not then
    # be answered 304.
    modified = max(_first_seen(etag), document.last_modified.timestamp() if document.last_modified else 0.0)
    entry = _Entry(
        etag=etag,
        last_modified=modified,
        cache_control=document.cache_control,
        content_type=document.content_type,
        headers=document.headers,
    )
    if ttl > 0 and document.cacheable and not token.writers_in_flight:
        cache.set_many({key: entry, key + ":body": document.body}, timeout=ttl)
    entry.body = document.body
    return conditional_response(request, entry)


def _has_validators(request: HttpRequest) -> bool:
    return "HTTP_IF_NONE_MATCH" in request.META or "HTTP_IF_MODIFIED_SINCE" in request.META


def _not_modified(request: HttpRequest, etag: str, last_modified: float) -> bool:
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
        tags = parse_etags(if_none_match)
        return "*" in tags or etag in tags or any(t.removeprefix("W/") == etag for t in tags)
    if_modified_since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return if_modified_since is not None and int(last_modified) <= if_modified_since


def conditional_response(request: HttpRequest, entry: _Entry) -> HttpResponse:
    if _not_modified(request, entry.etag, entry.last_modified):
        response = HttpResponse(status=304)
    else:
        assert entry.body is not None
        body = b"" if request.method == "HEAD" else entry.body
        response = HttpResponse(body, content_type=entry.content_type)
        if request.method == "HEAD":
            response["Content-Length"] = str(len(entry.body))
        for name, value in entry.headers:
            response[name] = value
    response["ETag"] = entry.etag
    response["Last-Modified"] = http_date(entry.last_modified)
    response["Cache-Control"] = entry.cache_control
    response["Vary"] = "Accept-Encoding"
    return response


# -- renderers (content negotiation only: bodies are rendered by ``serve``) ----------------


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


class GeoJsonRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


# -- keyset pagination -------------------------------------------------------------------


class KeysetPagination(BasePagination):
    """``?cursor=<opaque>&page_size=N``: pages of a queryset ordered by one unique key.

    Responses are ``{"next": <url or null>, "results": [...]}``; follow ``next`` until it is
    null. ``page_size`` is 1–``max_page_size`` (default ``page_size``); anything else is a
    400. A cursor that was not issued by this endpoint is a 404 ``invalid_cursor`` (it names
    no page), as DRF's own cursor pagination answers.
    """

    page_size = 100
    max_page_size = 500
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def get_page_size(self, request: HttpRequest) -> int:
        raw = request.GET.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise invalid_parameter(self.page_size_query_param, f"{raw!r} is not a whole number.") from None
        if not 1 <= size <= self.max_page_size:
            raise invalid_parameter(
                self.page_size_query_param, f"must be between 1 and {self.max_page_size}, not {size}."
            )
        return size

    def decode_cursor(self, request: HttpRequest, kind: type) -> Any:
        raw = request.GET.get(self.cursor_query_param)
        if raw is None:
            return None
        from config.api_errors import ApiError

        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)))
            value = decoded["after"]
        except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError, UnicodeEncodeError):
            value = None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ApiError(
                404,
                ErrorCode.INVALID_CURSOR,
                f"{self.cursor_query_param}: not a cursor this endpoint issued; start again without it.",
                field=self.cursor_query_param,
            )
        return value

    @staticmethod
    def encode_cursor(value: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps({"after": value})).decode("ascii").rstrip("=")

    def paginate(
        self, request: HttpRequest, queryset: Any, *, key: str, kind: type = int
    ) -> tuple[list[Any], str | None]:
        """One page of ``queryset`` (``values()`` rows carrying ``key``) and the next link."""
        size = self.get_page_size(request)
        after = self.decode_cursor(request, kind)
        queryset = queryset.order_by(key)
        if after is not None:
            queryset = queryset.filter(**{f"{key}__gt": after})
        rows = list(queryset[: size + 1])
        if len(rows) <= size:
            return rows, None
        rows = rows[:size]
        params = request.GET.copy()
        params[self.cursor_query_param] = self.encode_cursor(rows[-1][key])
        return rows, request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page, or null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position returned in `next`; omit for the first page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Items per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

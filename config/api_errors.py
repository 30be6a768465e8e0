"""JSON errors for the REST API: one body shape, a stable code, a message naming the parameter.

Every refusal the API gives, whatever raised it, has the body::

    {"code": "invalid_parameter", "message": "election_date: Enter a valid date.",
     "field": "election_date"}

``code`` is one of ``ErrorCode`` (stable: clients branch on it); ``message`` is for people and
names the query parameter, path parameter or header at fault; ``field`` names it alone, when
one is at fault. ``ApplicationError``\\s from services and selectors (e.g. an invalid Democracy
Club id) keep their own code, field and ``problems``. Errors are JSON whatever the request's
``Accept`` header asked for, so a CSV download that fails still explains why.
"""

from __future__ import annotations

import enum
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response

from config.errors import ApplicationError


class ErrorCode(enum.StrEnum):
    """The ``code`` of every API error body (documented in the OpenAPI schema)."""

    INVALID_PARAMETER = "invalid_parameter"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_ELECTION_ID = "invalid_election_id"
    API_KEY_IN_QUERY = "api_key_in_query"
    INVALID_API_KEY = "invalid_api_key"
    UNSUPPORTED_AUTHORIZATION = "unsupported_authorization"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PARSE_ERROR = "parse_error"
    THROTTLED = "throttled"
    CONFLICT = "conflict"
    SERVER_ERROR = "server_error"


class ApiError(exceptions.APIException):
    """A refusal raised by API code: ``raise ApiError(400, "invalid_parameter", "...", field="x")``."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.error_code = code
        self.message = message
        self.field = field


def invalid_parameter(field: str, message: str, *, code: str = ErrorCode.INVALID_PARAMETER) -> ApiError:
    """A 400 for one bad query or path parameter; the message is prefixed with its name."""
    return ApiError(400, code, f"{field}: {message}", field=field)


def error_body(code: str, message: str, *, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    body.update(extra)
    return body


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    # An error must never be served from a cache as if it were the resource.
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten_detail(detail: Any) -> tuple[str | None, str]:
    """The first (field, message) of a DRF ``ValidationError`` detail (dict, list or string)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            _, message = _flatten_detail(value)
            field = None if key in ("non_field_errors", "__all__") else str(key)
            return field, message
        return None, "Invalid request."
    if isinstance(detail, list | tuple):
        return (None, _flatten_detail(detail[0])[1]) if detail else (None, "Invalid request.")
    return None, str(detail)


_DRF_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.NotFound, ErrorCode.NOT_FOUND),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, ErrorCode.NOT_ACCEPTABLE),
    (exceptions.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.ParseError, ErrorCode.PARSE_ERROR),
    (exceptions.AuthenticationFailed, ErrorCode.AUTHENTICATION_FAILED),
    (exceptions.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED),
    (exceptions.PermissionDenied, ErrorCode.FORBIDDEN),
)


def error_parts(exc: Exception, context: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    """(status, body, headers) of the JSON error for ``exc``, or None for anything that is
    not a refusal (a server error is not dressed up as a client error)."""
    if isinstance(exc, ApplicationError):
        return exc.status_code, exc.as_dict(), {}
    if isinstance(exc, ApiError):
        headers = {"WWW-Authenticate": 'Api-Key realm="api"'} if exc.status_code == 401 else {}
        return exc.status_code, error_body(exc.error_code, exc.message, field=exc.field), headers
    if isinstance(exc, DjangoValidationError):
        field, message = _flatten_detail(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        message = f"{field}: {message}" if field else message
        return 400, error_body(ErrorCode.INVALID_PARAMETER, message, field=field), {}
    if isinstance(exc, Http404):
        return 404, error_body(ErrorCode.NOT_FOUND, str(exc) or "Not found."), {}
    if isinstance(exc, PermissionDenied):
        return 403, error_body(ErrorCode.FORBIDDEN, str(exc) or "Forbidden."), {}
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait) if exc.wait is not None else None
        message = "Too many requests: this address or API key is over its rate limit."
        if wait is not None:
            message += f" Try again in {wait} second(s)."
        headers = {"Retry-After": str(wait)} if wait is not None else {}
        return 429, error_body(ErrorCode.THROTTLED, message, retry_after=wait), headers
    if isinstance(exc, exceptions.ValidationError):
        field, message = _flatten_detail(exc.detail)
        message = f"{field}: {message}" if field else message
        return 400, error_body(_detail_code(exc.detail), message, field=field), {}
    if isinstance(exc, exceptions.APIException):
        code = next((c for kind, c in _DRF_CODES if isinstance(exc, kind)), None)
        if code is None:
            code = ErrorCode.CONFLICT if exc.status_code == 409 else ErrorCode.INVALID_PARAMETER
        _, message = _flatten_detail(exc.detail)
        headers = {}
        if isinstance(exc, exceptions.MethodNotAllowed):
            view = context.get("view")
            if view is not None:
                headers["Allow"] = ", ".join(view.allowed_methods)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        return exc.status_code, error_body(code, message), headers
    return None


def _detail_code(detail: Any) -> str:
    """``invalid_election_id`` when the first error is a Democracy Club id refused by
    ``elections.ids``; otherwise ``invalid_parameter``."""
    while isinstance(detail, dict | list | tuple) and detail:
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    code = getattr(detail, "code", None)
    return (
        ErrorCode.INVALID_ELECTION_ID
        if code == ErrorCode.INVALID_ELECTION_ID
        else ErrorCode.INVALID_PARAMETER
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The project's DRF ``EXCEPTION_HANDLER``: the JSON body above as a DRF ``Response``
    (rendered by the view's renderer, so views may still reshape ``response.data``)."""
    parts = error_parts(exc, context)
    if parts is None:
        return None
    status, body, headers = parts
    return Response(body, status=status, headers={"Cache-Control": "no-store", **headers})


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """The read API's handler: always a JSON body, whatever the endpoint renders on success
    (a CSV export that fails still explains why in JSON)."""
    parts = error_parts(exc, context)
    if parts is None:
        return None
    status, body, headers = parts
    return json_error(status, body, headers)

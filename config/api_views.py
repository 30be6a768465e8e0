"""Base classes of every read endpoint: who may call (``config.api_auth``), how bodies are
served (``config.api_http.serve``), how the schema is described (``config.api_schema``).

Views are thin: they validate parameters (django-filter ``FilterSet``\\s and the paginator),
call a records module (``*/api/records.py``) that builds plain dicts in a fixed number of
queries, and hand ``serve`` a function producing the ``Document``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, views, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from config.api_auth import AnonApiThrottle, ApiKeyAuthentication, ApiKeyThrottle, ReadOnly
from config.api_errors import ApiError, ErrorCode, invalid_parameter, json_exception_handler
from config.api_http import ChangeToken, Document, KeysetPagination, json_document, serve
from config.api_schema import ApiAutoSchema

# Path parameters are matched loosely ([^/]+, so ids with dots and colons reach the view);
# the view validates them and answers a typed 400 for a malformed one.
LOOKUP_VALUE_REGEX = "[^/]+"


def path_parameter(name: str, pattern: str, description: str) -> OpenApiParameter:
    """A path parameter for the schema, with the pattern of the values the view accepts."""
    return OpenApiParameter(name, str, OpenApiParameter.PATH, pattern=pattern, description=description)


def not_found(what: str) -> ApiError:
    return ApiError(404, ErrorCode.NOT_FOUND, f"No {what} is stored.")


class ReadApiMixin:
    authentication_classes: ClassVar[list[type]] = [ApiKeyAuthentication]
    permission_classes: ClassVar[list[type]] = [ReadOnly]
    throttle_classes: ClassVar[list[type]] = [AnonApiThrottle, ApiKeyThrottle]
    renderer_classes: ClassVar[list[type]] = [JSONRenderer]
    schema = ApiAutoSchema()

    def get_exception_handler(self) -> Any:
        return json_exception_handler


class ReadApiViewSet(ReadApiMixin, viewsets.GenericViewSet):
    """List and detail over a model, answered with plain-dict documents."""

    pagination_class = KeysetPagination
    filter_backends: ClassVar[list[type]] = [DjangoFilterBackend]
    lookup_value_regex = LOOKUP_VALUE_REGEX

    def filtered(self) -> tuple[Any, dict[str, Any]]:
        """The view's queryset narrowed by its FilterSet, and the cleaned filter values.

        Raises a 400 naming the first bad parameter.
        """
        queryset = self.get_queryset()
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is None:
            return queryset, {}
        filterset = filterset_class(self.request.query_params, queryset=queryset, request=self.request)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset.qs, filterset.form.cleaned_data

    def list_page(
        self,
        rows: Callable[[Any], Any],
        records: Callable[[list[Any]], list[dict[str, Any]]],
        *,
        key: str,
        kind: type = int,
        cache_control: Callable[[dict[str, Any]], str],
        last_modified: Callable[[list[Any]], dt.datetime | None] | None = None,
    ) -> HttpResponse:
        """A list endpoint's answer: ``{"next": <link or null>, "results": [...]}``.

        ``rows`` turns the filtered queryset into ``values()`` rows carrying ``key`` (the
        keyset the page is cut on, of type ``kind``), ``records`` turns a page of them into
        the published records; ``cache_control`` picks the policy from the cleaned filter
        values and ``last_modified``, when given, dates the page.
        """

        def build(token: ChangeToken) -> Document:
            queryset, cleaned = self.filtered()
            page, next_link = self.paginator.paginate(self.request, rows(queryset), key=key, kind=kind)
            return json_document(
                {"next": next_link, "results": records(page)},
                cache_control=cache_control(cleaned),
                last_modified=last_modified(page) if last_modified else None,
            )

        return serve(self.request, build)


class ReadApiView(ReadApiMixin, views.APIView):
    """A single read endpoint (feed, export, scoreboard)."""


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """JSON 404 for any unknown path under /api/ (instead of the site's HTML page)."""
    response = json_exception_handler(
        ApiError(404, ErrorCode.NOT_FOUND, f"No API endpoint at {request.path}. See /api/docs/."), {}
    )
    assert response is not None
    return response


def parse_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validate query parameters with a (plain) serializer: a 400 naming the first bad one.

    A declared parameter that is present but empty is refused, not read as "not given".
    """
    for name in serializer_class().fields:
        if request.query_params.get(name) == "":
            raise invalid_parameter(name, "must not be empty (leave the parameter out for the default).")
    query = serializer_class(data=request.query_params)
    if not query.is_valid():
        field, errors = next(iter(query.errors.items()))
        raise invalid_parameter(field, str(errors[0]))
    return dict(query.validated_data)

"""OpenAPI generation for the read API (drf-spectacular).

``ApiAutoSchema`` documents what every read endpoint can answer besides its 200: the 304 of a
conditional request, the JSON error bodies of ``config.api_errors`` (400, 401, 404, 405, 429)
and the caching headers. The API key scheme is declared as optional: anonymous use is allowed.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from config.api_errors import ErrorCode


class ErrorSerializer(serializers.Serializer):
    """The body of every API error."""

    code = serializers.CharField(
        help_text="Stable and machine-readable: " + ", ".join(c.value for c in ErrorCode) + "."
    )
    message = serializers.CharField(help_text="For people; names the parameter or header at fault.")
    field = serializers.CharField(required=False, help_text="The parameter or header at fault, when one is.")
    retry_after = serializers.IntegerField(
        required=False, allow_null=True, help_text="Seconds to wait (429 only)."
    )
    problems = serializers.ListField(child=serializers.DictField(), required=False)


_ERRORS = {
    "400": "A parameter is invalid (the message names it), or an API key was sent in the URL.",
    "401": "The Authorization header is not a valid `Api-Key <key>` (mistyped, revoked or expired).",
    "404": "No such resource, or a cursor this endpoint did not issue.",
    "405": "The read API accepts GET and HEAD only.",
    "429": "Over the rate limit for this address or key; see Retry-After.",
}

_CACHING_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Strong validator; send back in If-None-Match."},
    "Last-Modified": {"schema": {"type": "string"}, "description": "Send back in If-Modified-Since."},
    "Cache-Control": {"schema": {"type": "string"}, "description": "Short for live data, long once settled."},
}


class ApiAutoSchema(AutoSchema):
    """Adds 304, the error responses and caching headers to every safe operation."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if self.method not in ("GET", "HEAD"):
            return responses
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {}).update(_CACHING_HEADERS)
        responses.setdefault(
            "304",
            {
                "description": "Not modified: the ETag or date you sent is current.",
                "headers": _CACHING_HEADERS,
            },
        )
        for code, description in _ERRORS.items():
            if code not in responses:
                response = self._get_response_for_code(
                    ErrorSerializer, code, media_types=["application/json"], direction=direction
                )
                response["description"] = description
                if code == "429":
                    response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
                if code == "405":
                    response["headers"] = {"Allow": {"schema": {"type": "string"}}}
                responses[code] = response
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "config.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[Any]]]:
        # Optional: a key raises the rate limit; without one the API is open at a lower rate.
        return [{self.name: []}, {}]

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Optional. Send `Authorization: Api-Key <key>` (keys are issued by the site's "
            "administrators) for a higher rate limit. Never put a key in the URL: it is refused.",
        }


def filter_parameters(filterset_class: type) -> list[OpenApiParameter]:
    """Query parameters of a django-filter ``FilterSet``, for views that are not list views
    (drf-spectacular documents FilterSets of list views by itself)."""
    from django_filters import filters
    from drf_spectacular.drainage import get_override, has_override

    parameters = []
    for name, field in filterset_class.base_filters.items():
        if has_override(field, "field"):
            schema = dict(get_override(field, "field"))
        elif isinstance(field, filters.DateFilter):
            schema = {"type": "string", "format": "date"}
        elif isinstance(field, filters.BooleanFilter):
            schema = {"type": "boolean"}
        elif isinstance(field, filters.ChoiceFilter):
            schema = {"type": "string", "enum": [value for value, _ in field.extra["choices"]]}
        else:
            schema = {"type": "string"}
        description = schema.pop("description", None) or str(field.extra.get("help_text", ""))
        parameters.append(OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=description))
    return parameters

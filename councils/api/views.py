"""Read endpoints for councils: boundary sets and wards, ward boundaries as GeoJSON, and a
council's tally of seats on a polling day (``/api/v1/councils/...``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

import django_filters
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from config.api_errors import invalid_parameter
from config.api_http import (
    REFERENCE,
    ChangeToken,
    Document,
    GeoJsonRenderer,
    json_document,
    policy_for_dates,
    serve,
)
from config.api_views import ReadApiViewSet, not_found, parse_query, path_parameter
from councils import selectors
from councils.models import Council, Nation
from elections.api.filters import SLUG_PATTERN, StrictChoiceFilter, gss_filter
from elections.models import Election
from results import tallies
from results.api.records import tally_record

from . import records
from .serializers import CouncilDetailSerializer, CouncilSerializer, CouncilTallySerializer

_SLUG_PARAMETER = path_parameter("slug", SLUG_PATTERN, "Council slug, e.g. trafford.")


class CouncilFilter(django_filters.FilterSet):
    nation = StrictChoiceFilter(field_name="nation", choices=Nation.choices, help_text="ENG, WLS, SCT, NIR.")
    gss = gss_filter("gss", help_text="Council GSS code (exact), e.g. E08000009.")

    class Meta:
        model = Council
        fields: ClassVar[list[str]] = []


class _GeoQuery(serializers.Serializer):
    detail = serializers.ChoiceField(
        choices=["council", "national", "full"],
        default="council",
        help_text="Simplification: council (default, for a council map), national, or full (as published).",
    )
    date = serializers.DateField(required=False, help_text="Wards in force on this day (default: current).")


class _TallyQuery(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Polling day (default: the council's latest).")


@extend_schema_view(
    list=extend_schema(summary="Councils", responses=CouncilSerializer(many=True)),
    retrieve=extend_schema(
        summary="One council, with its boundary sets, wards and elections",
        responses=CouncilDetailSerializer,
        parameters=[_SLUG_PARAMETER],
    ),
    geojson=extend_schema(
        summary="A council's wards as GeoJSON",
        parameters=[_SLUG_PARAMETER, _GeoQuery],
        responses={
            (200, "application/geo+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="A FeatureCollection; each feature's id is the ward id."
            )
        },
    ),
    tally=extend_schema(
        summary="A council's seats on a polling day: composition, control, holds and gains",
        parameters=[_SLUG_PARAMETER, _TallyQuery],
        responses=CouncilTallySerializer,
    ),
)
class CouncilViewSet(ReadApiViewSet):
    """Councils by Democracy Club slug."""

    queryset = Council.objects.all()
    filterset_class = CouncilFilter
    lookup_field = "slug"

    def _council(self, slug: str) -> dict[str, Any]:
        if not re.match(SLUG_PATTERN, slug):
            raise invalid_parameter("slug", f"{slug!r} is not a council slug (a-z, 0-9 and single hyphens).")
        row = records.council_rows(Council.objects.filter(slug=slug)).first()
        if row is None:
            raise not_found(f"council {slug}")
        return row

    def list(self, request: Request) -> HttpResponse:
        return self.list_page(
            records.council_rows,
            records.council_records,
            key="slug",
            kind=str,
            cache_control=lambda _: REFERENCE,
        )

    def retrieve(self, request: Request, slug: str) -> HttpResponse:
        def build(token: ChangeToken) -> Document:
            return json_document(records.council_detail(self._council(slug)), cache_control=REFERENCE)

        return serve(request, build)

    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        pagination_class=None,
        renderer_classes=[GeoJsonRenderer, JSONRenderer],
    )
    def geojson(self, request: Request, slug: str) -> HttpResponse:
        query = parse_query(_GeoQuery, request)

        def build(token: ChangeToken) -> Document:
            council = Council.objects.get(pk=self._council(slug)["id"])
            collection = selectors.council_wards_feature_collection(
                council, detail=query["detail"], on_date=query.get("date")
            )
            return json_document(collection, cache_control=REFERENCE, content_type="application/geo+json")

        return serve(request, build)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def tally(self, request: Request, slug: str) -> HttpResponse:
        query = parse_query(_TallyQuery, request)

        def build(token: ChangeToken) -> Document:
            row = self._council(slug)
            day: dt.date | None = query.get("date") or (
                Election.objects.filter(council_id=row["id"])
                .order_by("-date")
                .values_list("date", flat=True)
                .first()
            )
            tally = tallies.load_tallies(day, council_ids=[row["id"]]).get(row["id"]) if day else None
            if tally is None:
                raise not_found(f"contest of {row['name']} on {day.isoformat() if day else 'any day'}")
            return json_document(tally_record(tally, row), cache_control=policy_for_dates([day]))

        return serve(request, build)

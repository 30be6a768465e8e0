"""Read endpoints for results, their history, the change feed, the national scoreboard and
the CSV exports (``/api/v1/...``).

The write endpoint ``POST /api/v1/ballots/<ballot_paper_id>/result/`` is not here: it is
``results.api.submit``.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import ClassVar

from django.db.models import Max
from django.http import HttpResponse
from django.utils import timezone
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request

from config.api_errors import invalid_parameter
from config.api_http import (
    FEED,
    ChangeToken,
    CsvRenderer,
    Document,
    json_document,
    policy_for_dates,
    serve,
)
from config.api_schema import filter_parameters
from config.api_views import ReadApiView, ReadApiViewSet, not_found, parse_query, path_parameter
from councils.api.serializers import ScoreboardSerializer
from elections import ids
from elections.api.filters import SCHEMA_BALLOT_ID_PATTERN, BallotFilter, dated_policy
from elections.models import Ballot, Election
from results.exports import FORMATS, ExportScope, write_dc, write_lga
from results.models import ResultEvent

from . import records
from .filters import EventFilter, ExportFilter
from .serializers import EventPageSerializer, ResultHistorySerializer, ResultSerializer

_BALLOT_PARAMETER = path_parameter(
    "ballot_paper_id", SCHEMA_BALLOT_ID_PATTERN, "local.<council>.<ward>[.by].<date>"
)


@extend_schema_view(
    list=extend_schema(summary="Results", responses=ResultSerializer(many=True)),
    retrieve=extend_schema(
        summary="One ballot's result", responses=ResultSerializer, parameters=[_BALLOT_PARAMETER]
    ),
    history=extend_schema(
        summary="Every version of one ballot's result",
        responses=ResultHistorySerializer,
        parameters=[_BALLOT_PARAMETER],
    ),
)
class ResultViewSet(ReadApiViewSet):
    """Each ballot's public result: status, version, figures, candidates' votes and winners,
    STV stages. Every ballot is listed, with status ``none`` until something is recorded."""

    queryset = Ballot.objects.all()
    filterset_class = BallotFilter
    lookup_field = "ballot_paper_id"

    def list(self, request: Request) -> HttpResponse:
        return self.list_page(
            records.result_rows,
            records.result_records,
            key="ballot_paper_id",
            kind=str,
            cache_control=dated_policy,
            last_modified=records.last_modified,
        )

    def retrieve(self, request: Request, ballot_paper_id: str) -> HttpResponse:
        parsed = ids.validate_ballot_id(ballot_paper_id)

        def build(token: ChangeToken) -> Document:
            rows = list(records.result_rows(Ballot.objects.filter(ballot_paper_id=ballot_paper_id)))
            if not rows:
                raise not_found(f"ballot {ballot_paper_id}")
            return json_document(
                records.result_records(rows)[0],
                cache_control=policy_for_dates([parsed.date]),
                last_modified=records.last_modified(rows),
            )

        return serve(request, build)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def history(self, request: Request, ballot_paper_id: str) -> HttpResponse:
        parsed = ids.validate_ballot_id(ballot_paper_id)

        def build(token: ChangeToken) -> Document:
            ballot = (
                Ballot.objects.filter(ballot_paper_id=ballot_paper_id).values("id", "ballot_paper_id").first()
            )
            if ballot is None:
                raise not_found(f"ballot {ballot_paper_id}")
            return json_document(
                records.result_history(ballot), cache_control=policy_for_dates([parsed.date])
            )

        return serve(request, build)


class _FeedQuery(serializers.Serializer):
    since = serializers.IntegerField(
        min_value=0, default=0, help_text="The `next` of your last page; 0 at first."
    )
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=200, help_text="Events per page.")


@extend_schema(
    summary="Change feed",
    parameters=[_FeedQuery, *filter_parameters(EventFilter)],
    responses=EventPageSerializer,
)
class EventFeedView(ReadApiView):
    """Every change of every result, in order: ``GET /api/v1/events/?since=<cursor>``.

    Start with ``since=0`` (or the ``next`` you kept); each page returns the events after
    ``since`` and ``next``, the cursor to ask with next time. Corrections, retractions,
    disputes, verifications and count-state changes all appear, each once. A poller that
    always asks with the last ``next`` it was given never misses or double-counts a change:
    an event id is never handed out while an earlier id could still be committed. ``more``
    true means a full page: ask again at once.
    """

    def get(self, request: Request) -> HttpResponse:
        query = parse_query(_FeedQuery, request)
        events = ResultEvent.objects.all()
        # Most pollers filter nothing: building the filter's form costs more than the page.
        if any(name in request.query_params for name in EventFilter.base_filters):
            filterset = EventFilter(request.query_params, queryset=events, request=request)
            if not filterset.is_valid():
                raise translate_validation(filterset.errors)
            events = filterset.qs
        since, limit = query["since"], query["limit"]

        def build(token: ChangeToken) -> Document:
            horizon = records.feed_horizon(since, token.max_event_id, token.writers_in_flight)
            page = records.feed_page(events, since=since, horizon=horizon, limit=limit)
            last = page["events"][-1]["at"] if page["events"] else None
            return json_document(
                page,
                cache_control=FEED,
                last_modified=last,
                # A page cut short by an in-flight write must not be kept: it grows on commit.
                cacheable=horizon >= token.max_event_id,
            )

        return serve(request, build)


class _ScoreboardQuery(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Polling day; default the latest stored.")


@extend_schema(
    summary="National scoreboard of a polling day",
    parameters=[_ScoreboardQuery],
    responses=ScoreboardSerializer,
)
class ScoreboardView(ReadApiView):
    """Seats won and changed per party, councils declared, gained and lost, and every
    council's tally on one polling day (``results.tallies``)."""

    def get(self, request: Request) -> HttpResponse:
        date: dt.date | None = parse_query(_ScoreboardQuery, request).get("date")

        def build(token: ChangeToken) -> Document:
            day = date or Election.objects.filter(rehearsal=False).aggregate(latest=Max("date"))["latest"]
            return json_document(records.scoreboard_record(day), cache_control=policy_for_dates([day]))

        return serve(request, build)


class _ExportQuery(serializers.Serializer):
    publication_date = serializers.DateField(
        required=False, help_text="LGA PublicationDate column (default: today)."
    )


@extend_schema(
    summary="Results as CSV (LGA ElectionResults or Democracy Club columns)",
    parameters=[
        OpenApiParameter(
            "file_format",
            str,
            OpenApiParameter.PATH,
            enum=list(FORMATS),
            description="lga: the LGA ElectionResults schema; dc: Democracy Club's columns.",
        ),
        _ExportQuery,
        *filter_parameters(ExportFilter),
    ],
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file (UTF-8, CRLF)."),
    },
)
class ExportView(ReadApiView):
    """Results as CSV: one election (``election``), one council's elections (``council``),
    one polling day (``date``), or what several of them have in common. See
    ``results.exports`` for the columns and conventions."""

    renderer_classes: ClassVar[list[type]] = [CsvRenderer]

    def get(self, request: Request, file_format: str) -> HttpResponse:
        if file_format not in FORMATS:
            raise invalid_parameter("file_format", f"{file_format!r} is not one of {', '.join(FORMATS)}.")
        query = parse_query(_ExportQuery, request)
        filterset = ExportFilter(request.query_params, queryset=Ballot.objects.all(), request=request)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        cleaned = filterset.form.cleaned_data
        scope = ExportScope(
            election_id=cleaned.get("election") or None,
            council=cleaned.get("council") or None,
            date=cleaned.get("date"),
        )
        publication_date = query.get("publication_date") or timezone.localdate()

        def build(token: ChangeToken) -> Document:
            rehearsal = scope.has_rehearsal()
            buffer = io.StringIO()
            if file_format == "lga":
                write_lga(buffer, scope, publication_date=publication_date)
            else:
                write_dc(buffer, scope)
            headers = [
                (
                    "Content-Disposition",
                    f'attachment; filename="{scope.filename(file_format, rehearsal=rehearsal)}"',
                )
            ]
            if rehearsal:
                headers.append(("X-Rehearsal", "true"))
            return Document(
                body=buffer.getvalue().encode("utf-8"),
                content_type="text/csv; charset=utf-8",
                cache_control=policy_for_dates(scope.dates),
                headers=tuple(headers),
            )

        return serve(request, build)

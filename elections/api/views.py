"""Read endpoints for parties, elections, ballots and candidacies (``/api/v1/...``)."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request

from config.api_errors import invalid_parameter
from config.api_http import REFERENCE, ChangeToken, json_document, policy_for_dates, serve
from config.api_views import ReadApiViewSet, not_found, path_parameter
from elections import ids
from elections.models import Ballot, Candidacy, Election, Party

from . import records
from .filters import (
    PARTY_ID_PATTERN,
    SCHEMA_BALLOT_ID_PATTERN,
    SCHEMA_ELECTION_ID_PATTERN,
    BallotFilter,
    CandidacyFilter,
    ElectionFilter,
    dated_policy,
)
from .serializers import (
    BallotSerializer,
    CandidacySerializer,
    ElectionDetailSerializer,
    ElectionSerializer,
    PartySerializer,
)


@extend_schema_view(
    list=extend_schema(summary="Parties", responses=PartySerializer(many=True)),
    retrieve=extend_schema(
        summary="One party",
        responses=PartySerializer,
        parameters=[
            path_parameter("party_id", PARTY_ID_PATTERN, "PP53, ynmp-party:2 or joint-party:53-119.")
        ],
    ),
)
class PartyViewSet(ReadApiViewSet):
    """Parties by Electoral Commission id (and Democracy Club's pseudo-parties), with colours."""

    queryset = Party.objects.all()
    lookup_field = "party_id"

    def list(self, request: Request) -> HttpResponse:
        return self.list_page(
            records.party_rows,
            lambda rows: [records.party_record(r) for r in rows],
            key="party_id",
            kind=str,
            cache_control=lambda _: REFERENCE,
        )

    def retrieve(self, request: Request, party_id: str) -> HttpResponse:
        if not re.match(PARTY_ID_PATTERN, party_id):
            raise invalid_parameter("party_id", f"{party_id!r} is not a party id (PP53, ynmp-party:2, …).")

        def build(token: ChangeToken) -> Any:
            row = records.party_rows(Party.objects.filter(party_id=party_id)).first()
            if row is None:
                raise not_found(f"party {party_id}")
            return json_document(records.party_record(row), cache_control=REFERENCE)

        return serve(request, build)


@extend_schema_view(
    list=extend_schema(summary="Elections", responses=ElectionSerializer(many=True)),
    retrieve=extend_schema(
        summary="One election, with its ballots",
        responses=ElectionDetailSerializer,
        parameters=[path_parameter("election_id", SCHEMA_ELECTION_ID_PATTERN, "local.<council>.<date>")],
    ),
)
class ElectionViewSet(ReadApiViewSet):
    """A council's elections on one polling day (by-elections of that day included)."""

    queryset = Election.objects.all()
    filterset_class = ElectionFilter
    lookup_field = "election_id"

    def list(self, request: Request) -> HttpResponse:
        return self.list_page(
            records.election_rows,
            lambda rows: [records.election_record(r) for r in rows],
            key="election_id",
            kind=str,
            cache_control=dated_policy,
        )

    def retrieve(self, request: Request, election_id: str) -> HttpResponse:
        parsed = ids.validate_local_election_id(election_id)

        def build(token: ChangeToken) -> Any:
            row = records.election_rows(Election.objects.filter(election_id=election_id)).first()
            if row is None:
                raise not_found(f"election {election_id}")
            return json_document(records.election_detail(row), cache_control=policy_for_dates([parsed.date]))

        return serve(request, build)


@extend_schema_view(
    list=extend_schema(summary="Ballots, with their candidacies", responses=BallotSerializer(many=True)),
    retrieve=extend_schema(
        summary="One ballot, with its candidacies",
        responses=BallotSerializer,
        parameters=[
            path_parameter("ballot_paper_id", SCHEMA_BALLOT_ID_PATTERN, "local.<council>.<ward>[.by].<date>")
        ],
    ),
)
class BallotViewSet(ReadApiViewSet):
    """One ward's contest: seats, voting system, candidacies, and its result's status.

    The figures are under ``/api/v1/results/``.
    """

    queryset = Ballot.objects.all()
    filterset_class = BallotFilter
    lookup_field = "ballot_paper_id"

    def list(self, request: Request) -> HttpResponse:
        return self.list_page(
            records.ballot_rows,
            records.ballot_records,
            key="ballot_paper_id",
            kind=str,
            cache_control=dated_policy,
        )

    def retrieve(self, request: Request, ballot_paper_id: str) -> HttpResponse:
        parsed = ids.validate_ballot_id(ballot_paper_id)

        def build(token: ChangeToken) -> Any:
            rows = list(records.ballot_rows(Ballot.objects.filter(ballot_paper_id=ballot_paper_id)))
            if not rows:
                raise not_found(f"ballot {ballot_paper_id}")
            return json_document(
                records.ballot_records(rows)[0], cache_control=policy_for_dates([parsed.date])
            )

        return serve(request, build)


@extend_schema_view(list=extend_schema(summary="Candidacies", responses=CandidacySerializer(many=True)))
class CandidacyViewSet(ReadApiViewSet):
    """People standing on ballots, with party and ballot-paper description."""

    queryset = Candidacy.objects.all()
    filterset_class = CandidacyFilter

    def list(self, request: Request) -> HttpResponse:
        return self.list_page(
            records.candidacy_rows,
            lambda rows: [records.candidacy_record(r) for r in rows],
            key="id",
            cache_control=dated_policy,
        )

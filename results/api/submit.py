"""``POST /api/v1/ballots/<ballot_paper_id>/result/``: key a result as JSON.

For trusted integrations (``Authorization: Token <key>``, see ``accounts.IntegrationToken``)
and for the keying pages' own session (with the CSRF token). The same write path as the form
(``submit_result``), the same checks, the same permissions (the user's council assignments)
and the same error body (``ApplicationError.as_dict()``: ``code``, ``message``, ``field``,
``problems`` with every failed check and its numbers).

Request body::

    {"candidates": [{"candidacy_id": 12, "votes": 1980, "won_by_lot": false}, ...],
     "ballot_papers_counted": 3222, "rejected_total": 30,
     "rejected": {"multiple_vote": 12, "unmarked": 18}, "electorate": 7709,
     "declared_at": "2023-05-05T01:30:00+01:00", "source": "Declaration at the count",
     "client_token": "7f6c…", "based_on_version": 0, "confirm_warnings": false,
     "stv": {"quota": 761, "valid_poll": 3803,
             "stages": [{"number": 2, "totals": {"12": "761.00000", ...}, "non_transferable": "0"}]}}

Answers 201 with the outcome when a submission is stored, 200 when ``client_token`` repeats
an earlier one (nothing new stored), 400 for refused figures or unconfirmed warnings, 409 for
a version conflict (with both sets of figures), 401 without credentials, 404 for a ballot
that is not among the user's (or does not exist), 403 without a CSRF token on a session.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import orjson
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.authentication import IntegrationTokenAuthentication
from accounts.denials import log_denial
from config.errors import ApplicationError, Problem
from elections import ids
from elections.models import Ballot
from results import selectors
from results.figures import REJECTED_HEADINGS, CandidateFigures, ResultFigures, StvStageFigures
from results.forms import CLIENT_TOKEN_RE, MAX_FIGURE
from results.models import CandidateResult, SubmissionChannel
from results.services import submit_result


def _count(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_FIGURE, **kwargs)


class CandidateInput(serializers.Serializer):
    candidacy_id = serializers.IntegerField(min_value=1)
    votes = _count(allow_null=True, required=False)
    won_by_lot = serializers.BooleanField(required=False, default=False)
    elected = serializers.BooleanField(required=False, allow_null=True, default=None)


class StageInput(serializers.Serializer):
    number = serializers.IntegerField(min_value=2, max_value=50)
    totals = serializers.DictField(
        child=serializers.DecimalField(max_digits=14, decimal_places=5, min_value=0, max_value=MAX_FIGURE)
    )
    transfers = serializers.DictField(
        child=serializers.DecimalField(
            max_digits=14, decimal_places=5, min_value=-MAX_FIGURE, max_value=MAX_FIGURE
        ),
        required=False,
        default=dict,
    )
    non_transferable = serializers.DecimalField(
        max_digits=14, decimal_places=5, min_value=0, max_value=MAX_FIGURE, required=False, allow_null=True
    )


class StvInput(serializers.Serializer):
    quota = _count(required=False, allow_null=True)
    valid_poll = _count(required=False, allow_null=True)
    stages = StageInput(many=True, required=False, default=list)


class ResultInput(serializers.Serializer):
    """The shape of a keyed result; the arithmetic is the service's."""

    candidates = CandidateInput(many=True, allow_empty=False)
    electorate = _count(required=False, allow_null=True)
    ballot_papers_issued = _count(required=False, allow_null=True)
    ballot_papers_counted = _count(required=False, allow_null=True)
    valid_papers = _count(required=False, allow_null=True)
    rejected_total = _count(required=False, allow_null=True)
    rejected = serializers.DictField(child=_count(allow_null=True), required=False, default=dict)
    turnout_pct = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False, allow_null=True
    )
    declared_at = serializers.DateTimeField(required=False, allow_null=True)
    source = serializers.CharField(max_length=500)
    client_token = serializers.CharField(max_length=48, required=False, allow_null=True)
    based_on_version = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    confirm_warnings = serializers.BooleanField(required=False, default=False)
    stv = StvInput(required=False, allow_null=True)

    def validate_rejected(self, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(REJECTED_HEADINGS))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown heading(s) {', '.join(unknown)}; use {', '.join(REJECTED_HEADINGS)}."
            )
        return value

    def validate_client_token(self, value: str | None) -> str | None:
        if value is not None and not CLIENT_TOKEN_RE.match(value):
            raise serializers.ValidationError("8 to 48 letters, digits, '-' or '_'.")
        return value


class ResultOutput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["accepted", "duplicate", "unchanged"])
    ballot_paper_id = serializers.CharField()
    rehearsal = serializers.BooleanField()
    status = serializers.CharField()
    count_state = serializers.CharField()
    version = serializers.IntegerField()
    submission_id = serializers.IntegerField(allow_null=True)
    elected = serializers.ListField(child=serializers.IntegerField())
    warnings = serializers.ListField(child=serializers.DictField())


def _figures(data: dict[str, Any]) -> ResultFigures:
    stv = data.get("stv") or {}

    def ids_of(mapping: dict[str, Any], field: str) -> dict[int, Any]:
        try:
            return {int(k): v for k, v in mapping.items()}
        except ValueError as exc:
            raise ApplicationError(
                "Stage totals are keyed by candidacy id (a number).", code="invalid", field=field
            ) from exc

    return ResultFigures(
        candidates=tuple(
            CandidateFigures(
                candidacy_id=c["candidacy_id"],
                votes=c.get("votes"),
                won_by_lot=c.get("won_by_lot", False),
                elected=c.get("elected"),
            )
            for c in data["candidates"]
        ),
        electorate=data.get("electorate"),
        ballot_papers_issued=data.get("ballot_papers_issued"),
        ballot_papers_counted=data.get("ballot_papers_counted"),
        valid_papers=data.get("valid_papers"),
        rejected_total=data.get("rejected_total"),
        rejected={k: v for k, v in (data.get("rejected") or {}).items() if v is not None},
        turnout_pct=data.get("turnout_pct"),
        declared_at=data.get("declared_at"),
        stv_quota=stv.get("quota"),
        stv_valid_poll=stv.get("valid_poll"),
        stv_stages=tuple(
            StvStageFigures(
                number=s["number"],
                totals=ids_of(s["totals"], f"stv_stage_{s['number']}"),
                transfers=ids_of(s.get("transfers") or {}, f"stv_stage_{s['number']}"),
                non_transferable=s.get("non_transferable"),
            )
            for s in stv.get("stages", [])
        ),
    )


def _flatten(errors: Any, prefix: str = "") -> list[tuple[str, str]]:
    """DRF's nested error structure as (dotted field, message) pairs."""
    pairs: list[tuple[str, str]] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = key if key != "non_field_errors" else ""
            pairs += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
    elif isinstance(errors, list):
        if all(not isinstance(e, dict | list) for e in errors):
            pairs += [(prefix, str(e)) for e in errors]
        else:
            for i, value in enumerate(errors):
                pairs += _flatten(value, f"{prefix}[{i}]")
    else:
        pairs.append((prefix, str(errors)))
    return pairs


_CANDIDATE_VOTES = re.compile(r"^candidates(?:\[|\.)(\d+)\]?\.votes$")


class JsonObjectParser(BaseParser):
    """JSON through orjson, whose nesting limit turns a 10,000-deep body into a parse error
    (the standard library's decoder would exhaust the recursion limit: a 500)."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from exc


def _shape_error(errors: Any, raw: Any) -> ApplicationError:
    """Serializer errors as the service's error body; a candidate's votes are ``votes_<id>``,
    as in the checks, when the request names the candidacy."""
    problems = []
    for name, message in _flatten(errors):
        field = name or "body"
        match = _CANDIDATE_VOTES.match(name)
        if match:
            index = int(match.group(1))
            with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
                field = f"votes_{int(raw['candidates'][index]['candidacy_id'])}"
        problems.append(Problem(code="invalid", field=field, message=f"{field}: {message}"))
    first = problems[0]
    return ApplicationError(
        first.message if len(problems) == 1 else f"{first.message} (and {len(problems) - 1} more)",
        code="invalid",
        field=first.field,
        problems=problems,
    )


class ResultSubmitApi(APIView):
    """Key one ballot's declared result."""

    # Token first, so a request without credentials is a 401 with WWW-Authenticate. DRF's
    # session authentication enforces the CSRF token for logged-in users.
    authentication_classes = [IntegrationTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JsonObjectParser]

    @extend_schema(
        operation_id="ballot_result_submit",
        summary="Key a ballot's result (correspondents and trusted integrations)",
        request=ResultInput,
        responses={
            201: ResultOutput,
            200: ResultOutput,
            400: OpenApiResponse(description="Refused"),
            404: OpenApiResponse(description="Not one of your ballots"),
            409: OpenApiResponse(description="Version conflict, with both sets of figures"),
        },
        tags=["keying"],
    )
    def post(self, request: Request, ballot_paper_id: str) -> Response:
        ballot = self._ballot(request, ballot_paper_id)
        if not isinstance(request.data, dict):
            raise ApplicationError("The body must be a JSON object.", code="invalid", field="body")
        serializer = ResultInput(data=request.data)
        if not serializer.is_valid():
            raise _shape_error(serializer.errors, request.data)
        data = serializer.validated_data
        token = data.get("client_token")
        outcome = submit_result(
            ballot=ballot,
            figures=_figures(data),
            source=data["source"],
            channel=SubmissionChannel.API,
            submitted_by=request.user,
            client_token=f"u{request.user.pk}-{token}" if token else None,
            based_on_version=data.get("based_on_version"),
            confirm_warnings=data["confirm_warnings"],
        )
        result = outcome.result
        body = {
            "outcome": outcome.outcome,
            "ballot_paper_id": ballot.ballot_paper_id,
            "rehearsal": ballot.election.rehearsal,
            "status": result.status,
            "count_state": result.count_state,
            "version": result.version,
            "submission_id": outcome.submission.pk if outcome.submission else None,
            "elected": sorted(
                outcome.elected
                if outcome.elected is not None
                else CandidateResult.objects.filter(result_id=result.pk, elected=True).values_list(
                    "candidacy_id", flat=True
                )
            ),
            "warnings": [w.as_dict() for w in outcome.warnings],
        }
        code = status.HTTP_201_CREATED if outcome.outcome == "accepted" else status.HTTP_200_OK
        return Response(body, status=code)

    def _ballot(self, request: Request, ballot_paper_id: str) -> Ballot:
        ids.validate_ballot_id(ballot_paper_id)  # malformed: a typed 400
        ballot = permissions.with_can_key(selectors.ballots_to_key(ballot_paper_id), request.user).first()
        if ballot is not None and ballot.can_key:
            return ballot
        if ballot is None or not permissions.can_review(request.user, ballot):
            log_denial(request, reason="api submit: ballot not visible", status=404)
            raise Http404
        log_denial(request, reason="api submit: role does not allow it", status=403)
        raise exceptions.PermissionDenied("Your role does not allow keying this ballot.")

    def handle_exception(self, exc: Exception) -> Response:
        """Every refusal in the service's error body."""
        if isinstance(exc, ApplicationError):
            return Response(exc.as_dict(), status=exc.status_code)
        if isinstance(exc, Http404):
            exc = exceptions.NotFound("No such ballot among yours.")
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)
            detail = exc.detail
            message = detail if isinstance(detail, str) else "; ".join(m for _, m in _flatten(detail))
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
            # The plain HttpRequest: DRF's would try to authenticate again.
            http_request = self.request._request  # noqa: SLF001
            if response.status_code in (401, 403) and not isinstance(exc, exceptions.PermissionDenied):
                log_denial(http_request, reason=f"api submit: {code}", status=response.status_code)
            elif isinstance(exc, exceptions.PermissionDenied) and "CSRF" in str(message):
                log_denial(http_request, reason="api submit: csrf", status=403)
            response.data = {"code": str(code), "message": str(message)}
            return response
        return super().handle_exception(exc)


# Included by config/urls.py under /api/v1/ (before the read API's router: this exact path is
# the write endpoint; everything else there falls through to the router).
urlpatterns = [
    path("ballots/<str:ballot_paper_id>/result/", ResultSubmitApi.as_view(), name="ballot-result-submit"),
]

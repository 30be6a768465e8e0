"""Conditional requests and caching headers on every read endpoint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.http import http_date, parse_http_date

from results.models import CorrectionReason, Result
from results.services import correct_result
from tests.api.conftest import build_night, figures_for

pytestmark = pytest.mark.django_db

PAST = dt.date(2023, 5, 4)


def every_endpoint(night) -> list[str]:  # type: ignore[no-untyped-def]
    ballot = night.ballots[0].ballot_paper_id
    council = night.elections[0].council.slug
    return [
        "/api/v1/results/",
        f"/api/v1/results/{ballot}/",
        f"/api/v1/results/{ballot}/history/",
        "/api/v1/ballots/",
        f"/api/v1/ballots/{ballot}/",
        "/api/v1/candidacies/",
        "/api/v1/elections/",
        f"/api/v1/elections/{night.elections[0].election_id}/",
        "/api/v1/councils/",
        f"/api/v1/councils/{council}/",
        f"/api/v1/councils/{council}/geojson/",
        f"/api/v1/councils/{council}/tally/",
        "/api/v1/parties/",
        "/api/v1/parties/PP53/",
        "/api/v1/events/",
        "/api/v1/scoreboard/",
        f"/api/v1/exports/lga/?council={council}",
        f"/api/v1/exports/dc/?council={council}",
    ]


def test_every_endpoint_answers_304_to_its_own_etag_and_date(client) -> None:
    night = build_night(councils=1, wards=2)
    for url in every_endpoint(night):
        first = client.get(url)
        assert first.status_code == 200, url
        assert first["ETag"].startswith('"') and first["Last-Modified"] and first["Cache-Control"], url
        by_etag = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert by_etag.status_code == 304, url
        assert by_etag.content == b""
        assert by_etag["ETag"] == first["ETag"]
        assert by_etag["Cache-Control"] == first["Cache-Control"]
        by_date = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
        assert by_date.status_code == 304, url
        # A stale validator gets the document.
        assert client.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200
        earlier = http_date(parse_http_date(first["Last-Modified"]) - 60)
        assert client.get(url, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


def test_a_change_gives_a_new_etag_at_once(client) -> None:
    night = build_night(councils=1, wards=2)
    ballot = night.ballots[0]
    url = f"/api/v1/results/{ballot.ballot_paper_id}/"
    listing = "/api/v1/results/"
    first, first_list = client.get(url), client.get(listing)
    result = Result.objects.get(ballot=ballot)
    correct_result(
        result=result,
        expected_version=result.version,
        corrected_by=None,  # type: ignore[arg-type]
        confirm_warnings=True,
        reason=CorrectionReason.KEYING_ERROR,
        source="fix",
        figures=figures_for(ballot, [500, 200, 100]),
    )
    # No waiting for the server-side cache: the change token moved.
    changed = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    assert changed["ETag"] != first["ETag"]
    assert client.get(listing, HTTP_IF_NONE_MATCH=first_list["ETag"]).status_code == 200
    # Last-Modified of a result is when it changed.
    assert parse_http_date(changed["Last-Modified"]) >= int(result.updated_at.timestamp())


def test_etag_matching_accepts_lists_weak_tags_and_star(client) -> None:
    build_night(councils=1, wards=1)
    etag = client.get("/api/v1/results/")["ETag"]
    assert client.get("/api/v1/results/", HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
    assert client.get("/api/v1/results/", HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert client.get("/api/v1/results/", HTTP_IF_NONE_MATCH="*").status_code == 304


def test_head_gives_the_headers_without_the_body(client) -> None:
    build_night(councils=1, wards=1)
    get = client.get("/api/v1/results/")
    head = client.head("/api/v1/results/")
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == get["ETag"]
    assert head["Content-Length"] == str(len(get.content))


def test_cache_control_is_short_for_live_data_and_long_once_settled(client) -> None:
    live = build_night(councils=1, wards=1, date=timezone.localdate())
    past = build_night(councils=1, wards=1, date=PAST)
    live_ballot, past_ballot = live.ballots[0].ballot_paper_id, past.ballots[0].ballot_paper_id

    def policy(url: str, **params: str) -> str:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        return response["Cache-Control"]

    assert "max-age=5," in policy(f"/api/v1/results/{live_ballot}/")
    assert "max-age=3600," in policy(f"/api/v1/results/{past_ballot}/")
    assert "max-age=3600," in policy(f"/api/v1/ballots/{past_ballot}/")
    assert "max-age=3600," in policy("/api/v1/results/", election_date=PAST.isoformat())
    assert "max-age=3600," in policy("/api/v1/results/", election=past.elections[0].election_id)
    assert "max-age=5," in policy("/api/v1/results/", election_date=timezone.localdate().isoformat())
    # An unfiltered list can gain new results at any time.
    assert "max-age=5," in policy("/api/v1/results/")
    assert "max-age=3600," in policy("/api/v1/exports/lga/", election=past.elections[0].election_id)
    assert "max-age=300," in policy("/api/v1/councils/")
    assert policy("/api/v1/events/") == "public, max-age=1"
    for header in (policy(f"/api/v1/results/{live_ballot}/"), policy(f"/api/v1/results/{past_ballot}/")):
        assert header.startswith("public,") and "stale-if-error=" in header
    # Errors are never cached.
    assert client.get("/api/v1/results/local.x/")["Cache-Control"] == "no-store"


def test_a_document_is_reused_until_a_result_changes(client, django_assert_num_queries) -> None:
    night = build_night(councils=1, wards=1)
    url = "/api/v1/scoreboard/"
    first = client.get(url)
    with django_assert_num_queries(1):
        assert client.get(url).content == first.content
    ballot = night.ballots[0]
    result = Result.objects.get(ballot=ballot)
    correct_result(
        result=result,
        expected_version=result.version,
        corrected_by=None,  # type: ignore[arg-type]
        confirm_warnings=True,
        reason=CorrectionReason.RECOUNT,
        source="recount",
        figures=figures_for(ballot, [100, 500, 300]),
    )
    after = client.get(url)
    assert after.content != first.content

"""Every read endpoint costs the same number of queries at any data size.

Each endpoint is requested with the server-side cache cleared (so the document is built)
at two data sizes, a small night and one five times larger with more candidates, and must
make exactly the pinned number of queries at both. The first query of every request is the
change token (``config.api_http.change_token``). A request answered from the cache makes
that one query only.
"""

from __future__ import annotations

import datetime as dt

import pytest

from results.models import CorrectionReason, Result
from results.services import correct_result
from tests.api.conftest import Night, build_night, figures_for, key_header
from tests.support import clear_cache

pytestmark = pytest.mark.django_db

DATE = dt.date(2026, 5, 7)


def endpoints(night: Night) -> dict[str, int | None]:
    """URL → pinned query count of the night's endpoints."""
    ballot = night.ballots[0].ballot_paper_id
    election = night.elections[0].election_id
    council = night.elections[0].council.slug
    return {
        "/api/v1/results/": 5,  # token, page, candidacies, candidates' figures, STV stages
        "/api/v1/results/?page_size=500&council=" + council: 5,
        f"/api/v1/results/{ballot}/": 5,
        f"/api/v1/results/{ballot}/history/": 4,  # token, ballot, names, events
        "/api/v1/ballots/": 3,  # token, page, candidacies
        f"/api/v1/ballots/{ballot}/": 3,
        "/api/v1/candidacies/": 2,
        "/api/v1/elections/": 2,
        f"/api/v1/elections/{election}/": 3,
        "/api/v1/councils/": 3,  # token, page, boundary sets
        f"/api/v1/councils/{council}/": 5,  # token, council, sets, wards, elections
        f"/api/v1/councils/{council}/geojson/": 4,
        # Tallies are computed by results.tallies in its own fixed number of queries: pinned
        # here as "the same at both sizes" (None), whatever that number is.
        f"/api/v1/councils/{council}/tally/?date={DATE.isoformat()}": None,
        "/api/v1/parties/": 2,
        "/api/v1/parties/PP53/": 2,
        "/api/v1/events/": 2,
        "/api/v1/events/?council=" + council: 2,
        f"/api/v1/scoreboard/?date={DATE.isoformat()}": None,
        # token, rehearsal?, ballot order, then per 500 ballots: rows, candidacies, figures, STV;
        # LGA also reads the councils once.
        f"/api/v1/exports/lga/?election={election}": 8,
        f"/api/v1/exports/dc/?date={DATE.isoformat()}": 7,
    }


def corrected(night: Night) -> None:
    """A correction on the night, so histories and the feed have more than one version."""
    result = Result.objects.get(ballot=night.ballots[0])
    candidates = night.ballots[0].candidacies.count()
    correct_result(
        result=result,
        expected_version=result.version,
        corrected_by=None,  # type: ignore[arg-type]
        reason=CorrectionReason.RECOUNT,
        source="Recount",
        confirm_warnings=True,
        figures=figures_for(night.ballots[0], [100 * (candidates - i) + 9 for i in range(candidates)]),
    )


SMALL = {"councils": 1, "wards": 2, "candidates": 2}
LARGER = {"councils": 3, "wards": 4, "candidates": 5}  # six times the ballots, 15 times the candidacies


def test_query_counts_do_not_grow_with_the_data(client, django_assert_num_queries) -> None:
    measured: dict[str, int] = {}
    for size in (SMALL, LARGER):
        night = build_night(date=DATE, **size)
        corrected(night)
        for n, (url, pinned) in enumerate(endpoints(night).items()):
            expected = pinned if pinned is not None else measured.get(str(n))
            clear_cache()
            if expected is None:
                from django.db import connection
                from django.test.utils import CaptureQueriesContext

                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url)
                measured[str(n)] = len(queries)
            else:
                with django_assert_num_queries(expected):
                    response = client.get(url)
            assert response.status_code == 200, (url, response.content)


def test_a_cached_document_costs_one_query(client, django_assert_num_queries) -> None:
    night = build_night(date=DATE)
    url = f"/api/v1/results/?council={night.elections[0].council.slug}"
    first = client.get(url)
    with django_assert_num_queries(1):
        again = client.get(url)
    assert again.content == first.content
    with django_assert_num_queries(1):
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_an_api_key_costs_one_more_query(client, django_assert_num_queries, api_key) -> None:
    night = build_night(date=DATE)
    _, key = api_key
    clear_cache()
    with django_assert_num_queries(6):
        response = client.get(f"/api/v1/results/{night.ballots[0].ballot_paper_id}/", **key_header(key))
    assert response.status_code == 200

"""``POST /api/v1/ballots/<ballot_paper_id>/result/``: the same write path as the form, for
trusted integrations (token) and sessions (with CSRF), with the service's error body."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import create_integration_token, revoke_integration_token
from results.models import Result, ResultStatus, Submission
from tests.factories.keying import candidacy_ids, make_correspondent, make_keying_ballot

pytestmark = pytest.mark.django_db


@pytest.fixture
def ballot():
    return make_keying_ballot(seats=1)


@pytest.fixture
def alice(ballot):
    return make_correspondent(ballot.election, "alice")


def url(ballot_or_id) -> str:
    bid = getattr(ballot_or_id, "ballot_paper_id", ballot_or_id)
    return f"/api/v1/ballots/{bid}/result/"


def body(ballot, votes, **extra):
    data = {
        "candidates": [
            {"candidacy_id": cid, "votes": v} for cid, v in zip(candidacy_ids(ballot), votes, strict=True)
        ],
        "ballot_papers_counted": sum(votes) + 10,
        "rejected_total": 10,
        "electorate": 5000,
        "source": "Trusted feed",
    }
    data.update(extra)
    return data


def token_client(user) -> APIClient:
    _, key = create_integration_token(user=user, name="feed")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_token_submission_is_provisional_with_its_outcome(ballot, alice):
    response = token_client(alice).post(url(ballot), body(ballot, [500, 700, 300]), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["outcome"], data["status"], data["version"], data["rehearsal"]) == (
        "accepted", "provisional", 1, False)
    assert data["elected"] == [candidacy_ids(ballot)[1]]
    submission = Submission.objects.get(pk=data["submission_id"])
    assert (submission.channel, submission.submitted_by) == ("api", alice)


def test_refused_figures_have_the_services_error_body(ballot, alice):
    client = token_client(alice)
    ids = candidacy_ids(ballot)
    response = client.post(
        url(ballot), body(ballot, [41939, 900, 800], ballot_papers_counted=2477), format="json"
    )
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "figures_refused" and data["field"] == f"votes_{ids[0]}"
    problem = next(p for p in data["problems"] if p["code"] == "votes_exceed_papers")
    assert problem["numbers"] == {"votes": 41939, "counted": 2477}
    assert not Submission.objects.exists()


def test_warnings_need_confirm_warnings(ballot, alice):
    client = token_client(alice)
    low = body(ballot, [50, 70, 30], electorate=50000)
    response = client.post(url(ballot), low, format="json")
    assert response.status_code == 400 and response.json()["code"] == "needs_confirmation"
    assert response.json()["problems"][0]["severity"] == "warning"
    response = client.post(url(ballot), {**low, "confirm_warnings": True}, format="json")
    assert response.status_code == 201
    assert response.json()["warnings"][0]["code"] == "low_turnout"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ballot_papers_counted": -1}, "ballot_papers_counted"),
        ({"ballot_papers_counted": 2**63}, "ballot_papers_counted"),
        ({"ballot_papers_counted": "1,234"}, "ballot_papers_counted"),
        ({"ballot_papers_counted": "NaN"}, "ballot_papers_counted"),
        ({"rejected": {"spoilt": 3}}, "rejected"),
        ({"source": ""}, "source"),
        ({"client_token": "no spaces allowed"}, "client_token"),
    ],
)
def test_malformed_input_is_a_400_naming_the_field(ballot, alice, change, field):
    response = token_client(alice).post(
        url(ballot), {**body(ballot, [500, 700, 300]), **change}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Submission.objects.exists()


def test_a_bad_candidate_vote_names_the_candidacy(ballot, alice):
    ids = candidacy_ids(ballot)
    data = body(ballot, [500, 700, 300])
    data["candidates"][1]["votes"] = -7
    response = token_client(alice).post(url(ballot), data, format="json")
    assert response.status_code == 400 and response.json()["field"] == f"votes_{ids[1]}"


def test_non_object_and_deeply_nested_bodies_are_refused_cleanly(ballot, alice):
    client = token_client(alice)
    assert client.post(url(ballot), [1, 2, 3], format="json").status_code == 400
    deep = "[" * 10000 + "]" * 10000
    response = client.post(url(ballot), deep, content_type="application/json")
    assert response.status_code == 400
    assert client.post(url(ballot), b"\x00\xff{", content_type="application/json").status_code == 400


def test_client_token_retries_are_one_submission(ballot, alice):
    client = token_client(alice)
    data = body(ballot, [500, 700, 300], client_token="feed-0001-retry")
    first = client.post(url(ballot), data, format="json")
    again = client.post(url(ballot), data, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["submission_id"] == first.json()["submission_id"]
    assert Submission.objects.count() == 1


def test_conflict_carries_both_figure_sets(ballot, alice):
    client = token_client(alice)
    client.post(url(ballot), body(ballot, [500, 700, 300]), format="json")
    client.post(url(ballot), body(ballot, [501, 700, 300], based_on_version=1), format="json")
    response = client.post(url(ballot), body(ballot, [502, 700, 300], based_on_version=1), format="json")
    assert response.status_code == 409
    data = response.json()
    assert data["code"] == "version_conflict" and data["current_version"] == 2
    assert data["current_figures"]["candidates"][0]["votes"] == 501
    assert data["your_figures"]["candidates"][0]["votes"] == 502


def test_authentication_and_scope(ballot, alice):
    anonymous = APIClient().post(url(ballot), body(ballot, [500, 700, 300]), format="json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"].startswith("Token")
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert bad.post(url(ballot), body(ballot, [500, 700, 300]), format="json").status_code == 401
    token, key = create_integration_token(user=alice, name="feed")
    revoke_integration_token(token=token)
    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert revoked.post(url(ballot), body(ballot, [500, 700, 300]), format="json").status_code == 401
    # A key in the query string is not a credential.
    assert (
        APIClient()
        .post(f"{url(ballot)}?token={key}", body(ballot, [500, 700, 300]), format="json")
        .status_code
        == 401
    )
    other = make_keying_ballot()
    response = token_client(alice).post(url(other), body(other, [500, 700, 300]), format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    missing = token_client(alice).post(url("local.nowhere.north.2026-05-07"), {}, format="json")
    assert missing.status_code == 404
    invalid = token_client(alice).post(url("not-an-id"), {}, format="json")
    assert invalid.status_code == 400 and invalid.json()["code"] == "invalid_election_id"
    assert not Submission.objects.exists()


def test_session_use_needs_the_csrf_token(ballot, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get(f"/keying/ballot/{ballot.ballot_paper_id}/")
    csrf = page.cookies["csrftoken"].value
    without = client.post(url(ballot), body(ballot, [500, 700, 300]), content_type="application/json")
    assert without.status_code == 403 and "CSRF" in without.json()["message"]
    assert not Submission.objects.exists()
    with_token = client.post(
        url(ballot), body(ballot, [500, 700, 300]), content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert with_token.status_code == 201


def test_same_write_path_as_the_form(ballot, alice):
    client = token_client(alice)
    client.post(url(ballot), body(ballot, [500, 700, 300]), format="json")
    bob = make_correspondent(ballot.election, "bob")
    response = token_client(bob).post(url(ballot), body(ballot, [500, 700, 300]), format="json")
    assert response.json()["status"] == ResultStatus.VERIFIED
    assert Result.objects.get(ballot=ballot).verified_by == bob


def test_a_keying_is_a_fixed_handful_of_statements(ballot, alice, django_assert_max_num_queries):
    """Each statement is a round trip a correspondent waits for on election night: the
    token and the ballot with the right to key it; in the transaction, the ballot's lock,
    its result with any retry's token, the candidates, then each new row stored once; after
    it, the second keying reads the winners it kept (fifteen and thirteen before)."""
    bob = make_correspondent(ballot.election, "bob")
    for who, n in ((alice, 11), (bob, 11)):
        client = token_client(who)
        data = body(ballot, [500, 700, 300], client_token=f"{who.username}-0001")
        with django_assert_max_num_queries(n):
            response = client.post(url(ballot), data, format="json")
        assert response.status_code == 201
    assert Result.objects.get(ballot=ballot).status == ResultStatus.VERIFIED


def test_a_keying_reads_no_ward_boundary(ballot, alice):
    """A ward's boundaries (as stored, and simplified for the national and council maps)
    are large JSON documents; neither the API nor the form reads them to key."""
    client = token_client(alice)
    page = Client()
    page.force_login(alice)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url(ballot), body(ballot, [500, 700, 300]), format="json")
        assert response.status_code == 201
        assert page.get(f"/keying/ballot/{ballot.ballot_paper_id}/").status_code == 200
    statements = [q["sql"] for q in captured.captured_queries]
    assert any("councils_ward" in sql for sql in statements)  # the ward's name is read
    assert not [sql for sql in statements if "geometry" in sql]

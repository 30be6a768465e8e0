"""The permission matrix: every URL and method the keying adds, for anonymous, a correspondent
of council A, a correspondent of council B, a reviewer of council A and an administrator.

Each answers as expected (a ballot not yours: 404, whether it exists or not; yours to see but
not to do this: 403; not logged in: the login page, or 401 from the API), a denied request
writes nothing (every results and accounts table is compared before and after), and every
denial is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.models import Assignment, IntegrationToken
from results.models import CandidateResult, Result, ResultEvent, Submission
from results.services import submit_result
from tests.factories.keying import (
    candidacy_ids,
    figures_for,
    make_admin,
    make_correspondent,
    make_keying_ballot,
    make_reviewer,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "correspondent_a", "correspondent_b", "reviewer_a", "admin")


@dataclass
class World:
    ballot_a: Any
    ballot_b: Any
    users: dict[str, Any]
    submission_id: int


@pytest.fixture
def world() -> World:
    ballot_a = make_keying_ballot()
    ballot_b = make_keying_ballot()
    keyer = make_correspondent(ballot_a.election, "keyer")
    first = submit_result(
        ballot=ballot_a,
        figures=figures_for(ballot_a, [500, 700, 300]),
        source="Declaration",
        channel="form",
        submitted_by=keyer,
    )
    users = {
        "anonymous": None,
        "correspondent_a": make_correspondent(ballot_a.election, "corr-a"),
        "correspondent_b": make_correspondent(ballot_b.election, "corr-b"),
        "reviewer_a": make_reviewer(ballot_a.election.council, "rev-a"),
        "admin": make_admin(),
    }
    return World(ballot_a, ballot_b, users, first.submission.pk)


def figures_form(ballot, votes, **extra) -> dict[str, str]:
    data = {
        "client_token": "matrix-token-1",
        "based_on_version": "1",
        "action": "submit",
        "source": "Declaration",
        "ballot_papers_counted": str(sum(votes) + 10),
        "rejected_total": "10",
        "electorate": "5000",
    }
    data.update({f"votes_{cid}": str(v) for cid, v in zip(candidacy_ids(ballot), votes, strict=True)})
    data.update(extra)
    return data


def api_body(ballot, votes) -> dict[str, Any]:
    return {
        "candidates": [
            {"candidacy_id": c, "votes": v} for c, v in zip(candidacy_ids(ballot), votes, strict=True)
        ],
        "ballot_papers_counted": sum(votes) + 10,
        "rejected_total": 10,
        "source": "feed",
    }


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[World], str]
    data: Callable[[World], Any] | None
    expected: tuple[int, int, int, int, int]  # in ROLES order
    json: bool = False


def ballot_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/keying/ballot/{w.ballot_a.ballot_paper_id}/{suffix}"


def review_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/keying/review/{w.ballot_a.ballot_paper_id}/{suffix}"


LOGIN = 302
CASES = {
    "my counts": Case("GET", lambda w: "/keying/", None, (LOGIN, 200, 200, 200, 200)),
    "keying form": Case("GET", ballot_path(), None, (LOGIN, 200, 404, 403, 200)),
    "key a result": Case(
        "POST",
        ballot_path(),
        lambda w: figures_form(w.ballot_a, [500, 700, 300]),
        (LOGIN, 303, 404, 403, 303),
    ),
    "correction form": Case("GET", ballot_path("correct/"), None, (LOGIN, 200, 404, 200, 200)),
    "correct a result": Case(
        "POST",
        ballot_path("correct/"),
        lambda w: figures_form(w.ballot_a, [501, 700, 300], correction_reason="recount"),
        (LOGIN, 303, 404, 303, 303),
    ),
    "history": Case("GET", ballot_path("history/"), None, (LOGIN, 200, 404, 200, 200)),
    "count state": Case(
        "POST", ballot_path("count-state/"), lambda w: {"state": "recount"}, (LOGIN, 303, 404, 403, 303)
    ),
    "review queue": Case("GET", lambda w: "/keying/review/", None, (LOGIN, 403, 403, 200, 200)),
    "review a ballot": Case("GET", review_path(), None, (LOGIN, 403, 404, 200, 200)),
    "approve": Case(
        "POST",
        review_path("approve/"),
        lambda w: {
            "submission_id": w.submission_id,
            "expected_version": 1,
            "client_token": "approve-token-1",
            "reason": "ok",
        },
        (LOGIN, 403, 404, 303, 303),
    ),
    "retract": Case(
        "POST",
        review_path("retract/"),
        lambda w: {"expected_version": 1, "reason": "wrong ward"},
        (LOGIN, 403, 404, 303, 303),
    ),
    "api submit": Case(
        "POST",
        lambda w: f"/api/v1/ballots/{w.ballot_a.ballot_paper_id}/result/",
        lambda w: api_body(w.ballot_a, [500, 700, 300]),
        (401, 201, 404, 403, 201),
        json=True,
    ),
    # The same actions aimed at council B's ballot by guessing its id: never anyone's but B's.
    "key B's ballot": Case(
        "POST",
        lambda w: f"/keying/ballot/{w.ballot_b.ballot_paper_id}/",
        lambda w: figures_form(w.ballot_b, [500, 700, 300], based_on_version="0"),
        (LOGIN, 404, 303, 404, 303),
    ),
    "API on B's ballot": Case(
        "POST",
        lambda w: f"/api/v1/ballots/{w.ballot_b.ballot_paper_id}/result/",
        lambda w: api_body(w.ballot_b, [500, 700, 300]),
        (401, 404, 201, 404, 201),
        json=True,
    ),
    "a ballot that does not exist": Case(
        "GET", lambda w: "/keying/ballot/local.nowhere.north.2026-05-07/", None, (LOGIN, 404, 404, 404, 404)
    ),
    "a malformed id": Case(
        "GET", lambda w: "/keying/ballot/local.<script>.2026-13-45/", None, (LOGIN, 404, 404, 404, 404)
    ),
}
# Methods a URL does not take: 405 once logged in (the login page first for the keying pages).
WRONG_METHODS = {
    "PUT /keying/ballot/": Case("PUT", ballot_path(), None, (LOGIN, 405, 405, 405, 405)),
    "DELETE /keying/ballot/": Case("DELETE", ballot_path(), None, (LOGIN, 405, 405, 405, 405)),
    "GET approve": Case("GET", review_path("approve/"), None, (LOGIN, 405, 405, 405, 405)),
    "GET retract": Case("GET", review_path("retract/"), None, (LOGIN, 405, 405, 405, 405)),
    "GET count state": Case("GET", ballot_path("count-state/"), None, (LOGIN, 405, 405, 405, 405)),
    "POST my counts": Case("POST", lambda w: "/keying/", None, (LOGIN, 405, 405, 405, 405)),
    "POST history": Case("POST", ballot_path("history/"), None, (LOGIN, 405, 405, 405, 405)),
    "GET api": Case(
        "GET",
        lambda w: f"/api/v1/ballots/{w.ballot_a.ballot_paper_id}/result/",
        None,
        (401, 405, 405, 405, 405),
        json=True,
    ),
    "DELETE api": Case(
        "DELETE",
        lambda w: f"/api/v1/ballots/{w.ballot_a.ballot_paper_id}/result/",
        None,
        (401, 405, 405, 405, 405),
        json=True,
    ),
}


def snapshot() -> dict[str, Any]:
    """Everything a request could write, row for row."""
    return {
        "submissions": list(Submission.objects.order_by("id").values_list("id", flat=True)),
        "events": list(ResultEvent.objects.order_by("id").values_list("id", flat=True)),
        "results": list(Result.objects.order_by("id").values_list("id", "version", "status", "count_state")),
        "candidate_results": list(
            CandidateResult.objects.order_by("id").values_list("id", "votes", "elected")
        ),
        "assignments": Assignment.objects.count(),
        "tokens": IntegrationToken.objects.count(),
    }


class Denials(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def denials():
    handler = Denials()
    logger = logging.getLogger("ukresults.security")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def request(client: Client, case: Case, w: World) -> Any:
    path = case.path(w)
    data = case.data(w) if case.data else None
    call = getattr(client, case.method.lower())
    if case.json:
        return call(path, data, content_type="application/json") if data is not None else call(path)
    if case.method in ("PUT", "DELETE"):
        return call(path)
    return call(path, data) if data is not None else call(path)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES) + list(WRONG_METHODS))
def test_matrix(world, denials, name, role):
    case = CASES.get(name) or WRONG_METHODS[name]
    expected = case.expected[ROLES.index(role)]
    client = Client()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    before = snapshot()
    response = request(client, case, world)
    assert response.status_code == expected, (name, role, response.status_code, response.content[:300])
    if expected == LOGIN:
        assert response["Location"].startswith("/accounts/login/")
    if expected >= 300 and expected != 303 or expected in (401,):
        assert snapshot() == before, f"{name} as {role} was refused but wrote something"
    if expected in (403, 404) or (expected == 401 and case.json):
        assert any(r.getMessage().startswith("access denied") for r in denials), f"{name}/{role} not logged"
    if expected in (200, 201, 303) and case.method in ("GET", "HEAD"):
        assert snapshot() == before  # reading changes nothing


def test_a_correspondent_posting_another_councils_candidates_into_their_own_ballot_is_refused(world):
    client = Client()
    client.force_login(world.users["correspondent_a"])
    before = snapshot()
    data = figures_form(world.ballot_a, [500, 700, 300])
    for a_id, b_id in zip(candidacy_ids(world.ballot_a), candidacy_ids(world.ballot_b), strict=True):
        data[f"votes_{b_id}"] = data.pop(f"votes_{a_id}")
    response = client.post(f"/keying/ballot/{world.ballot_a.ballot_paper_id}/", data)
    assert response.status_code == 400
    assert snapshot() == before


def test_an_api_body_naming_another_ballots_candidates_is_refused(world):
    client = Client()
    client.force_login(world.users["correspondent_a"])
    before = snapshot()
    body = api_body(world.ballot_b, [500, 700, 300])
    response = client.post(
        f"/api/v1/ballots/{world.ballot_a.ballot_paper_id}/result/", body, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "figures_refused"
    assert {p["code"] for p in response.json()["problems"]} == {"unknown_candidate", "missing_candidate"}
    assert snapshot() == before


def test_lists_show_nothing_of_other_councils(world):
    client = Client()
    client.force_login(world.users["correspondent_b"])
    html = client.get("/keying/").content.decode()
    assert world.ballot_b.ward.name in html and world.ballot_a.ward.name not in html
    client.force_login(world.users["reviewer_a"])
    submit_result(
        ballot=world.ballot_b,
        figures=figures_for(world.ballot_b, [5, 7, 3]),
        source="x",
        channel="form",
        submitted_by=world.users["correspondent_b"],
        confirm_warnings=True,
    )
    queue = client.get("/keying/review/").content.decode()
    assert world.ballot_a.ward.name in queue and world.ballot_b.ward.name not in queue


def test_a_disabled_account_loses_its_session(world):
    client = Client()
    user = world.users["correspondent_a"]
    client.force_login(user)
    assert client.get("/keying/").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/keying/").status_code == LOGIN

"""Two correspondents keying the same ballot at the same instant, many times, on PostgreSQL.

Each round starts both requests from one barrier, through the whole stack (the JSON endpoint
and the form view, each thread with its own database connection), and checks: no 500, no lost
update (both keyings are stored and the result moved exactly twice, versions 1 and 2), no
duplicate, and the outcome double keying promises (identical figures: verified; different:
disputed). Also the same form posted twice at once (a double click on a slow connection).
"""

from __future__ import annotations

import random
import threading
from functools import partial
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from django.test import Client

from results.models import EventKind, Result, ResultEvent, ResultStatus, Submission
from tests.factories.keying import candidacy_ids, make_correspondent, make_keying_ballot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 60
JSON = "application/json"  # Client.post's third argument is the content type


@pytest.fixture
def require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("row locks under real concurrency need PostgreSQL (CI runs this on PostgreSQL)")


def api_body(ids: list[int], votes: list[int], token: str, counted: int) -> dict[str, Any]:
    return {
        "candidates": [{"candidacy_id": c, "votes": v} for c, v in zip(ids, votes, strict=True)],
        "ballot_papers_counted": counted,
        "rejected_total": 5,
        "source": "Declaration",
        "client_token": token,
        "based_on_version": 0,
        "confirm_warnings": True,
    }


def form_body(ids: list[int], votes: list[int], token: str, counted: int) -> dict[str, str]:
    data = {
        "client_token": token,
        "based_on_version": "0",
        "action": "submit",
        "source": "Declaration",
        "ballot_papers_counted": str(counted),
        "rejected_total": "5",
        "confirm_warnings": "on",
    }
    data.update({f"votes_{c}": str(v) for c, v in zip(ids, votes, strict=True)})
    return data


def more_ballots(first: Any, count: int) -> list[Any]:
    """``count`` more ballots of the same council, made in one transaction (one commit)."""
    with transaction.atomic():
        return [make_keying_ballot(council=first.election.council) for _ in range(count)]


def at_once(calls: list[Any]) -> list[Any]:
    """Run the calls in threads released together; each thread closes its connection."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            out[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            out[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_two_correspondents_same_ballot_same_instant(require_postgres):
    rng = random.Random(20260507)
    council_ballot = make_keying_ballot()
    alice = make_correspondent(council_ballot.election, "alice")
    bob = make_correspondent(council_ballot.election, "bob")
    tally = {"verified": 0, "disputed": 0}
    ballots = [council_ballot, *more_ballots(council_ballot, ROUNDS - 1)]
    clients = []
    for user in (alice, bob):
        client = Client()
        client.force_login(user)
        clients.append(client)
    for n, ballot in enumerate(ballots):
        ids = candidacy_ids(ballot)
        votes = [rng.randrange(100, 2000) for _ in ids]
        identical = n % 2 == 0
        other = list(votes) if identical else [votes[0] + rng.randrange(1, 9), *votes[1:]]
        via_form = n % 3 == 0
        if via_form:
            url = f"/keying/ballot/{ballot.ballot_paper_id}/"
            calls = [
                partial(clients[0].post, url, form_body(ids, votes, f"a-{n:06d}", sum(votes) + 5)),
                partial(clients[1].post, url, form_body(ids, other, f"b-{n:06d}", sum(other) + 5)),
            ]
            ok = {303}
        else:
            url = f"/api/v1/ballots/{ballot.ballot_paper_id}/result/"
            calls = [
                partial(clients[0].post, url, api_body(ids, votes, f"a-{n:06d}", sum(votes) + 5), JSON),
                partial(clients[1].post, url, api_body(ids, other, f"b-{n:06d}", sum(other) + 5), JSON),
            ]
            ok = {201}
        responses = at_once(calls)
        for r in responses:
            assert not isinstance(r, Exception), r
            assert r.status_code in ok, (n, r.status_code, r.content[:500])
        result = Result.objects.get(ballot=ballot)
        submissions = Submission.objects.filter(ballot=ballot)
        events = list(ResultEvent.objects.filter(result=result).order_by("id").values_list("kind", "version"))
        assert submissions.count() == 2  # no lost keying, no duplicate
        assert set(submissions.values_list("submitted_by", flat=True)) == {alice.pk, bob.pk}
        assert result.version == 2 and [v for _, v in events] == [1, 2]  # two moves, no version reused
        assert sorted(submissions.values_list("resulting_version", flat=True)) == [1, 2]
        expected = ResultStatus.VERIFIED if identical else ResultStatus.DISPUTED
        assert result.status == expected
        assert events[0][0] == EventKind.PROVISIONAL and events[1][0] == expected
        tally[expected] += 1
    assert tally == {"verified": ROUNDS // 2, "disputed": ROUNDS // 2}


def test_the_same_post_twice_at_once_is_one_submission(require_postgres):
    ballot = make_keying_ballot()
    alice = make_correspondent(ballot.election, "alice")
    client = Client()
    client.force_login(alice)
    for n, target in enumerate([ballot, *more_ballots(ballot, 19)]):
        ids = candidacy_ids(target)
        url = f"/api/v1/ballots/{target.ballot_paper_id}/result/"
        body = api_body(ids, [300, 200, 100], f"same-token-{n:04d}", 605)
        responses = at_once([partial(client.post, url, body, JSON)] * 3)
        assert sorted(r.status_code for r in responses) == [200, 200, 201]
        assert Submission.objects.filter(ballot=target).count() == 1
        assert ResultEvent.objects.filter(result__ballot=target).count() == 1


def test_one_correspondent_two_tabs_at_once_is_a_conflict_not_a_lost_update(require_postgres):
    ballot = make_keying_ballot()
    alice = make_correspondent(ballot.election, "alice")
    client = Client()
    client.force_login(alice)
    for n, target in enumerate([ballot, *more_ballots(ballot, 19)]):
        ids = candidacy_ids(target)
        url = f"/api/v1/ballots/{target.ballot_paper_id}/result/"
        bodies = [
            api_body(ids, [300, 200, 100], f"tab1-{n:05d}", 605),
            api_body(ids, [301, 200, 100], f"tab2-{n:05d}", 606),
        ]
        responses = at_once([partial(client.post, url, b, JSON) for b in bodies])
        assert sorted(r.status_code for r in responses) == [201, 409]
        loser = next(r for r in responses if r.status_code == 409).json()
        assert loser["current_figures"] and loser["your_figures"]
        result = Result.objects.get(ballot=target)
        assert (result.status, result.version) == (ResultStatus.PROVISIONAL, 1)
        assert Submission.objects.filter(ballot=target).count() == 1


def test_a_publication_mark_set_during_a_keying_is_kept(require_postgres):
    """Writers hold the ballot's lock, not the result row's; the publisher marks results
    published without the ballot lock. A keying that read the result before the mark moved
    must not write the old mark back (the result would look unpublished, and go out again)."""
    from results import services

    ballot = make_keying_ballot()
    alice = make_correspondent(ballot.election, "alice")
    services.set_count_state(ballot=ballot, state="counting", actor=alice)

    def publisher_marks_it() -> None:
        Result.objects.filter(ballot=ballot).update(published_version=F("version"))

    with transaction.atomic():
        locked = services._lock_ballot_result(ballot.pk)  # noqa: SLF001 - the keying's first step
        assert locked.result.published_version == 0
        assert at_once([publisher_marks_it]) == [None]  # committed on its own connection
        locked.result.count_state = "recount"
        locked.result.version += 1
        services._save_result(locked.result)  # noqa: SLF001 - the keying's save
    result = Result.objects.get(ballot=ballot)
    assert (result.version, result.published_version, result.count_state) == (2, 1, "recount")

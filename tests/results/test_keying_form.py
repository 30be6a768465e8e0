"""The keying form, without JavaScript: what a correspondent sees and what each post stores.

Every failed check is shown beside its field with the numbers; warnings need an explicit
confirmation; "Check figures" shows the winners before anything is stored; a repeated post
(double click, retry after a timeout) stores one submission; a post over a newer version is
a conflict showing both sets of figures; the page is accessible (labels, numeric keypads).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from results.models import CountState, Result, ResultEvent, ResultStatus, Submission
from tests.factories.keying import (
    candidacy_ids,
    make_correspondent,
    make_keying_ballot,
    make_reviewer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ballot():
    return make_keying_ballot(seats=1)


@pytest.fixture
def alice(ballot):
    return make_correspondent(ballot.election, "alice")


@pytest.fixture
def bob(ballot):
    return make_correspondent(ballot.election, "bob")


def login(client, user):
    # Logging in through the login page (and its lockout) is tested in tests/accounts.
    client.force_login(user)
    return client


def url(ballot, name="keying:ballot"):
    return reverse(name, args=[ballot.ballot_paper_id])


def token_of(html: str) -> str:
    return re.search(r'name="client_token" value="([^"]+)"', html).group(1)


def post_data(ballot, votes, *, token="tok-0000000001", version=0, action="submit", **extra):  # noqa: S107
    data = {
        "client_token": token,
        "based_on_version": str(version),
        "action": action,
        "source": "Declaration at the count",
        "declared_at": "2026-05-08T01:30",
        "ballot_papers_counted": str(sum(votes) + 10),
        "rejected_total": "10",
        "electorate": "5000",
    }
    for cid, v in zip(candidacy_ids(ballot), votes, strict=True):
        data[f"votes_{cid}"] = str(v)
    data.update({k: str(v) for k, v in extra.items()})
    return data


def test_the_form_lists_the_ballot_paper_with_labelled_numeric_inputs(client, ballot, alice):
    html = login(client, alice).get(url(ballot)).content.decode()
    assert "1 seat" in html and ballot.ward.name in html
    for cid, name in ballot.candidacies.values_list("id", "person_name"):
        field = re.search(rf'<input[^>]*name="votes_{cid}"[^>]*>', html).group(0)
        assert 'inputmode="numeric"' in field and 'pattern="[0-9]*"' in field
        assert re.search(rf'<label for="id_votes_{cid}">\s*<span class="candidate__name">{name}</span>', html)
        assert "Party" in html  # party and ballot-paper description beside the name
    # Candidates in ballot-paper order: surnames ABLE, BAKER, COLE.
    positions = [html.index(n) for n in ("Ann ABLE", "Ben BAKER", "Cat COLE")]
    assert positions == sorted(positions)
    assert 'name="client_token"' in html and 'name="based_on_version" value="0"' in html
    assert 'name="viewport"' in html and "keying.js" in html
    assert "INVALID_TEMPLATE_VARIABLE" not in html


def test_check_shows_the_winner_and_stores_nothing(client, ballot, alice):
    response = login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300], action="check"))
    html = response.content.decode()
    assert response.status_code == 200
    winners = re.search(r'<ol class="winners">(.*?)</ol>', html, re.S).group(1)
    assert "Ben BAKER" in winners and "Ann ABLE" not in winners
    assert not Submission.objects.exists()


def test_submit_stores_a_provisional_result_and_redirects(client, ballot, alice):
    response = login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300]))
    assert response.status_code == 303 and response["Location"] == url(ballot)
    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.count_state, result.version) == (ResultStatus.PROVISIONAL, "declared", 1)
    page = client.get(url(ballot)).content.decode()
    assert "keyed. Provisional until someone else keys the same figures" in page


def test_second_identical_keying_verifies_and_a_differing_one_disputes(client, ballot, alice, bob):
    login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300], token="alice-token-1"))
    client.logout()
    login(client, bob)
    blind = client.get(url(ballot)).content.decode()
    assert "Someone else has keyed this result" in blind
    assert 'value="700"' not in blind  # the second keying is blind to the first
    client.post(url(ballot), post_data(ballot, [500, 700, 300], token="bob-token-01", version=1))
    assert Result.objects.get(ballot=ballot).status == ResultStatus.VERIFIED
    carol = make_correspondent(ballot.election, "carol")
    client.logout()
    login(client, carol).post(
        url(ballot),
        post_data(ballot, [500, 701, 300], token="carol-tok-01", version=2, ballot_papers_counted=1511),
    )
    assert Result.objects.get(ballot=ballot).status == ResultStatus.DISPUTED


def test_each_failed_check_is_shown_beside_its_field_with_the_numbers(client, ballot, alice):
    ids = candidacy_ids(ballot)
    data = post_data(ballot, [5000, 700, 300], ballot_papers_counted=2477, electorate=90)
    response = login(client, alice).post(url(ballot), data)
    html = response.content.decode()
    assert response.status_code == 400
    beside_votes = re.search(
        rf'<ul class="field-problems" id="votes_{ids[0]}-problems">(.*?)</ul>', html, re.S
    )
    assert beside_votes and "5,000 votes but only 2,477 ballot papers" in beside_votes.group(1)
    beside_counted = re.search(r'id="ballot_papers_counted-problems">(.*?)</ul>', html, re.S).group(1)
    assert "2,477 papers counted from an electorate of 90" in beside_counted
    assert re.search(rf'<input[^>]*name="votes_{ids[0]}"[^>]*aria-invalid="true"', html)
    assert re.search(
        rf'<input[^>]*aria-describedby="votes_{ids[0]}-problems"[^>]*name="votes_{ids[0]}"', html
    ) or re.search(rf'name="votes_{ids[0]}"[^>]*aria-describedby="votes_{ids[0]}-problems"', html)
    assert 'class="error-summary" role="alert"' in html
    assert 'value="5000"' in html  # what was keyed stays in the form
    assert not Submission.objects.exists()


def test_shape_errors_name_the_field(client, ballot, alice):
    ids = candidacy_ids(ballot)
    data = post_data(ballot, [500, 700, 300])
    data[f"votes_{ids[1]}"] = "7OO"  # letter O for zero
    data[f"votes_{ids[2]}"] = ""
    html = login(client, alice).post(url(ballot), data).content.decode()
    assert re.search(rf'id="votes_{ids[1]}-problems">.*?Enter a whole number', html, re.S)
    assert re.search(rf'id="votes_{ids[2]}-problems">.*?Enter Cat COLE&#x27;s votes', html, re.S)
    assert not Submission.objects.exists()


def test_warnings_need_an_explicit_confirmation(client, ballot, alice):
    login(client, alice)
    low = post_data(ballot, [50, 70, 30], electorate=50000)
    response = client.post(url(ballot), low)
    html = response.content.decode()
    assert response.status_code == 400 and not Submission.objects.exists()
    assert "Turnout would be 0.3% (160 of 50,000)" in html
    assert 'name="confirm_warnings"' in html
    response = client.post(url(ballot), {**low, "confirm_warnings": "on"})
    assert response.status_code == 303
    assert Result.objects.get(ballot=ballot).status == ResultStatus.PROVISIONAL


def test_a_double_click_or_a_retry_stores_one_submission(client, ballot, alice):
    login(client, alice)
    token = token_of(client.get(url(ballot)).content.decode())
    data = post_data(ballot, [500, 700, 300], token=token)
    first = client.post(url(ballot), data)
    second = client.post(url(ballot), data)  # the same form body again
    assert first.status_code == second.status_code == 303
    assert Submission.objects.count() == 1 and ResultEvent.objects.count() == 1
    assert "already received" in client.get(url(ballot)).content.decode()


def test_someone_elses_token_is_never_a_replay_of_theirs(client, ballot, alice, bob):
    login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300], token="shared-token-1"))
    client.logout()
    login(client, bob).post(
        url(ballot), post_data(ballot, [500, 700, 300], token="shared-token-1", version=1)
    )
    assert Submission.objects.count() == 2
    assert Result.objects.get(ballot=ballot).status == ResultStatus.VERIFIED


def test_a_post_over_a_newer_version_is_a_conflict_showing_both_figures(client, ballot, alice):
    login(client, alice)
    client.post(url(ballot), post_data(ballot, [500, 700, 300], token="first-keying-1"))
    # Alice opens the form twice (two tabs) at version 1 and fixes a figure in the first tab…
    client.post(
        url(ballot),
        post_data(
            ballot, [501, 700, 300], token="second-keying", version=1, correction_reason="keying_error"
        ),
    )
    # …then submits the stale second tab.
    response = client.post(url(ballot), post_data(ballot, [502, 700, 300], token="third-keying1", version=1))
    html = response.content.decode()
    assert response.status_code == 409
    assert "The result changed while you were keying" in html
    row = re.search(r'<tr class="differs">\s*<th scope="row">Ann ABLE.*?</tr>', html, re.S).group(0)
    assert "501" in row and "502" in row
    assert 'name="based_on_version" value="2"' in html  # submitting again replaces version 2
    assert Result.objects.get(ballot=ballot).version == 2
    response = client.post(url(ballot), post_data(ballot, [502, 700, 300], token="third-keying1", version=2))
    assert response.status_code == 303
    assert Result.objects.get(ballot=ballot).version == 3


def test_a_tie_for_the_last_seat_asks_who_won_by_lot(client, alice):
    ballot = make_keying_ballot(seats=1)
    user = make_correspondent(ballot.election)
    ids = candidacy_ids(ballot)
    login(client, user)
    tied = post_data(ballot, [600, 600, 300])
    html = client.post(url(ballot), tied).content.decode()
    assert re.search(r'<fieldset class="tie field--problem" id="field-won_by_lot"', html)  # shown, not hidden
    assert "Ann ABLE, Ben BAKER tie on 600 votes for 1 seat(s): mark who won by lot." in html
    response = client.post(url(ballot), {**tied, f"won_by_lot_{ids[1]}": "on"})
    assert response.status_code == 303
    result = Result.objects.get(ballot=ballot)
    winner = result.candidate_results.get(elected=True)
    assert (winner.candidacy_id, winner.won_by_lot) == (ids[1], True)


def test_own_rekeying_prefills_and_records_a_reason(client, ballot, alice):
    login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300], token="first-keying-1"))
    html = client.get(url(ballot)).content.decode()
    assert "You keyed this result" in html and 'value="700"' in html
    assert 'name="correction_reason"' in html


def test_correction_form_for_a_verified_result(client, ballot, alice, bob):
    login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300], token="alice-token-1"))
    client.logout()
    login(client, bob).post(url(ballot), post_data(ballot, [500, 700, 300], token="bob-token-001", version=1))
    html = client.get(url(ballot, "keying:correct")).content.decode()
    assert 'value="700"' in html  # prefilled with the verified figures
    no_reason = post_data(
        ballot, [500, 710, 300], token="bob-correct-1", version=2, ballot_papers_counted=1520
    )
    response = client.post(url(ballot, "keying:correct"), no_reason)
    assert response.status_code == 400 and Result.objects.get(ballot=ballot).version == 2
    response = client.post(url(ballot, "keying:correct"), {**no_reason, "correction_reason": "recount"})
    assert response.status_code == 303
    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.version) == (ResultStatus.PROVISIONAL, 3)
    history = client.get(url(ballot, "keying:history")).content.decode()
    assert "Result corrected" in history and "Reason: recount" in history


def test_my_counts_lists_assigned_ballots_and_sets_the_count_state(client, ballot, alice):
    other = make_keying_ballot()  # another council's ballot
    login(client, alice)
    html = client.get(reverse("keying:home")).content.decode()
    assert ballot.ward.name in html and other.ward.name not in html
    assert "Needs keying" in html
    response = client.post(url(ballot, "keying:count_state"), {"state": "counting"})
    assert response.status_code == 303
    result = Result.objects.get(ballot=ballot)
    assert (result.count_state, result.status) == (CountState.COUNTING, "none")
    assert ResultEvent.objects.get(result=result).kind == "count_state"
    response = client.post(url(ballot, "keying:count_state"), {"state": "declared"})
    assert response.status_code == 303 and Result.objects.get(ballot=ballot).count_state == "counting"


def test_stv_ballot_keys_first_preferences_elected_and_stages(client):
    ballot = make_keying_ballot(seats=2, system="STV", names=("Ann ABLE", "Ben BAKER", "Cat COLE"))
    user = make_correspondent(ballot.election)
    ids = candidacy_ids(ballot)
    login(client, user)
    base = {
        "client_token": "stv-token-001",
        "based_on_version": "0",
        "source": "Count sheet",
        "ballot_papers_counted": "102",
        "rejected_total": "2",
        "stv_quota": "34",
        "stv_valid_poll": "100",
        f"votes_{ids[0]}": "50",
        f"votes_{ids[1]}": "30",
        f"votes_{ids[2]}": "20",
        f"elected_{ids[0]}": "on",
        f"elected_{ids[1]}": "on",
    }
    html = client.post(url(ballot), {**base, "action": "add_stage", "stages": "0"}).content.decode()
    assert f'name="stage_2_{ids[0]}"' in html and "error-summary" not in html
    staged = {
        **base,
        "stages": "1",
        f"stage_2_{ids[0]}": "34",
        f"stage_2_{ids[1]}": "42",
        f"stage_2_{ids[2]}": "25",
        "stage_2_non_transferable": "0",
    }
    html = client.post(url(ballot), staged).content.decode()  # 101 after stage 2: votes from nowhere
    assert re.search(r'id="stage_2-problems">.*?Stage 2', html, re.S)
    assert not Submission.objects.exists()
    staged[f"stage_2_{ids[2]}"] = "24"
    assert client.post(url(ballot), staged).status_code == 303
    result = Result.objects.get(ballot=ballot)
    assert result.stv_count.quota == 34 and result.stv_count.stages.count() == 2
    assert set(result.candidate_results.filter(elected=True).values_list("candidacy_id", flat=True)) == set(
        ids[:2]
    )


def test_reviewer_pages_compare_field_by_field_and_resolve(client, ballot, alice, bob):
    login(client, alice).post(url(ballot), post_data(ballot, [500, 700, 300], token="alice-token-1"))
    client.logout()
    login(client, bob).post(url(ballot), post_data(ballot, [700, 500, 300], token="bob-token-001", version=1))
    client.logout()
    rita = make_reviewer(ballot.election.council)
    login(client, rita)
    queue = client.get(reverse("keying:review")).content.decode()
    assert ballot.ward.name in queue
    html = client.get(url(ballot, "keying:review_ballot")).content.decode()
    assert html.count('<tr class="differs">') == 2  # Ann's and Ben's votes
    bob_keying = Submission.objects.filter(submitted_by=bob).get()
    data = {
        "submission_id": bob_keying.pk,
        "expected_version": 2,
        "client_token": "review-token-1",
        "reason": "Matches the declaration sheet",
    }
    stale = client.post(url(ballot, "keying:review_approve"), {**data, "expected_version": 1})
    assert stale.status_code == 409 and "changed since you opened it" in stale.content.decode()
    response = client.post(url(ballot, "keying:review_approve"), data)
    assert response.status_code == 303
    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.current_submission) == (ResultStatus.VERIFIED, bob_keying)

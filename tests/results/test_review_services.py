"""Reviewers and corrections: approve_result, resolve_dispute, correct_result, retract_result.

Each use case is shown with its refusals: a stale version, someone approving their own
keying, a keying that is not one in dispute, a missing reason. The history of a result stays
readable after all of them: who, when, what changed and why, for every version.
"""

from __future__ import annotations

import pytest

from config.errors import ApplicationError, ConflictError
from results.figures import ResultFigures
from results.models import (
    CountState,
    EventKind,
    Result,
    ResultEvent,
    ResultStatus,
    Submission,
    SubmissionChannel,
)
from results.selectors import seats_by_party
from results.services import (
    approve_result,
    correct_result,
    disputed_submissions,
    resolve_dispute,
    retract_result,
    set_count_state,
    submit_result,
)
from tests.factories.keying import (
    candidacy_ids,
    figures_for,
    make_correspondent,
    make_keying_ballot,
    make_reviewer,
)

pytestmark = pytest.mark.django_db

A = [900, 700, 400]
B = [700, 900, 400]  # Nelson: two candidates' figures transposed


@pytest.fixture
def ballot():
    return make_keying_ballot()


@pytest.fixture
def people(ballot):
    election = ballot.election
    return {
        "alice": make_correspondent(election, "alice"),
        "bob": make_correspondent(election, "bob"),
        "carol": make_correspondent(election, "carol"),
        "rita": make_reviewer(election.council, "rita"),
    }


def key(ballot, votes, user, **kw):
    return submit_result(
        ballot=ballot,
        figures=figures_for(ballot, votes),
        source="Declaration",
        channel=SubmissionChannel.FORM,
        submitted_by=user,
        **kw,
    )


def disputed(ballot, people):
    key(ballot, A, people["alice"])
    key(ballot, B, people["bob"])
    result = Result.objects.get(ballot=ballot)
    assert result.status == ResultStatus.DISPUTED
    return result


# --- approve_result -----------------------------------------------------------------------


def test_reviewer_approval_verifies_a_provisional_result(ballot, people):
    first = key(ballot, A, people["alice"])
    result = first.result
    outcome = approve_result(
        result=result,
        submission_id=first.submission.pk,
        expected_version=1,
        reviewer=people["rita"],
        note="Read back by phone",
    )
    result.refresh_from_db()
    assert (result.status, result.version, result.verified_by) == (ResultStatus.VERIFIED, 2, people["rita"])
    assert result.current_submission == first.submission  # the keyer's figures stand
    assert outcome.submission.channel == SubmissionChannel.REVIEW
    assert outcome.submission.figures_hash == first.submission.figures_hash
    event = result.events.order_by("-id").first()
    assert (event.kind, event.actor, event.payload["approved_submission"]) == (
        EventKind.VERIFIED,
        people["rita"],
        first.submission.pk,
    )


def test_nobody_approves_their_own_keying(ballot, people):
    # Rita is a reviewer and also keys: she cannot verify what she keyed.
    first = key(ballot, A, people["rita"])
    with pytest.raises(ApplicationError) as exc:
        approve_result(
            result=first.result,
            submission_id=first.submission.pk,
            expected_version=1,
            reviewer=people["rita"],
        )
    assert exc.value.code == "own_keying"
    assert Result.objects.get(ballot=ballot).status == ResultStatus.PROVISIONAL


def test_approving_a_version_that_changed_meanwhile_is_refused(ballot, people):
    first = key(ballot, A, people["alice"])
    # Alice fixes her own slip after the reviewer opened the page at version 1.
    key(ballot, [901, 700, 400], people["alice"], based_on_version=1)
    with pytest.raises(ConflictError) as exc:
        approve_result(
            result=first.result,
            submission_id=first.submission.pk,
            expected_version=1,
            reviewer=people["rita"],
        )
    body = exc.value.as_dict()
    assert (body["code"], body["current_version"]) == ("version_conflict", 2)
    assert Result.objects.get(ballot=ballot).status == ResultStatus.PROVISIONAL
    assert not Submission.objects.filter(channel=SubmissionChannel.REVIEW).exists()


def test_approval_must_name_the_current_keying(ballot, people):
    first = key(ballot, A, people["alice"])
    with pytest.raises(ConflictError):
        approve_result(
            result=first.result,
            submission_id=first.submission.pk + 99,
            expected_version=1,
            reviewer=people["rita"],
        )


def test_approval_of_a_disputed_result_is_refused_with_a_pointer_to_resolution(ballot, people):
    result = disputed(ballot, people)
    with pytest.raises(ApplicationError) as exc:
        approve_result(
            result=result,
            submission_id=result.current_submission_id,
            expected_version=result.version,
            reviewer=people["rita"],
        )
    assert exc.value.code == "not_provisional"


def test_approval_retried_with_its_token_is_one_approval(ballot, people):
    first = key(ballot, A, people["alice"])
    kw = {
        "submission_id": first.submission.pk,
        "expected_version": 1,
        "reviewer": people["rita"],
        "client_token": "approve-once-123",
    }
    one = approve_result(result=first.result, **kw)
    two = approve_result(result=first.result, **kw)
    assert two.outcome == "duplicate" and two.submission == one.submission
    assert Result.objects.get(ballot=ballot).version == 2
    assert ResultEvent.objects.filter(kind=EventKind.VERIFIED).count() == 1


# --- resolve_dispute ----------------------------------------------------------------------


def test_dispute_shows_both_keyings_and_the_reviewer_approves_the_second(ballot, people):
    result = disputed(ballot, people)
    keyings = disputed_submissions(result)
    assert [s.submitted_by for s in keyings] == [people["alice"], people["bob"]]
    outcome = resolve_dispute(
        result=result,
        submission_id=keyings[1].pk,
        expected_version=result.version,
        reviewer=people["rita"],
        reason="Bob's sheet matches the declaration",
    )
    result.refresh_from_db()
    assert (result.status, result.verified_by, result.current_submission) == (
        ResultStatus.VERIFIED,
        people["rita"],
        keyings[1],
    )
    votes = dict(result.candidate_results.values_list("candidacy_id", "votes"))
    assert [votes[cid] for cid in candidacy_ids(ballot)] == B
    elected = set(result.candidate_results.filter(elected=True).values_list("candidacy_id", flat=True))
    assert elected == {candidacy_ids(ballot)[1]}
    event = result.events.order_by("-id").first()
    assert event.kind == EventKind.RESOLVED and event.submission == outcome.submission
    assert event.payload["approved_submission"] == keyings[1].pk
    assert "Bob's sheet" in event.payload["note"]
    assert {c["field"] for c in event.payload["changes"]} == {
        f"votes_{cid}" for cid in candidacy_ids(ballot)[:2]
    }


def test_approving_the_figures_already_shown_keeps_them(ballot, people):
    result = disputed(ballot, people)
    first = disputed_submissions(result)[0]
    resolve_dispute(
        result=result,
        submission_id=first.pk,
        expected_version=result.version,
        reviewer=people["rita"],
        reason="First keying is right",
    )
    result.refresh_from_db()
    assert result.status == ResultStatus.VERIFIED and result.current_submission == first
    assert "changes" not in result.events.order_by("-id").first().payload


def test_resolution_refusals(ballot, people):
    result = disputed(ballot, people)
    alice_keying, bob_keying = disputed_submissions(result)
    base = {
        "result": result,
        "expected_version": result.version,
        "reviewer": people["rita"],
        "reason": "checked",
    }
    with pytest.raises(ApplicationError) as exc:
        resolve_dispute(**{**base, "reason": "  "}, submission_id=bob_keying.pk)
    assert exc.value.field == "reason"
    with pytest.raises(ApplicationError) as exc:
        resolve_dispute(**base, submission_id=999999)
    assert exc.value.code == "unknown_submission"
    with pytest.raises(ConflictError):
        resolve_dispute(**{**base, "expected_version": result.version - 1}, submission_id=bob_keying.pk)
    # Bob, were he also a reviewer, could not settle the dispute in favour of his own keying.
    with pytest.raises(ApplicationError) as exc:
        resolve_dispute(**{**base, "reviewer": people["bob"]}, submission_id=bob_keying.pk)
    assert exc.value.code == "own_keying"
    assert Result.objects.get(ballot=ballot).status == ResultStatus.DISPUTED
    assert not Submission.objects.filter(channel=SubmissionChannel.REVIEW).exists()


def test_a_keying_that_arrives_during_the_review_is_a_choice_but_does_not_move_the_version(ballot, people):
    result = disputed(ballot, people)
    version = result.version
    third = key(ballot, [900, 700, 401], people["carol"])
    assert third.result.version == version  # public state unchanged: held for the reviewer
    keyings = disputed_submissions(Result.objects.get(pk=result.pk))
    assert [s.pk for s in keyings][-1] == third.submission.pk
    resolve_dispute(
        result=result,
        submission_id=keyings[0].pk,
        expected_version=version,
        reviewer=people["rita"],
        reason="Alice's figures",
    )
    assert Result.objects.get(pk=result.pk).current_submission == keyings[0]


def test_resolving_twice_is_refused_and_a_retry_with_its_token_is_not(ballot, people):
    result = disputed(ballot, people)
    bob = disputed_submissions(result)[1]
    kw = {
        "result": result,
        "submission_id": bob.pk,
        "expected_version": result.version,
        "reviewer": people["rita"],
        "reason": "Bob",
    }
    first = resolve_dispute(**kw, client_token="resolve-abc-123")
    assert resolve_dispute(**kw, client_token="resolve-abc-123").submission == first.submission
    with pytest.raises(ConflictError):  # a second reviewer working from the same page
        resolve_dispute(**{**kw, "reviewer": make_reviewer()})
    assert ResultEvent.objects.filter(kind=EventKind.RESOLVED).count() == 1


# --- correct_result -----------------------------------------------------------------------


def verified(ballot, people):
    key(ballot, A, people["alice"])
    key(ballot, A, people["bob"])
    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.version) == (ResultStatus.VERIFIED, 2)
    return result


def test_correction_of_a_verified_result_needs_a_reason_and_a_new_verification(ballot, people):
    result = verified(ballot, people)
    fixed = figures_for(ballot, [900, 650, 450])
    outcome = correct_result(
        result=result,
        figures=fixed,
        expected_version=2,
        corrected_by=people["alice"],
        reason="recount",
        source="Recount declaration",
        note="Recount at 03:10",
    )
    result.refresh_from_db()
    assert (result.status, result.version, result.verified_by) == (ResultStatus.PROVISIONAL, 3, None)
    assert outcome.submission.correction_reason == "recount"
    event = result.events.order_by("-id").first()
    assert event.kind == EventKind.CORRECTED
    assert (event.payload["reason"], event.payload["corrects_version"], event.payload["previous_status"]) == (
        "recount",
        2,
        "verified",
    )
    assert {c["field"] for c in event.payload["changes"]} == {
        f"votes_{cid}" for cid in candidacy_ids(ballot)[1:]
    }
    # The corrector keying the same again does not verify it; someone else does.
    key(ballot, [900, 650, 450], people["alice"])
    assert Result.objects.get(pk=result.pk).status == ResultStatus.PROVISIONAL
    key(ballot, [900, 650, 450], people["carol"])
    assert Result.objects.get(pk=result.pk).status == ResultStatus.VERIFIED


def test_correction_refusals(ballot, people):
    result = verified(ballot, people)
    fixed = figures_for(ballot, [900, 650, 450])
    base = {
        "result": result,
        "figures": fixed,
        "expected_version": 2,
        "corrected_by": people["alice"],
        "reason": "keying_error",
        "source": "Declaration",
    }
    with pytest.raises(ApplicationError) as exc:
        correct_result(**{**base, "reason": ""})
    assert exc.value.field == "correction_reason"
    with pytest.raises(ApplicationError) as exc:
        correct_result(**{**base, "figures": figures_for(ballot, A)})
    assert exc.value.code == "no_change"
    with pytest.raises(ApplicationError) as exc:
        correct_result(**{**base, "figures": figures_for(ballot, [900, -650, 450])})
    assert exc.value.code == "figures_refused" and exc.value.field.startswith("votes_")
    with pytest.raises(ConflictError) as exc:
        correct_result(**{**base, "expected_version": 1})
    body = exc.value.as_dict()
    assert body["current_figures"]["candidates"] != body["your_figures"]["candidates"]
    assert Result.objects.get(pk=result.pk).version == 2
    assert Submission.objects.filter(correction_reason__gt="").count() == 0


def test_a_disputed_result_is_resolved_not_corrected(ballot, people):
    result = disputed(ballot, people)
    with pytest.raises(ApplicationError) as exc:
        correct_result(
            result=result,
            figures=figures_for(ballot, [1, 2, 3]),
            expected_version=result.version,
            corrected_by=people["rita"],
            reason="recount",
            source="x",
        )
    assert exc.value.code == "result_disputed"


# --- retract_result -----------------------------------------------------------------------


def test_retraction_withdraws_the_result_and_keeps_its_history(ballot, people):
    result = verified(ballot, people)
    assert seats_by_party(ballot.election)
    retracted = retract_result(
        result=result, expected_version=2, retracted_by=people["rita"], reason="Wrong ward keyed"
    )
    assert (retracted.status, retracted.version) == (ResultStatus.RETRACTED, 3)
    assert seats_by_party(ballot.election) == {}
    assert Submission.objects.filter(ballot=ballot).count() == 2
    event = retracted.events.order_by("-id").first()
    assert (event.kind, event.payload["reason"]) == (EventKind.RETRACTED, "Wrong ward keyed")
    # Pressing the button twice changes nothing more; a stale retraction is a conflict.
    again = retract_result(result=result, expected_version=2, retracted_by=people["rita"], reason="again")
    assert again.version == 3
    with pytest.raises(ConflictError):
        retract_result(result=result, expected_version=2, retracted_by=make_reviewer(), reason="x")
    # Keying again starts it afresh.
    assert key(ballot, A, people["carol"], based_on_version=3).result.status == ResultStatus.PROVISIONAL


def test_retraction_needs_a_reason_and_a_result(ballot, people):
    result = set_count_state(ballot=ballot, state=CountState.COUNTING, actor=people["alice"])
    with pytest.raises(ApplicationError) as exc:
        retract_result(result=result, expected_version=1, retracted_by=people["rita"], reason="")
    assert exc.value.field == "reason"
    with pytest.raises(ApplicationError) as exc:
        retract_result(result=result, expected_version=1, retracted_by=people["rita"], reason="x")
    assert exc.value.code == "nothing_to_retract"


# --- versions and history -------------------------------------------------------------------


def test_a_count_state_change_while_keying_is_not_a_conflict(ballot, people):
    # The form was opened at version 0; a colleague marks the count as counting (version 1).
    set_count_state(ballot=ballot, state=CountState.COUNTING, actor=people["bob"])
    outcome = key(ballot, A, people["alice"], based_on_version=0)
    assert outcome.result.status == ResultStatus.PROVISIONAL
    # …but figures keyed meanwhile are: Alice's own re-keying from version 0 now conflicts.
    with pytest.raises(ConflictError):
        key(ballot, [901, 700, 400], people["alice"], based_on_version=0)


def test_every_version_stays_readable(ballot, people):
    result = disputed(ballot, people)
    bob = disputed_submissions(result)[1]
    resolve_dispute(
        result=result,
        submission_id=bob.pk,
        expected_version=result.version,
        reviewer=people["rita"],
        reason="Bob's sheet",
    )
    correct_result(
        result=result,
        figures=figures_for(ballot, [701, 900, 400]),
        expected_version=3,
        corrected_by=people["carol"],
        reason="official_correction",
        source="Council website",
    )
    retract_result(result=result, expected_version=4, retracted_by=people["rita"], reason="Withdrawn by RO")
    events = list(ResultEvent.objects.filter(result=result).order_by("id"))
    assert [(e.kind, e.version) for e in events] == [
        (EventKind.PROVISIONAL, 1),
        (EventKind.DISPUTED, 2),
        (EventKind.RESOLVED, 3),
        (EventKind.CORRECTED, 4),
        (EventKind.RETRACTED, 5),
    ]
    assert all(e.actor is not None and e.created_at is not None for e in events)
    # Every figure set ever keyed is still there, exactly as received.
    hashes = list(
        Submission.objects.filter(ballot=ballot).order_by("id").values_list("figures_hash", flat=True)
    )
    assert hashes[:2] == [figures_for(ballot, A).fingerprint(), figures_for(ballot, B).fingerprint()]
    assert ResultFigures.from_canonical(Submission.objects.get(pk=bob.pk).figures).fingerprint() == hashes[1]

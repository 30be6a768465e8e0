"""Any sequence of keyings, approvals, resolutions, corrections, retractions and count-state
changes, by any mix of people and with stale versions, keeps the audit trail's promises
(hypothesis ``RuleBasedStateMachine``):

- versions move one at a time, each move has exactly one event, and the result's version is
  its latest event's;
- submissions are never lost (their number never goes down) and a refused action changes
  nothing;
- a verified result was never verified by the person whose keying it stands on;
- a result with figures always points at the keying they came from.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from config.errors import ApplicationError
from results.models import Result, ResultEvent, ResultStatus, Submission
from results.services import (
    approve_result,
    correct_result,
    disputed_submissions,
    resolve_dispute,
    retract_result,
    set_count_state,
    submit_result,
)
from tests.factories.keying import figures_for, make_correspondent, make_keying_ballot, make_reviewer

FIGURE_SETS = ([900, 700, 400], [700, 900, 400], [900, 650, 450])


class ReviewMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ballot = make_keying_ballot()
        council = self.ballot.election.council
        keyers = [make_correspondent(self.ballot.election) for _ in range(3)]
        reviewers = [make_reviewer(council), make_reviewer()]
        self.people = keyers + reviewers  # reviewers key too: they must not approve their own
        self.reviewers = reviewers
        self.submissions = 0

    def result(self) -> Result | None:
        return Result.objects.filter(ballot=self.ballot).select_related("current_submission").first()

    def version(self) -> int:
        result = self.result()
        return result.version if result else 0

    def attempt(self, action) -> None:
        before = (self.version(), Submission.objects.count(), ResultEvent.objects.count())
        try:
            action()
        except ApplicationError:
            after = (self.version(), Submission.objects.count(), ResultEvent.objects.count())
            assert after == before, "a refused action changed something"

    @rule(who=st.integers(0, 4), figures=st.integers(0, 2), stale=st.booleans())
    def key(self, who: int, figures: int, stale: bool) -> None:
        based_on = max(self.version() - 1, 0) if stale else self.version()
        self.attempt(
            lambda: submit_result(
                ballot=self.ballot,
                figures=figures_for(self.ballot, FIGURE_SETS[figures]),
                source="Declaration",
                channel="form",
                submitted_by=self.people[who],
                based_on_version=based_on,
            )
        )

    @rule(who=st.integers(0, 1), stale=st.booleans())
    def approve(self, who: int, stale: bool) -> None:
        result = self.result()
        if result is None or result.current_submission is None:
            return
        self.attempt(
            lambda: approve_result(
                result=result,
                submission_id=result.current_submission_id,
                expected_version=result.version - stale,
                reviewer=self.reviewers[who],
            )
        )

    @rule(who=st.integers(0, 1), pick=st.integers(0, 3), stale=st.booleans())
    def resolve(self, who: int, pick: int, stale: bool) -> None:
        result = self.result()
        if result is None:
            return
        keyings = disputed_submissions(result)
        if not keyings:
            return
        chosen = keyings[pick % len(keyings)]
        self.attempt(
            lambda: resolve_dispute(
                result=result,
                submission_id=chosen.pk,
                expected_version=result.version - stale,
                reviewer=self.reviewers[who],
                reason="checked against the sheet",
            )
        )

    @rule(who=st.integers(0, 4), figures=st.integers(0, 2), stale=st.booleans())
    def correct(self, who: int, figures: int, stale: bool) -> None:
        result = self.result()
        if result is None:
            return
        self.attempt(
            lambda: correct_result(
                result=result,
                figures=figures_for(self.ballot, FIGURE_SETS[figures]),
                expected_version=result.version - stale,
                corrected_by=self.people[who],
                reason="recount",
                source="Recount",
                confirm_warnings=True,
            )
        )

    @rule(who=st.integers(0, 1), stale=st.booleans())
    def retract(self, who: int, stale: bool) -> None:
        result = self.result()
        if result is None:
            return
        self.attempt(
            lambda: retract_result(
                result=result,
                expected_version=result.version - stale,
                retracted_by=self.reviewers[who],
                reason="withdrawn",
            )
        )

    @rule(who=st.integers(0, 2), state=st.sampled_from(["counting", "recount", "awaiting"]))
    def count_state(self, who: int, state: str) -> None:
        self.attempt(lambda: set_count_state(ballot=self.ballot, state=state, actor=self.people[who]))

    @invariant()
    def versions_move_one_event_at_a_time(self) -> None:
        result = self.result()
        if result is None:
            return
        versions = list(
            ResultEvent.objects.filter(result=result).order_by("id").values_list("version", flat=True)
        )
        assert versions == list(range(1, len(versions) + 1))
        assert result.version == (versions[-1] if versions else 0)

    @invariant()
    def submissions_are_never_lost(self) -> None:
        count = Submission.objects.filter(ballot=self.ballot).count()
        assert count >= self.submissions
        self.submissions = count

    @invariant()
    def nobody_verified_their_own_keying(self) -> None:
        result = self.result()
        if result is None or result.status != ResultStatus.VERIFIED:
            return
        assert result.verified_by_id is not None
        assert result.verified_by_id != result.current_submission.submitted_by_id

    @invariant()
    def figures_point_at_their_keying(self) -> None:
        result = self.result()
        if result is not None and result.status in (
            ResultStatus.PROVISIONAL,
            ResultStatus.VERIFIED,
            ResultStatus.DISPUTED,
        ):
            assert result.current_submission is not None
            assert result.current_submission.channel != "review"


@pytest.mark.django_db
def test_review_state_machine():
    run_state_machine_as_test(
        ReviewMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

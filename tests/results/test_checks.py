"""The arithmetic checks, case by case, and against an independent reference with hypothesis."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from results.checks import (
    BallotSpec,
    check_figures,
    derive_fptp_winners,
    derive_stv_winners,
    droop_quota,
)
from results.figures import CandidateFigures, ResultFigures, StvStageFigures

NAMES = {1: "Ann Able", 2: "Ben Baker", 3: "Cat Cole", 4: "Dev Dunn"}


def spec(seats: int = 1, system: str = "FPTP", uncontested: bool = False, names=None) -> BallotSpec:
    return BallotSpec(
        seats=seats, voting_system=system, candidacy_names=names or NAMES, uncontested=uncontested
    )


def figs(votes: dict[int, int | None], **kw) -> ResultFigures:
    lot = kw.pop("lot", set())
    elected = kw.pop("elected", None)
    return ResultFigures(
        candidates=tuple(
            CandidateFigures(
                cid, v, won_by_lot=cid in lot, elected=None if elected is None else cid in elected
            )
            for cid, v in votes.items()
        ),
        **kw,
    )


def codes(report) -> set[str]:
    return {p.code for p in report.errors}


def test_clean_single_seat_result_elects_the_top_candidate():
    report = check_figures(
        spec(),
        figs({1: 500, 2: 300, 3: 150, 4: 50}, ballot_papers_counted=1010, rejected_total=10, electorate=4000),
    )
    assert report.errors == [] and report.warnings == []
    assert report.elected == {1}


def test_highworth_more_votes_than_papers_is_refused():
    # Highworth published 41,939 votes from 2,477 ballot papers.
    report = check_figures(
        spec(seats=3), figs({1: 41939, 2: 900, 3: 800, 4: 700}, ballot_papers_counted=2477)
    )
    assert {"votes_exceed_papers", "votes_exceed_limit"} <= codes(report)
    problem = next(p for p in report.errors if p.code == "votes_exceed_papers")
    assert problem.field == "votes_1"
    assert "41,939" in problem.message and "2,477" in problem.message


def test_lost_votes_with_valid_papers_given_is_refused():
    # Putney/Plymouth: about 6,500 votes went missing between count and publication.
    report = check_figures(
        spec(),
        figs(
            {1: 9000, 2: 8000, 3: 1000, 4: 500},
            ballot_papers_counted=25100,
            valid_papers=25000,
            rejected_total=100,
        ),
    )
    assert "votes_dont_add_up" in codes(report)


def test_small_difference_from_counted_minus_rejected_is_a_warning():
    report = check_figures(
        spec(), figs({1: 2000, 2: 1000, 3: 358, 4: 0}, ballot_papers_counted=3384, rejected_total=25)
    )
    assert report.errors == []
    assert [w.code for w in report.warnings] == ["votes_dont_add_up"]


def test_missing_unknown_and_duplicate_candidates_are_refused():
    report = check_figures(spec(), figs({1: 10, 2: 5, 9: 3}))
    assert codes(report) == {"unknown_candidate", "missing_candidate"}
    dup = ResultFigures(
        candidates=(
            CandidateFigures(1, 1),
            CandidateFigures(1, 1),
            CandidateFigures(2, 1),
            CandidateFigures(3, 1),
            CandidateFigures(4, 1),
        )
    )
    assert codes(check_figures(spec(), dup)) == {"duplicate_candidate"}


def test_negative_figures_are_refused_naming_the_field():
    report = check_figures(spec(), figs({1: -5, 2: 5, 3: 1, 4: 1}, electorate=-1))
    assert {(p.code, p.field) for p in report.errors} == {("negative", "votes_1"), ("negative", "electorate")}


def test_valid_plus_rejected_must_equal_counted():
    report = check_figures(
        spec(),
        figs({1: 60, 2: 40, 3: 0, 4: 0}, ballot_papers_counted=120, valid_papers=100, rejected_total=10),
    )
    assert "papers_dont_add_up" in codes(report)


def test_counted_beyond_electorate_is_refused_and_low_turnout_warned():
    assert "turnout_exceeds_electorate" in codes(
        check_figures(spec(), figs({1: 60, 2: 40, 3: 0, 4: 0}, ballot_papers_counted=100, electorate=90))
    )
    report = check_figures(
        spec(), figs({1: 60, 2: 40, 3: 0, 4: 0}, ballot_papers_counted=100, electorate=5000)
    )
    assert [w.code for w in report.warnings] == ["low_turnout"]


def test_rejected_headings_must_match_total():
    headings = {"official_mark": 1, "multiple_vote": 2, "identification": 0, "in_part": 0, "unmarked": 3}
    report = check_figures(
        spec(),
        figs({1: 60, 2: 40, 3: 0, 4: 0}, ballot_papers_counted=107, rejected_total=9, rejected=headings),
    )
    assert "rejected_sum" in codes(report)


def test_tie_for_last_seat_needs_a_lot_winner():
    votes = {1: 500, 2: 300, 3: 300, 4: 100}
    report = check_figures(spec(seats=2), figs(votes))
    assert codes(report) == {"tie_needs_lot"}
    assert "Ben Baker, Cat Cole" in report.errors[0].message
    decided = check_figures(spec(seats=2), figs(votes, lot={3}))
    assert decided.errors == [] and decided.elected == {1, 3}
    stray = check_figures(spec(seats=2), figs({1: 500, 2: 301, 3: 300, 4: 100}, lot={3}))
    assert codes(stray) == {"lot_without_tie"}


def test_stated_winners_must_match_the_votes():
    report = check_figures(spec(seats=1), figs({1: 10, 2: 20, 3: 0, 4: 0}, elected={1}))
    assert codes(report) == {"winners_disagree"}
    assert "Ann Able" in report.errors[0].message and "Ben Baker" in report.errors[0].message


def test_uncontested_ballot_elects_everyone_without_votes():
    names = {1: "Ann Able", 2: "Ben Baker"}
    report = check_figures(spec(seats=2, uncontested=True, names=names), figs({1: None, 2: None}))
    assert report.errors == [] and report.elected == {1, 2}
    too_many = check_figures(spec(seats=1, uncontested=True, names=names), figs({1: None, 2: None}))
    assert codes(too_many) == {"not_uncontested"}


def test_stv_quota_and_stage_conservation():
    names = {1: "A", 2: "B", 3: "C"}
    first = {1: 50, 2: 30, 3: 20}
    stage2 = StvStageFigures(number=2, totals={1: Decimal(34), 2: Decimal(42), 3: Decimal(24)})
    good = figs(first, stv_quota=34, stv_valid_poll=100, stv_stages=(stage2,))
    report = check_figures(spec(seats=2, system="STV", names=names), good)
    assert report.errors == [], report.errors
    assert report.elected == {1, 2}
    bad_quota = figs(first, stv_quota=33, stv_valid_poll=100, stv_stages=(stage2,))
    assert "quota" in codes(check_figures(spec(seats=2, system="STV", names=names), bad_quota))
    inflated = StvStageFigures(number=2, totals={1: Decimal(34), 2: Decimal(52), 3: Decimal(24)})
    report = check_figures(
        spec(seats=2, system="STV", names=names),
        figs(first, stv_quota=34, stv_valid_poll=100, stv_stages=(inflated,)),
    )
    assert "stage_not_conserved" in codes(report)


def test_droop_quota():
    assert droop_quota(3803, 4) == 761
    assert droop_quota(3315, 3) == 829


# --- property tests against an independent reference ---------------------------------


def reference_winners(votes: dict[int, int], seats: int, lot: set[int]) -> set[int] | None:
    """Reference: elect one at a time, highest first; at a tie for the remaining places the
    lot decides. None when the lot is needed but not given correctly."""
    remaining = dict(votes)
    elected: set[int] = set()
    while len(elected) < seats and remaining:
        best = max(remaining.values())
        group = [c for c, v in remaining.items() if v == best]
        places = seats - len(elected)
        if len(group) <= places:
            elected.update(group)
            for c in group:
                del remaining[c]
        else:
            chosen = lot & set(group)
            if len(chosen) != places:
                return None
            elected.update(chosen)
            break
    return elected


@settings(max_examples=300, deadline=None)
@given(
    votes=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8),
    seats=st.integers(min_value=1, max_value=4),
    lot_seed=st.sets(st.integers(min_value=0, max_value=7)),
)
def test_fptp_winners_match_reference(votes, seats, lot_seed):
    by_id = {i + 1: v for i, v in enumerate(votes)}
    lot = {i + 1 for i in lot_seed if i < len(votes)}
    elected, tied, places = derive_fptp_winners(by_id, seats, lot)
    expected = reference_winners(by_id, seats, lot)
    if tied and len(lot & tied) != places:
        assert expected is None
    elif expected is not None:
        assert elected == expected
        assert len(elected) == min(seats, len(votes))


@settings(max_examples=300, deadline=None)
@given(
    votes=st.lists(st.integers(min_value=0, max_value=5000), min_size=2, max_size=8),
    seats=st.integers(min_value=1, max_value=3),
    extra=st.integers(min_value=0, max_value=5000),
    rejected=st.integers(min_value=0, max_value=200),
)
def test_total_votes_never_exceed_seats_times_valid_papers(votes, seats, extra, rejected):
    names = {i + 1: f"Candidate {i + 1}" for i in range(len(votes))}
    valid = max(votes) + extra
    figures = ResultFigures(
        candidates=tuple(CandidateFigures(i + 1, v) for i, v in enumerate(votes)),
        ballot_papers_counted=valid + rejected,
        rejected_total=rejected,
    )
    report = check_figures(BallotSpec(seats=seats, voting_system="FPTP", candidacy_names=names), figures)
    refused = "votes_exceed_limit" in codes(report)
    assert refused == (sum(votes) > seats * valid)


@pytest.mark.parametrize(
    ("stages", "quota", "seats", "expected"),
    [
        # Reaching the quota elects; the last continuing candidate fills the last seat.
        (
            [
                {1: Decimal(730), 2: Decimal(314), 3: Decimal(288)},
                {1: Decimal(601), 2: Decimal(584), 3: Decimal(0)},
            ],
            601,
            2,
            {1, 2},
        ),
        ([{1: Decimal(10), 2: Decimal(9), 3: Decimal(8)}], 10, 1, {1}),
    ],
)
def test_stv_winners_from_stages(stages, quota, seats, expected):
    assert derive_stv_winners(stages, quota, seats) == expected


def test_unopposed_candidate_cannot_be_stated_as_not_elected():
    names = {1: "Ann Able", 2: "Ben Baker"}
    report = check_figures(
        spec(seats=2, uncontested=True, names=names), figs({1: None, 2: None}, elected={1})
    )
    assert codes(report) == {"winners_disagree"}

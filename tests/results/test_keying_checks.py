"""The arithmetic checks against an independent reference, and every refused and warned case
through the write path a correspondent uses.

The reference below is written from architecture.md's list of invariants and results/README's
warnings, sharing no code with ``results.checks``: hypothesis generates wards (1-3 seats, 1-15
candidates) and figures, consistent and not, and the two must agree on whether the figures are
refused, which warnings they raise and who is elected.

Then each refusal and warning, including the real UK mistakes (Highworth, Nelson, Putney and
Plymouth, turnout above the electorate, winners that are not the top candidates, negative
votes), through ``submit_result`` or ``correct_result``: refused figures store nothing;
warnings store nothing until confirmed; every message names its field and its numbers.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import ApplicationError
from results.checks import BallotSpec, check_figures
from results.figures import CandidateFigures, ResultFigures, StvStageFigures
from results.models import Result, ResultStatus, Submission
from results.services import correct_result, submit_result
from tests.factories.keying import (
    candidacy_ids,
    figures_for,
    make_correspondent,
    make_keying_ballot,
)

HEADINGS = ("official_mark", "multiple_vote", "identification", "in_part", "unmarked")


# --- the reference ------------------------------------------------------------------------


def reference(
    seats: int,
    stv: bool,
    votes: list[int],
    lot: set[int],
    stated: set[int] | None,
    counted: int | None,
    rejected_total: int | None,
    headings: dict[str, int],
    valid: int | None,
    electorate: int | None,
) -> tuple[bool, set[str], frozenset[int] | None]:
    """(refused?, warning codes, elected when accepted) for candidates 0..n-1."""
    refused = False
    warnings: set[str] = set()
    total = sum(votes)
    rejected = (
        rejected_total if rejected_total is not None else (sum(headings.values()) if headings else None)
    )
    if rejected_total is not None and headings:
        complete = len(headings) == len(HEADINGS)
        if (complete and sum(headings.values()) != rejected_total) or sum(headings.values()) > rejected_total:
            refused = True
    if counted is not None:
        refused |= any(v > counted for v in votes)
        refused |= rejected is not None and rejected > counted
        refused |= electorate is not None and counted > electorate
    if None not in (valid, rejected, counted) and valid + rejected != counted:
        refused = True
    if valid is not None:
        usable = valid
    elif counted is not None and rejected is not None:
        usable = counted - rejected
    else:
        usable = None
    basis = usable if usable is not None else counted
    if basis is not None:
        if total > seats * basis:
            refused = True
        elif seats == 1 and not stv and total != basis:
            if valid is not None:
                refused = True
            elif usable is not None:
                warnings.add("votes_dont_add_up")
    if (
        counted is not None
        and electorate
        and counted <= electorate
        and Fraction(counted, electorate) < Fraction(1, 10)
    ):
        warnings.add("low_turnout")
    if counted and rejected is not None and Fraction(rejected) > Fraction(5, 100) * counted:
        warnings.add("many_rejected")

    if stv:
        poll = usable if usable is not None else total
        quota = poll // (seats + 1) + 1
        refused |= total != poll
        winners = set(stated or ())
        refused |= any(v >= quota and i not in winners for i, v in enumerate(votes))
        refused |= len(winners) != seats
        return refused, warnings, None if refused else frozenset(winners)

    order = sorted(range(len(votes)), key=lambda i: votes[i], reverse=True)
    if len(votes) <= seats:
        elected, tied, places = set(order), set(), 0
    else:
        last = votes[order[seats - 1]]
        sure = {i for i in order if votes[i] > last}
        tied = {i for i in order if votes[i] == last}
        places = seats - len(sure)
        if len(tied) == places:
            elected, tied = sure | tied, set()
        else:
            elected = sure | (lot & tied)
    if tied and len(lot & tied) != places:
        refused = True
    if lot - tied:
        refused = True
    if stated is not None and stated != elected:
        refused = True
    return refused, warnings, None if refused else frozenset(elected)


# --- generated wards ---------------------------------------------------------------------


@st.composite
def wards(draw: st.DrawFn, stv: bool = False) -> dict:
    seats = draw(st.integers(1, 3))
    n = draw(st.integers(1, 15))
    # Small vote ranges make ties common; large ones exercise the thousands.
    high = draw(st.sampled_from([5, 60, 5000]))
    votes = draw(st.lists(st.integers(0, high), min_size=n, max_size=n))
    total = sum(votes)
    per_voter = seats if not stv else 1
    rejected_total = draw(st.one_of(st.none(), st.integers(0, max(3, total // 10))))
    headings = draw(
        st.one_of(
            st.just({}),
            st.dictionaries(st.sampled_from(HEADINGS), st.integers(0, 20), max_size=5),
        )
    )
    rejected = rejected_total if rejected_total is not None else (sum(headings.values()) if headings else 0)
    voters = -(-total // per_voter)  # at least this many papers for these votes
    counted = draw(
        st.one_of(
            st.none(),
            st.just(voters + rejected),
            st.integers(max(0, voters + rejected - 5), voters + rejected + 5),
            st.integers(0, 3 * max(total, 1)),
        )
    )
    valid = draw(st.one_of(st.none(), st.none(), st.integers(0, max(counted or 0, 10) + 3)))
    electorate = draw(
        st.one_of(
            st.none(),
            st.integers(1, 20),
            st.integers((counted or 0), 20 * (counted or 0) + 20),
        )
    )
    lot = draw(st.sets(st.integers(0, n - 1), max_size=3)) if not stv else set()
    stated = None
    if stv or draw(st.booleans()) and draw(st.booleans()):
        stated = draw(st.sets(st.integers(0, n - 1), max_size=min(n, seats + 1)))
    return {
        "seats": seats,
        "stv": stv,
        "votes": votes,
        "lot": lot,
        "stated": stated,
        "counted": counted,
        "rejected_total": rejected_total,
        "headings": headings,
        "valid": valid,
        "electorate": electorate,
    }


def implementation(ward: dict) -> tuple[bool, set[str], frozenset[int] | None]:
    n = len(ward["votes"])
    spec = BallotSpec(
        seats=ward["seats"],
        voting_system="STV" if ward["stv"] else "FPTP",
        candidacy_names={i: f"Candidate {i}" for i in range(n)},
    )
    stated = ward["stated"]
    figures = ResultFigures(
        candidates=tuple(
            CandidateFigures(
                i, v, won_by_lot=i in ward["lot"], elected=None if stated is None else i in stated
            )
            for i, v in enumerate(ward["votes"])
        ),
        ballot_papers_counted=ward["counted"],
        rejected_total=ward["rejected_total"],
        rejected=dict(ward["headings"]),
        valid_papers=ward["valid"],
        electorate=ward["electorate"],
    )
    report = check_figures(spec, figures)
    refused = bool(report.errors)
    return refused, {w.code for w in report.warnings}, None if refused else frozenset(report.elected)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wards())
def test_fptp_checks_agree_with_the_reference(ward):
    assert implementation(ward) == reference(**ward)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wards(stv=True))
def test_stv_first_preference_checks_agree_with_the_reference(ward):
    assert implementation(ward) == reference(**ward)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 3),
    st.lists(st.integers(0, 3000), min_size=1, max_size=12, unique=True),
    st.integers(0, 50),
)
def test_consistent_figures_are_never_refused(seats, votes, rejected):
    """Figures a returning officer could declare (no tie, enough papers for every vote) pass,
    and elect the top ``seats``."""
    papers = sum(votes) if seats == 1 else max(-(-sum(votes) // seats), max(votes))
    ward = {
        "seats": seats,
        "stv": False,
        "votes": votes,
        "lot": set(),
        "stated": None,
        "counted": papers + rejected,
        "rejected_total": rejected,
        "headings": {},
        "valid": None,
        "electorate": None,
    }
    refused, _, elected = implementation(ward)
    assert not refused
    assert elected == frozenset(sorted(range(len(votes)), key=lambda i: -votes[i])[:seats])


# --- every refusal and warning through the write path ----------------------------------------


@pytest.fixture
def keyed(db):
    """``keyed(ballot, figures, **kw)``: a correspondent's keying of the ballot."""

    def key(ballot, figures, **kw):
        user = kw.pop("user", None) or make_correspondent(ballot.election)
        return submit_result(
            ballot=ballot, figures=figures, source="Declaration", channel="form", submitted_by=user, **kw
        )

    return key


def refused(keyed, ballot, figures, code, field=None, *numbers):
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, figures)
    problems = {p.code: p for p in exc.value.problems}
    assert exc.value.code == "figures_refused" and code in problems, exc.value.as_dict()
    if field:
        assert problems[code].field == field
    for number in numbers:
        assert number in problems[code].message
    assert not Submission.objects.filter(ballot=ballot).exists()
    return problems[code]


def test_highworth_more_votes_than_papers(keyed):
    # Highworth published 41,939 votes from 2,477 ballot papers (3 seats).
    ballot = make_keying_ballot(seats=3, names=("A ONE", "B TWO", "C THREE", "D FOUR"))
    ids = candidacy_ids(ballot)
    figures = figures_for(ballot, [41939, 900, 800, 700], ballot_papers_counted=2477, rejected_total=10)
    problem = refused(keyed, ballot, figures, "votes_exceed_papers", f"votes_{ids[0]}", "41,939", "2,477")
    assert problem.numbers == {"votes": 41939, "counted": 2477}


def test_putney_lost_votes_refused_when_valid_papers_are_given(keyed):
    # Putney: about 6,500 votes vanished between the count and publication.
    ballot = make_keying_ballot(seats=1)
    figures = figures_for(
        ballot, [9000, 3000, 1000], ballot_papers_counted=19600, rejected_total=100, valid_papers=19500
    )
    refused(keyed, ballot, figures, "votes_dont_add_up", "votes", "13,000", "19,500")


def test_plymouth_lost_votes_from_counted_minus_rejected_is_a_warning_to_confirm(keyed):
    # The form derives valid papers from counted − rejected: a shortfall is held for a
    # confirmation (Trafford's own results differ by 1-3 votes), with the numbers.
    ballot = make_keying_ballot(seats=1)
    figures = figures_for(
        ballot, [9000, 3000, 1000], ballot_papers_counted=19600, rejected_total=100, electorate=60000
    )
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, figures)
    assert exc.value.code == "needs_confirmation"
    warning = exc.value.problems[0]
    assert (warning.code, warning.severity) == ("votes_dont_add_up", "warning")
    assert "13,000" in warning.message and "19,500" in warning.message and "6,500" in warning.message
    assert not Submission.objects.filter(ballot=ballot).exists()
    assert keyed(ballot, figures, confirm_warnings=True).outcome == "accepted"


def test_nelson_transposed_figures_are_caught_by_the_second_keying(keyed):
    # Nelson: two candidates' figures swapped. Each keying is plausible on its own; the
    # second, independent keying disagrees, and nothing is verified until a reviewer decides.
    ballot = make_keying_ballot(seats=1)
    keyed(ballot, figures_for(ballot, [900, 700, 400]))
    keyed(ballot, figures_for(ballot, [700, 900, 400]))
    result = Result.objects.get(ballot=ballot)
    assert result.status == ResultStatus.DISPUTED and result.verified_by is None
    winner = result.candidate_results.get(elected=True)
    assert winner.votes == 900 and winner.candidacy_id == candidacy_ids(ballot)[0]


def test_turnout_above_the_electorate(keyed):
    ballot = make_keying_ballot(seats=1)
    refused(
        keyed,
        ballot,
        figures_for(ballot, [3000, 2000, 200], electorate=5000),
        "turnout_exceeds_electorate",
        "ballot_papers_counted",
        "5,210",
        "5,000",
    )


def test_winners_that_are_not_the_top_candidates(keyed):
    ballot = make_keying_ballot(seats=2)
    ids = candidacy_ids(ballot)
    base = figures_for(ballot, [900, 700, 400], ballot_papers_counted=1010)
    figures = ResultFigures(
        candidates=tuple(
            CandidateFigures(c.candidacy_id, c.votes, elected=c.candidacy_id in (ids[0], ids[2]))
            for c in base.candidates
        ),
        ballot_papers_counted=1010,
        rejected_total=10,
        electorate=5000,
    )
    problem = refused(keyed, ballot, figures, "winners_disagree", "elected")
    assert "Cat COLE" in problem.message and "Ben BAKER" in problem.message


def test_wrong_number_elected_in_stv(keyed):
    ballot = make_keying_ballot(seats=2, system="STV")
    ids = candidacy_ids(ballot)
    figures = ResultFigures(
        candidates=(
            CandidateFigures(ids[0], 50, elected=True),
            CandidateFigures(ids[1], 30, elected=False),
            CandidateFigures(ids[2], 20, elected=False),
        ),
        ballot_papers_counted=102,
        rejected_total=2,
    )
    refused(keyed, ballot, figures, "wrong_number_elected", "elected", "1 elected for 2")


def test_negative_votes(keyed):
    ballot = make_keying_ballot(seats=1)
    ids = candidacy_ids(ballot)
    refused(keyed, ballot, figures_for(ballot, [900, -700, 400]), "negative", f"votes_{ids[1]}", "-700")


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("missing candidate", "missing_candidate", "votes_{2}"),
        ("unknown candidate", "unknown_candidate", "votes_999999"),
        ("valid + rejected != counted", "papers_dont_add_up", "valid_papers"),
        ("headings != total", "rejected_sum", "rejected_total"),
        ("rejected > counted", "rejected_exceed_papers", "rejected_total"),
        ("counted > issued", "counted_exceed_issued", "ballot_papers_counted"),
        ("tie without lot", "tie_needs_lot", "won_by_lot"),
        ("lot without tie", "lot_without_tie", "won_by_lot"),
    ],
)
def test_other_refusals(keyed, case, code, field):
    ballot = make_keying_ballot(seats=1)
    ids = candidacy_ids(ballot)
    good = {"ballot_papers_counted": 2010, "rejected_total": 10, "electorate": 5000}
    votes = [900, 700, 400]
    kw: dict = {}
    if case == "missing candidate":
        figures = ResultFigures(
            candidates=tuple(CandidateFigures(c, v) for c, v in zip(ids[:2], votes, strict=False)), **good
        )
    elif case == "unknown candidate":
        figures = ResultFigures(
            candidates=(*figures_for(ballot, votes, **good).candidates, CandidateFigures(999999, 1)), **good
        )
    elif case == "valid + rejected != counted":
        figures = figures_for(ballot, votes, **good, valid_papers=1990)
    elif case == "headings != total":
        figures = figures_for(ballot, votes, **good, rejected=dict.fromkeys(HEADINGS, 1))
    elif case == "rejected > counted":
        figures = figures_for(ballot, [0, 0, 0], ballot_papers_counted=5, rejected_total=10)
    elif case == "counted > issued":
        figures = figures_for(ballot, votes, **good, ballot_papers_issued=2000)
    elif case == "tie without lot":
        figures = figures_for(ballot, [800, 800, 400], **good)
    else:
        kw["lot"] = [ids[0]]
        figures = figures_for(ballot, votes, **good, **kw)
    refused(keyed, ballot, figures, code, field.format(*ids))


def test_stv_stage_arithmetic_is_checked(keyed):
    ballot = make_keying_ballot(seats=2, system="STV")
    ids = candidacy_ids(ballot)
    first = {"ballot_papers_counted": 102, "rejected_total": 2, "stv_quota": 34, "stv_valid_poll": 100}

    def stv(stage2, **kw):
        return ResultFigures(
            candidates=tuple(
                CandidateFigures(c, v, elected=c in ids[:2]) for c, v in zip(ids, [50, 30, 20], strict=True)
            ),
            stv_stages=(StvStageFigures(2, dict(zip(ids, map(Decimal, stage2), strict=True)), **kw),),
            **first,
        )

    refused(keyed, ballot, stv([34, 42, 25]), "stage_not_conserved", "stv_stage_2", "101")
    refused(
        keyed, ballot, stv([34, 42, 24], transfers={ids[1]: Decimal(10)}), "transfer_mismatch", "stv_stage_2"
    )
    bad_quota = ResultFigures(
        candidates=stv([34, 42, 24]).candidates,
        stv_stages=stv([34, 42, 24]).stv_stages,
        **{**first, "stv_quota": 35},
    )
    refused(keyed, ballot, bad_quota, "quota", "stv_quota", "34", "35")
    assert keyed(ballot, stv([34, 42, 24])).outcome == "accepted"


@pytest.mark.parametrize(
    ("figures_kw", "code", "field"),
    [
        ({"electorate": 50000}, "low_turnout", "ballot_papers_counted"),
        ({"ballot_papers_counted": 2150, "rejected_total": 150}, "many_rejected", "rejected_total"),
        ({"turnout_pct": Decimal("30.00")}, "turnout_mismatch", "turnout_pct"),
    ],
)
def test_warnings_store_nothing_until_confirmed(keyed, figures_kw, code, field):
    ballot = make_keying_ballot(seats=1)
    votes = [900, 700, 400]
    base = {"ballot_papers_counted": 2010, "rejected_total": 10, "electorate": 5000}
    figures = figures_for(ballot, votes, **{**base, **figures_kw})
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, figures)
    assert exc.value.code == "needs_confirmation"
    warning = next(p for p in exc.value.problems if p.code == code)
    assert (warning.severity, warning.field) == ("warning", field) and warning.numbers
    assert not Submission.objects.filter(ballot=ballot).exists()
    outcome = keyed(ballot, figures, confirm_warnings=True)
    assert outcome.outcome == "accepted" and code in {w.code for w in outcome.warnings}


def test_a_recount_that_changes_the_winner_is_a_warning_to_confirm(keyed):
    ballot = make_keying_ballot(seats=1)
    alice = make_correspondent(ballot.election)
    first = keyed(ballot, figures_for(ballot, [900, 880, 400]), user=alice)
    recount = figures_for(ballot, [885, 895, 400])
    kw = {
        "result": first.result,
        "figures": recount,
        "expected_version": 1,
        "corrected_by": alice,
        "reason": "recount",
        "source": "Recount declaration",
    }
    with pytest.raises(ApplicationError) as exc:
        correct_result(**kw)
    warning = exc.value.problems[0]
    assert (exc.value.code, warning.code) == ("needs_confirmation", "winners_change")
    assert warning.numbers == {"out": ["Ann ABLE"], "in": ["Ben BAKER"]}
    assert Submission.objects.filter(ballot=ballot).count() == 1
    assert correct_result(**kw, confirm_warnings=True).result.version == 2


def test_a_cancelled_ballot_and_an_uncontested_one(keyed):
    ballot = make_keying_ballot(seats=1)
    ballot.cancelled = True
    ballot.save()
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, figures_for(ballot, [900, 700, 400]))
    assert exc.value.code == "ballot_cancelled"
    unopposed = make_keying_ballot(seats=2, names=("Ann ABLE", "Ben BAKER"), uncontested=True)
    ids = candidacy_ids(unopposed)
    with pytest.raises(ApplicationError) as exc:
        keyed(
            unopposed, ResultFigures(candidates=(CandidateFigures(ids[0], 5), CandidateFigures(ids[1], None)))
        )
    assert exc.value.problems[0].code == "uncontested_votes"
    outcome = keyed(unopposed, ResultFigures(candidates=tuple(CandidateFigures(c, None) for c in ids)))
    assert outcome.result.candidate_results.filter(elected=True).count() == 2

"""Arithmetic checks on a ballot's figures, and who they elect. Pure functions, no database.

Each check comes from a real UK mistake: Highworth published 41,939 votes from 2,477 ballot
papers; Nelson's figures were transposed between candidates; Putney and Plymouth each lost
about 6,500 votes between count and publication. A failure is an ``error`` (impossible
figures: refused) or a ``warning`` (possible in a real count: the keyer must confirm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from config.errors import Problem

from .figures import REJECTED_HEADINGS, CandidateFigures, ResultFigures

# A turnout under this share is possible (by-elections in winter) but worth a second look.
LOW_TURNOUT_PCT = Decimal("10")
# Rejected papers above this share of those counted usually mean a keying slip.
HIGH_REJECTED_SHARE = Decimal("0.05")
# Published turnout percentages are rounded to one or two decimals.
TURNOUT_TOLERANCE_PCT = Decimal("0.5")
# STV totals are published to 5 decimal places; each stage may round each candidate.
STV_TOLERANCE_PER_CANDIDATE = Decimal("0.0001")


@dataclass(frozen=True)
class BallotSpec:
    """What the checks need to know about the ballot."""

    seats: int
    voting_system: str  # "FPTP" or "STV"
    candidacy_names: dict[int, str]
    uncontested: bool = False


@dataclass
class CheckReport:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    elected: set[int] = field(default_factory=set)

    def error(self, code: str, fld: str, message: str, **numbers: object) -> None:
        self.errors.append(Problem(code=code, field=fld, message=message, numbers=dict(numbers)))

    def warn(self, code: str, fld: str, message: str, **numbers: object) -> None:
        self.warnings.append(
            Problem(code=code, field=fld, message=message, severity="warning", numbers=dict(numbers))
        )


def candidate_field(candidacy_id: int) -> str:
    return f"votes_{candidacy_id}"


def check_figures(spec: BallotSpec, figures: ResultFigures) -> CheckReport:
    """Run every check; ``report.elected`` holds the winners when there are no errors."""
    report = CheckReport()
    if not _check_candidate_set(spec, figures, report):
        return report
    _check_non_negative(figures, report)
    if report.errors:
        return report
    if spec.uncontested:
        _check_uncontested(spec, figures, report)
        return report
    if any(c.votes is None for c in figures.candidates):
        for c in figures.candidates:
            if c.votes is None:
                report.error("votes_missing", candidate_field(c.candidacy_id),
                             f"Votes for {spec.candidacy_names[c.candidacy_id]} are missing.")
        return report
    _check_papers(spec, figures, report)
    if spec.voting_system == "STV":
        _check_stv(spec, figures, report)
    else:
        _check_fptp_winners(spec, figures, report)
    _check_plausibility(figures, report)
    return report


def _check_candidate_set(spec: BallotSpec, figures: ResultFigures, report: CheckReport) -> bool:
    seen: set[int] = set()
    for c in figures.candidates:
        if c.candidacy_id not in spec.candidacy_names:
            report.error("unknown_candidate", candidate_field(c.candidacy_id),
                         f"Candidacy {c.candidacy_id} is not on this ballot.")
        elif c.candidacy_id in seen:
            report.error("duplicate_candidate", candidate_field(c.candidacy_id),
                         f"{spec.candidacy_names[c.candidacy_id]} appears more than once.")
        seen.add(c.candidacy_id)
    for candidacy_id, name in spec.candidacy_names.items():
        if candidacy_id not in seen:
            report.error("missing_candidate", candidate_field(candidacy_id),
                         f"{name} is on the ballot but has no figures.")
    return not report.errors


def _check_non_negative(figures: ResultFigures, report: CheckReport) -> None:
    for c in figures.candidates:
        if c.votes is not None and c.votes < 0:
            report.error("negative", candidate_field(c.candidacy_id),
                         f"Votes cannot be negative ({c.votes}).", votes=c.votes)
    for name in ("electorate", "ballot_papers_issued", "ballot_papers_counted",
                 "valid_papers", "rejected_total"):
        value = getattr(figures, name)
        if value is not None and value < 0:
            report.error("negative", name, f"{_label(name)} cannot be negative ({value}).")
    for heading, value in figures.rejected.items():
        if heading not in REJECTED_HEADINGS:
            report.error("unknown_field", f"rejected_{heading}", f"Unknown rejection heading {heading!r}.")
        elif value is not None and value < 0:
            report.error("negative", f"rejected_{heading}",
                         f"Rejected papers ({heading.replace('_', ' ')}) cannot be negative ({value}).")


def _check_uncontested(spec: BallotSpec, figures: ResultFigures, report: CheckReport) -> None:
    if len(figures.candidates) > spec.seats:
        report.error("not_uncontested", "candidates",
                     f"{len(figures.candidates)} candidates for {spec.seats} seats is a contest.")
        return
    for c in figures.candidates:
        if c.votes is not None:
            report.error("uncontested_votes", candidate_field(c.candidacy_id),
                         "An uncontested ballot has no votes: candidates are elected unopposed.")
        if c.elected is False:
            report.error("winners_disagree", "elected",
                         f"{spec.candidacy_names[c.candidacy_id]} stood unopposed and is elected.")
    report.elected = {c.candidacy_id for c in figures.candidates}


def _check_papers(spec: BallotSpec, figures: ResultFigures, report: CheckReport) -> None:
    votes = {c.candidacy_id: c.votes or 0 for c in figures.candidates}
    total_votes = sum(votes.values())
    counted = figures.ballot_papers_counted
    rejected = figures.rejected_sum
    valid = figures.valid_papers

    given_headings = {k: v for k, v in figures.rejected.items() if v is not None}
    if figures.rejected_total is not None and given_headings:
        heading_sum = sum(given_headings.values())
        if len(given_headings) == len(REJECTED_HEADINGS) and heading_sum != figures.rejected_total:
            report.error("rejected_sum", "rejected_total",
                         f"The five rejection headings add up to {heading_sum}, "
                         f"not the rejected total {figures.rejected_total}.",
                         headings=heading_sum, total=figures.rejected_total)
        elif heading_sum > figures.rejected_total:
            report.error("rejected_sum", "rejected_total",
                         f"The rejection headings add up to {heading_sum}, "
                         f"more than the rejected total {figures.rejected_total}.",
                         headings=heading_sum, total=figures.rejected_total)

    if counted is not None:
        for candidacy_id, v in votes.items():
            if v > counted:
                report.error("votes_exceed_papers", candidate_field(candidacy_id),
                             f"{spec.candidacy_names[candidacy_id]} has {v:,} votes but only "
                             f"{counted:,} ballot papers were counted.", votes=v, counted=counted)
        if rejected is not None and rejected > counted:
            report.error("rejected_exceed_papers", "rejected_total",
                         f"{rejected:,} rejected papers is more than the {counted:,} counted.",
                         rejected=rejected, counted=counted)
        if figures.ballot_papers_issued is not None and counted > figures.ballot_papers_issued:
            report.error("counted_exceed_issued", "ballot_papers_counted",
                         f"{counted:,} papers counted but only {figures.ballot_papers_issued:,} issued.",
                         counted=counted, issued=figures.ballot_papers_issued)
        if figures.electorate is not None and counted > figures.electorate:
            report.error("turnout_exceeds_electorate", "ballot_papers_counted",
                         f"{counted:,} papers counted from an electorate of {figures.electorate:,}.",
                         counted=counted, electorate=figures.electorate)

    if valid is not None and rejected is not None and counted is not None and valid + rejected != counted:
        report.error("papers_dont_add_up", "valid_papers",
                     f"Valid papers {valid:,} + rejected {rejected:,} = {valid + rejected:,}, "
                     f"not the {counted:,} counted.", valid=valid, rejected=rejected, counted=counted)

    effective_valid = figures.effective_valid_papers
    basis = effective_valid if effective_valid is not None else counted
    if basis is not None:
        limit = spec.seats * basis
        if total_votes > limit:
            report.error("votes_exceed_limit", "votes",
                         f"{total_votes:,} votes in all, but {basis:,} valid papers × {spec.seats} "
                         f"seat(s) allows at most {limit:,}.",
                         total_votes=total_votes, valid=basis, seats=spec.seats)
        elif spec.seats == 1 and spec.voting_system != "STV" and total_votes != basis:
            # One vote per paper: given valid papers, the votes must add up exactly. Derived
            # from counted − rejected, small differences appear in official results too.
            message = (f"The votes add up to {total_votes:,}, but there were {basis:,} valid "
                       f"papers ({basis - total_votes:+,}).")
            if valid is not None:
                report.error("votes_dont_add_up", "votes", message,
                             total_votes=total_votes, valid=basis)
            elif effective_valid is not None:
                report.warn("votes_dont_add_up", "votes", message,
                            total_votes=total_votes, valid=basis)


def _check_plausibility(figures: ResultFigures, report: CheckReport) -> None:
    counted, electorate = figures.ballot_papers_counted, figures.electorate
    if counted is not None and electorate and counted <= electorate:
        turnout = Decimal(counted * 100) / Decimal(electorate)
        if turnout < LOW_TURNOUT_PCT:
            report.warn("low_turnout", "ballot_papers_counted",
                        f"Turnout would be {turnout:.1f}% ({counted:,} of {electorate:,}).",
                        turnout=float(round(turnout, 1)))
        if figures.turnout_pct is not None and abs(figures.turnout_pct - turnout) > TURNOUT_TOLERANCE_PCT:
            report.warn("turnout_mismatch", "turnout_pct",
                        f"Turnout given as {figures.turnout_pct}% but {counted:,} of "
                        f"{electorate:,} is {turnout:.1f}%.", given=str(figures.turnout_pct),
                        computed=float(round(turnout, 1)))
    if figures.turnout_pct is not None and not (0 <= figures.turnout_pct <= 100):
        report.error("turnout_range", "turnout_pct",
                     f"Turnout {figures.turnout_pct}% is not between 0 and 100.")
    rejected = figures.rejected_sum
    if counted and rejected is not None and Decimal(rejected) > HIGH_REJECTED_SHARE * counted:
        report.warn("many_rejected", "rejected_total",
                    f"{rejected:,} rejected of {counted:,} counted is more than "
                    f"{HIGH_REJECTED_SHARE:.0%}.", rejected=rejected, counted=counted)


def derive_fptp_winners(
    votes: dict[int, int], seats: int, lot_winners: set[int]
) -> tuple[set[int], set[int], int]:
    """Top ``seats`` candidates by votes. Returns (elected, tied, places decided by lot).

    When candidates tie for the last place(s), ``lot_winners`` must name exactly the tied
    candidates who won by lot (rule 49 of the local elections rules: the returning officer
    decides by lot); ``tied`` is non-empty only when that choice was needed.
    """
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    if len(ranked) <= seats:
        return {cid for cid, _ in ranked}, set(), 0
    cutoff = ranked[seats - 1][1]
    above = {cid for cid, v in ranked if v > cutoff}
    at_cutoff = {cid for cid, v in ranked if v == cutoff}
    places = seats - len(above)
    if len(at_cutoff) == places:
        return above | at_cutoff, set(), 0
    return above | (lot_winners & at_cutoff), at_cutoff, places


def _check_fptp_winners(spec: BallotSpec, figures: ResultFigures, report: CheckReport) -> None:
    votes = {c.candidacy_id: c.votes or 0 for c in figures.candidates}
    lot = {c.candidacy_id for c in figures.candidates if c.won_by_lot}
    elected, tied, places = derive_fptp_winners(votes, spec.seats, lot)
    if tied:
        names = ", ".join(sorted(spec.candidacy_names[c] for c in tied))
        chosen = lot & tied
        if len(chosen) != places:
            report.error("tie_needs_lot", "won_by_lot",
                         f"{names} tie on {votes[next(iter(tied))]:,} votes for {places} seat(s): "
                         f"mark {'who' if places == 1 else f'the {places} who'} won by lot.",
                         tied=sorted(tied), places=places)
            return
    stray = lot - tied
    if stray:
        for cid in sorted(stray):
            report.error("lot_without_tie", "won_by_lot",
                         f"{spec.candidacy_names[cid]} is marked as winning by lot but was not "
                         f"tied for the last seat.")
        return
    _compare_stated_winners(spec, figures.candidates, elected, report)
    report.elected = elected


def _compare_stated_winners(
    spec: BallotSpec, candidates: tuple[CandidateFigures, ...], elected: set[int], report: CheckReport
) -> None:
    stated = {c.candidacy_id for c in candidates if c.elected}
    if any(c.elected is not None for c in candidates) and stated != elected:
        missing = sorted(spec.candidacy_names[c] for c in elected - stated)
        extra = sorted(spec.candidacy_names[c] for c in stated - elected)
        parts = []
        if extra:
            parts.append(f"stated as elected but not by the figures: {', '.join(extra)}")
        if missing:
            parts.append(f"elected by the figures but not stated: {', '.join(missing)}")
        report.error("winners_disagree", "elected", "Winners disagree with the votes: " + "; ".join(parts))


def droop_quota(valid_poll: int, seats: int) -> int:
    return valid_poll // (seats + 1) + 1


def derive_stv_winners(
    stages: list[dict[int, Decimal]], quota: int, seats: int
) -> set[int]:
    """Winners from the running totals of each stage: everyone who reached the quota, then,
    if seats remain at the last stage, the continuing candidates with the most votes (the
    count ends when the continuing candidates are no more than the seats left)."""
    elected: set[int] = set()
    for totals in stages:
        for cid, total in totals.items():
            if total >= quota:
                elected.add(cid)
    if len(elected) < seats and stages:
        final = stages[-1]
        continuing = sorted(
            (cid for cid, total in final.items() if total > 0 and cid not in elected),
            key=lambda cid: -final[cid],
        )
        elected.update(continuing[: seats - len(elected)])
    return elected


def _check_stv(spec: BallotSpec, figures: ResultFigures, report: CheckReport) -> None:
    first = {c.candidacy_id: Decimal(c.votes or 0) for c in figures.candidates}
    valid_poll = figures.stv_valid_poll or figures.effective_valid_papers
    if valid_poll is None:
        valid_poll = int(sum(first.values()))
    expected_quota = droop_quota(valid_poll, spec.seats)
    if figures.stv_quota is not None and figures.stv_quota != expected_quota:
        report.error("quota", "stv_quota",
                     f"Quota should be floor({valid_poll:,} / ({spec.seats} + 1)) + 1 = "
                     f"{expected_quota:,}, not {figures.stv_quota:,}.",
                     quota=figures.stv_quota, expected=expected_quota)
    if sum(first.values()) != valid_poll:
        report.error("first_prefs_dont_add_up", "votes",
                     f"First preferences add up to {sum(first.values()):,}, "
                     f"not the valid poll of {valid_poll:,}.")
    stages = sorted(figures.stv_stages, key=lambda s: s.number)
    tolerance = STV_TOLERANCE_PER_CANDIDATE * max(len(first), 1) * 10
    running: list[dict[int, Decimal]] = [first]
    previous, previous_nt = first, Decimal(0)
    for stage in stages:
        if stage.number == 1:
            if {k: Decimal(v) for k, v in stage.totals.items()} != first:
                report.error("stage1_mismatch", "stv_stage_1",
                             "Stage 1 totals must equal the first preferences.")
            continue
        fld = f"stv_stage_{stage.number}"
        if set(stage.totals) != set(first):
            report.error("stage_candidates", fld,
                         f"Stage {stage.number} must give a total for every candidate.")
            return
        for cid, transfer in stage.transfers.items():
            if abs(previous[cid] + transfer - stage.totals[cid]) > tolerance:
                report.error("transfer_mismatch", fld,
                             f"Stage {stage.number}: {spec.candidacy_names[cid]} had "
                             f"{previous[cid]} and received {transfer}, but the total is "
                             f"{stage.totals[cid]}.")
        placed = sum(stage.totals.values())
        nt = stage.non_transferable if stage.non_transferable is not None else valid_poll - placed
        if abs(placed + nt - valid_poll) > tolerance:
            report.error("stage_not_conserved", fld,
                         f"Stage {stage.number}: totals {placed} + non-transferable {nt} "
                         f"≠ valid poll {valid_poll:,}.")
        if nt < -tolerance or nt + tolerance < previous_nt:
            report.error("stage_not_conserved", fld,
                         f"Stage {stage.number}: votes appeared from nowhere "
                         f"(totals {placed} exceed what the previous stage left).")
        running.append(stage.totals)
        previous, previous_nt = stage.totals, nt
    if report.errors:
        return
    stated = {c.candidacy_id for c in figures.candidates if c.elected}
    if len(running) > 1:
        elected = derive_stv_winners(running, expected_quota, spec.seats)
        _compare_stated_winners(spec, figures.candidates, elected, report)
    else:
        # First preferences only: the winners come from the keyed elected marks.
        elected = stated
        for cid, votes in first.items():
            if votes >= expected_quota and cid not in stated:
                report.error("winners_disagree", "elected",
                             f"{spec.candidacy_names[cid]} reached the quota on first "
                             f"preferences and must be elected.")
    if len(elected) != spec.seats:
        report.error("wrong_number_elected", "elected",
                     f"{len(elected)} elected for {spec.seats} seat(s).")
    report.elected = elected


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()

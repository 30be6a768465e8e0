"""Replays drive the real write path: every keying is a Submission with its ResultEvent, in
order; double keying verifies; wrong first keyings are refused or disputed and resolved;
corrections appear as correction events; a stopped replay carries on where it stopped."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from elections.models import Ballot, Election
from results.figures import ResultFigures
from results.generator import plan_night
from results.models import (
    EventKind,
    Result,
    ResultEvent,
    ResultStatus,
    Submission,
    SubmissionChannel,
)
from results.replay import (
    MAX_GAP_MINUTES,
    Replayer,
    ReplayOptions,
    ballots_from_plan,
    build_actions,
    rehearsal_users,
    timetable,
)

pytestmark = pytest.mark.django_db

DATE = dt.date(2027, 5, 6)
NIGHT = {"seed": 21, "date": DATE, "councils": 4, "by_election_councils": 1, "uncontested_share": 0.1}


def replay(*args: str) -> str:
    out = StringIO()
    call_command(
        "replay", "--seed", str(NIGHT["seed"]), "--date", DATE.isoformat(), "--councils",
        str(NIGHT["councils"]), "--by-election-councils", "1", "--uncontested-share", "0.1", *args,
        stdout=out, stderr=StringIO(),
    )
    return out.getvalue()


def events_by_ballot() -> dict[str, list[ResultEvent]]:
    out: dict[str, list[ResultEvent]] = defaultdict(list)
    for event in ResultEvent.objects.select_related("result__ballot").order_by("id"):
        out[event.result.ballot.ballot_paper_id].append(event)
    return out


def test_double_keyed_replay_verifies_every_result_with_the_planned_figures(small_country):
    output = replay("--double-key")
    night = plan_night(**NIGHT)
    assert "Finished after" in output
    results = {
        r.ballot.ballot_paper_id: r for r in Result.objects.select_related("ballot", "current_submission")
    }
    assert set(results) == {b.ballot_paper_id for b in night.ballots}
    stored = {b.ballot_paper_id: b for b in ballots_from_plan(night)}
    for planned in night.ballots:
        result = results[planned.ballot_paper_id]
        assert result.status == ResultStatus.VERIFIED
        assert result.current_submission.figures_hash == stored[planned.ballot_paper_id].figures.fingerprint()
        keyers = set(
            Submission.objects.filter(ballot=result.ballot).values_list("submitted_by__email", flat=True)
        )
        assert keyers == {"keyer-a@rehearsal.invalid", "keyer-b@rehearsal.invalid"}
    assert set(Submission.objects.values_list("channel", flat=True)) == {SubmissionChannel.REPLAY}


def test_events_come_in_order_count_first_then_figures(small_country):
    replay("--double-key")
    submissions = list(Submission.objects.order_by("id").values_list("submitted_at", flat=True))
    assert submissions == sorted(submissions)
    for ballot_id, events in events_by_ballot().items():
        versions = [e.version for e in events]
        assert versions == sorted(versions) and len(set(versions)) == len(versions), ballot_id
        kinds = [e.kind for e in events]
        assert kinds[0] == EventKind.COUNT_STATE, ballot_id
        assert kinds[-1] == EventKind.VERIFIED, ballot_id
        assert kinds.index(EventKind.PROVISIONAL) < kinds.index(EventKind.VERIFIED)


def test_wrong_first_keyings_are_refused_or_disputed_then_resolved(small_country):
    output = replay("--double-key", "--wrong-share", "1")
    refused = sum(int(line.split()[-1]) for line in output.splitlines() if "refused by the checks" in line)
    assert refused >= 1, output
    kinds = {ballot_id: [e.kind for e in events] for ballot_id, events in events_by_ballot().items()}
    disputed = [b for b, k in kinds.items() if EventKind.DISPUTED in k]
    assert disputed, "some wrong keyings are plausible and caught by the second keying"
    for ballot_id in disputed:
        k = kinds[ballot_id]
        assert k.index(EventKind.DISPUTED) < k.index(EventKind.RESOLVED), ballot_id
    night = {b.ballot_paper_id: b for b in ballots_from_plan(plan_night(**NIGHT))}
    for result in Result.objects.select_related("ballot", "current_submission"):
        # Every result ends verified with the right figures, however its first keying went.
        assert result.status == ResultStatus.VERIFIED, result.ballot.ballot_paper_id
        right = night[result.ballot.ballot_paper_id].figures
        assert result.current_submission.figures_hash == right.fingerprint()
    resolutions = Submission.objects.filter(channel=SubmissionChannel.REVIEW)
    assert set(resolutions.values_list("submitted_by__email", flat=True)) == {"reviewer@rehearsal.invalid"}
    # A refused keying stores nothing: wrong figures appear only in the disputed keyings.
    wrong = Submission.objects.filter(resulting_status=ResultStatus.PROVISIONAL).count()
    assert wrong == Result.objects.count()


def test_wrong_keyings_without_double_keying_are_corrected_by_their_keyer(small_country):
    replay("--wrong-share", "1")
    corrected = ResultEvent.objects.filter(kind=EventKind.CORRECTED)
    assert corrected.exists()
    assert {e.payload["reason"] for e in corrected} == {"keying_error"}
    assert not ResultEvent.objects.filter(kind=EventKind.DISPUTED).exists()


def test_corrections_after_publication_produce_correction_events(small_country):
    replay("--double-key", "--correct-share", "1")
    corrections = ResultEvent.objects.filter(kind=EventKind.CORRECTED).select_related("result")
    assert corrections.exists()
    for event in corrections:
        assert event.payload["reason"] == "recount"
        assert event.payload["changes"], "a correction says what changed"
        later = ResultEvent.objects.filter(result=event.result, id__gt=event.id).values_list("kind",
                                                                                              flat=True)
        assert EventKind.VERIFIED in later, "the corrected figures are verified again"
    fptp = Result.objects.filter(ballot__voting_system="FPTP", ballot__uncontested=False).count()
    assert corrections.count() == fptp


def test_a_stopped_replay_carries_on_where_it_stopped(small_country):
    ballots = ballots_from_plan(plan_night(**NIGHT))
    actions = build_actions(ballots, ReplayOptions(double_key=True, seed=3))
    users = rehearsal_users()
    stop = threading.Event()

    def stop_after_ten(report, action):
        if report.done == 10:
            stop.set()

    first = Replayer(actions, offsets=[0] * len(actions), users=users, source="test", token_prefix="t",
                     stop=stop, progress=stop_after_ten).run()
    assert first.stopped and first.done == 10
    stored = Submission.objects.count()
    rest = Replayer(actions, offsets=[0] * len(actions), users=users, source="test", token_prefix="t").run()
    assert not rest.stopped and rest.done == len(actions)
    assert Submission.objects.count() == 2 * len(ballots), "the keyings done before were not repeated"
    assert stored <= 10
    outcomes = Counter(key.split(": ", 1)[1] for key in rest.outcomes.elements())
    assert outcomes["duplicate"] + outcomes["skipped"] >= 1
    assert not rest.errors


def test_timetable_fits_the_duration_and_shortens_quiet_spells(small_country):
    ballots = ballots_from_plan(plan_night(**NIGHT))
    actions = build_actions(ballots, ReplayOptions())
    offsets = timetable(actions, duration=60)
    assert offsets[0] == 0 and offsets[-1] == pytest.approx(60)
    assert offsets == sorted(offsets)
    minutes = sum(min(b.at - a.at, MAX_GAP_MINUTES) for a, b in zip(actions, actions[1:], strict=False))
    per_minute = 60 / minutes
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert max(gaps) <= MAX_GAP_MINUTES * per_minute + 1e-9
    assert timetable(actions, speed=60)[-1] == pytest.approx(offsets[-1] / per_minute)


def test_replay_needs_one_source(small_country):
    with pytest.raises(CommandError, match="exactly one"):
        call_command("replay", stdout=StringIO())


@pytest.mark.usefixtures("stv_sheet_data")
def test_real_results_file_is_replayed_as_a_rehearsal_with_its_figures(sample_data: Path):
    sheet = sample_data / "results/scotland_stv_2022_clackmannanshire.csv"
    out = StringIO()
    call_command("replay", "--file", str(sheet), "--date", DATE.isoformat(), "--double-key",
                 stdout=out, stderr=StringIO())
    election = Election.objects.get(election_id=f"local.clackmannanshire.{DATE.isoformat()}")
    assert election.rehearsal
    results = Result.objects.filter(ballot__election=election).select_related("stv_count")
    assert results.count() == 5
    assert set(results.values_list("status", flat=True)) == {ResultStatus.VERIFIED}
    # The quotas of the published 2022 count sheets.
    assert sorted(r.stv_count.quota for r in results) == [601, 729, 761, 806, 829]
    stages = sum(len(ResultFigures.from_canonical(r.current_submission.figures).stv_stages) for r in results)
    assert stages > 5
    assert not Ballot.objects.filter(election__date=dt.date(2022, 5, 5)).exists(), "real data untouched"

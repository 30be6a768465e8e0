"""The rehearsal night generator: deterministic from its seed, the promised shape, figures
that pass the real checks, and storage through the services marked as rehearsal."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction

from config.errors import ApplicationError
from councils.models import Nation
from elections.models import Ballot, Candidacy, Election, Party
from elections.services import upsert_election
from results.generator import NightPlan, plan_night, store_night
from results.services import validate_figures

pytestmark = pytest.mark.django_db

DATE = dt.date(2027, 5, 6)


def plan(seed: int = 11, **kw) -> NightPlan:
    return plan_night(seed=seed, date=DATE, **{"councils": 7, "uncontested_share": 0.3, **kw})


def test_same_seed_same_night_and_another_seed_another(small_country):
    first, again, other = plan(11), plan(11), plan(12)
    assert first.to_json() == again.to_json()
    assert first.fingerprint() == again.fingerprint()
    assert other.fingerprint() != first.fingerprint()
    # Not only a different hash: different figures for the same ward.
    votes = {b.ballot_paper_id: [c.votes for c in b.candidates] for b in first.ballots}
    other_votes = {b.ballot_paper_id: [c.votes for c in b.candidates] for b in other.ballots}
    shared = set(votes) & set(other_votes)
    assert any(votes[k] != other_votes[k] for k in shared) or set(votes) != set(other_votes)


def test_plan_survives_its_json_form(small_country):
    night = plan()
    assert NightPlan.from_json(night.to_json()) == night


def test_night_has_the_promised_shape(small_country):
    night = plan(councils=7)
    kinds = Counter(c.kind for c in night.councils)
    assert kinds["all-out"] + kinds["thirds"] == 7
    assert kinds["by-elections"] >= 1
    nation = {c.slug: c.nation for c in small_country}
    for ballot in night.ballots:
        assert 1 <= ballot.seats <= 3
        stv_nation = nation[ballot.council] in (Nation.SCOTLAND, Nation.NORTHERN_IRELAND)
        assert ballot.voting_system == ("STV" if stv_nation else "FPTP")
        if ballot.uncontested:
            assert len(ballot.candidates) == ballot.seats
            assert all(c.votes is None and c.elected for c in ballot.candidates)
        else:
            assert len(ballot.candidates) > ballot.seats
            assert sum(c.elected for c in ballot.candidates) == ballot.seats
            assert ballot.declares > ballot.count_starts >= 0
    assert any(b.voting_system == "STV" and b.stages for b in night.ballots), "an STV count with transfers"
    assert any(b.uncontested for b in night.ballots)
    assert any(b.by_election for b in night.ballots)
    assert {b.seats for b in night.ballots} >= {1, 2, 3}
    by_only = {c.slug for c in night.councils if c.kind == "by-elections"}
    first_by = min(b.declares for b in night.ballots if b.council in by_only)
    assert first_by < sorted(b.declares for b in night.ballots)[len(night.ballots) // 2], (
        "by-elections declare early in the night"
    )


def test_stored_night_is_rehearsal_data_whose_figures_pass_the_checks(small_country):
    night = plan()
    stored = store_night(night)
    elections = Election.objects.filter(date=DATE)
    assert elections.count() == len(night.councils)
    assert set(elections.values_list("rehearsal", flat=True)) == {True}
    assert all("(rehearsal)" in e.title for e in elections)
    assert Ballot.objects.filter(election__in=elections).count() == len(night.ballots)
    assert Party.objects.filter(party_id="PP102").exists(), "the SNP stands in Scottish councils"
    for planned in night.ballots:
        ballot_pk, candidacy_ids = stored.ballots[planned.ballot_paper_id]
        ballot = Ballot.objects.get(pk=ballot_pk)
        names = dict(Candidacy.objects.filter(ballot=ballot).values_list("id", "person_name"))
        assert [names[cid] for cid in candidacy_ids] == [c.name for c in planned.candidates]
        # The same checks as the form and the API, without warnings to confirm.
        figures = planned.figures(candidacy_ids)
        report = validate_figures(ballot=ballot, figures=figures, confirm_warnings=False)
        assert report.elected == {
            cid for cid, c in zip(candidacy_ids, planned.candidates, strict=True) if c.elected
        }


def test_storing_again_changes_nothing_and_another_night_is_refused(small_country):
    night = plan()
    first = store_night(night)
    counts = (Election.objects.count(), Ballot.objects.count(), Candidacy.objects.count())
    again = store_night(night)
    assert again.ballots == first.ballots and again.created == 0
    assert (Election.objects.count(), Ballot.objects.count(), Candidacy.objects.count()) == counts
    with pytest.raises(ApplicationError, match="wipe_rehearsal"):
        store_night(plan(seed=99))
    assert (Election.objects.count(), Ballot.objects.count(), Candidacy.objects.count()) == counts


def test_councils_with_a_real_election_that_day_are_left_out(small_country):
    real = small_country[0]
    upsert_election(election_id=f"local.{real.slug}.{DATE.isoformat()}", council=real)
    night = plan(councils=len(small_country))
    assert real.slug not in {c.slug for c in night.councils}


def test_rehearsal_flag_is_fixed_in_the_database(small_country):
    night = plan()
    store_night(night)
    election = Election.objects.filter(rehearsal=True).first()
    with pytest.raises(DatabaseError), transaction.atomic():
        Election.objects.filter(pk=election.pk).update(rehearsal=False)
    real = upsert_election(election_id="local.dunmere.2028-05-04", council=small_country[3])[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        Election.objects.filter(pk=real.pk).update(rehearsal=True)
    # Saving other fields is fine.
    Election.objects.filter(pk=real.pk).update(title="Dunmere 2028")
    with pytest.raises(ApplicationError) as refused:
        upsert_election(election_id=election.election_id, council=election.council)
    assert refused.value.code == "rehearsal_mismatch"


def test_generate_night_command_writes_the_plan(small_country, tmp_path):
    out = tmp_path / "night.json"
    call_command("generate_night", "--seed", "5", "--date", DATE.isoformat(), "--councils", "3",
                 "--plan-out", str(out), stdout=StringIO())
    written = NightPlan.from_json(out.read_bytes())
    assert written == plan_night(seed=5, date=DATE, councils=3)
    assert Ballot.objects.filter(election__rehearsal=True).count() == len(written.ballots)
    with pytest.raises(CommandError, match="--seed"):
        call_command("generate_night", "--councils", "3")

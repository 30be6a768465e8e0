"""wipe_rehearsal removes rehearsal elections and everything under them, append-only
submissions and events included, and nothing else: real results stay, byte for byte, and
stay undeletable."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.core.serializers import serialize
from django.db import DatabaseError, connection, transaction

from elections.models import Ballot, Candidacy, Election, Party
from elections.services import create_candidacies, upsert_ballot, upsert_election
from results import append_only
from results.figures import CandidateFigures, ResultFigures
from results.models import CandidateResult, Result, ResultEvent, Submission, SubmissionChannel
from results.rehearsal import wipe_rehearsal
from results.services import set_count_state, submit_result
from tests.factories.councils import make_ward

pytestmark = pytest.mark.django_db

DATE = dt.date(2027, 5, 6)
OTHER_DATE = dt.date(2028, 5, 4)
NIGHT = ("--councils", "3", "--by-election-councils", "1", "--seed", "8")


@pytest.fixture
def real_result(small_country):
    """A real verified result (and its count state) in a council the night also uses."""
    council = small_country[0]
    election, _ = upsert_election(election_id=f"local.{council.slug}.2026-05-07", council=council)
    ward = make_ward(council.boundary_sets.get())
    ballot, _ = upsert_ballot(
        ballot_paper_id=f"local.{council.slug}.{ward.slug}.2026-05-07", election=election, ward=ward,
        seats_contested=1,
    )
    party, _ = Party.objects.get_or_create(party_id="PP53", defaults={"name": "Labour Party"})
    other, _ = Party.objects.get_or_create(party_id="PP52", defaults={"name": "Conservative Party"})
    a, b = create_candidacies(ballot=ballot, candidacies=[("Ann Real", party, ""), ("Bob Real", other, "")])
    set_count_state(ballot=ballot, state="counting", actor=None)
    submit_result(
        ballot=ballot, source="returning officer", channel=SubmissionChannel.IMPORT, official=True,
        figures=ResultFigures(candidates=(CandidateFigures(a.pk, 700), CandidateFigures(b.pk, 300)),
                              valid_papers=1000, ballot_papers_counted=1010, rejected_total=10,
                              electorate=3000),
    )
    return ballot


def snapshot_of_real_data() -> str:
    """Every real row of the tables a wipe deletes from, serialised."""
    real = {"ballot__election__rehearsal": False}
    querysets = [
        Election.objects.filter(rehearsal=False), Ballot.objects.filter(election__rehearsal=False),
        Candidacy.objects.filter(**real), Result.objects.filter(**real),
        CandidateResult.objects.filter(result__ballot__election__rehearsal=False),
        Submission.objects.filter(**real),
        ResultEvent.objects.filter(result__ballot__election__rehearsal=False),
        Party.objects.all(),
    ]
    return "".join(serialize("json", qs.order_by("pk")) for qs in querysets)


def rehearsal_rows() -> dict[str, int]:
    rehearsal = {"ballot__election__rehearsal": True}
    return {
        "elections": Election.objects.filter(rehearsal=True).count(),
        "ballots": Ballot.objects.filter(election__rehearsal=True).count(),
        "candidacies": Candidacy.objects.filter(**rehearsal).count(),
        "results": Result.objects.filter(**rehearsal).count(),
        "submissions": Submission.objects.filter(**rehearsal).count(),
        "events": ResultEvent.objects.filter(result__ballot__election__rehearsal=True).count(),
        "users": get_user_model().objects.filter(email__endswith="@rehearsal.invalid").count(),
    }


def test_wipe_removes_only_rehearsal_data(real_result):
    call_command("replay", *NIGHT, "--double-key", "--wrong-share", "0.5", "--correct-share", "0.5",
                 stdout=StringIO(), stderr=StringIO())
    before = snapshot_of_real_data()
    present = rehearsal_rows()
    assert all(present.values()), present
    out = StringIO()
    call_command("wipe_rehearsal", "--yes", stdout=out)
    assert set(rehearsal_rows().values()) == {0}
    assert snapshot_of_real_data() == before
    assert f"{present['submissions']} submissions" in out.getvalue()


def test_real_submissions_and_events_stay_undeletable_after_a_wipe(real_result):
    call_command("replay", *NIGHT, stdout=StringIO(), stderr=StringIO())
    wipe_rehearsal()
    for queryset in (Submission.objects.filter(ballot=real_result),
                     ResultEvent.objects.filter(result__ballot=real_result)):
        assert queryset.exists()
        with pytest.raises(DatabaseError), transaction.atomic():
            queryset.delete()
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {queryset.model._meta.db_table}")  # noqa: S608 - a table name
    assert Submission.objects.filter(ballot=real_result).count() == 1


def test_a_failed_wipe_leaves_the_protection_in_place(real_result):
    call_command("replay", *NIGHT, stdout=StringIO(), stderr=StringIO())
    def interrupted_wipe() -> None:
        with transaction.atomic(), append_only.deletes_allowed_in_this_transaction(connection):
            ResultEvent.objects.filter(result__ballot__election__rehearsal=True).delete()
            raise RuntimeError("interrupted")

    # The wipe's own transaction is rolled back by an error raised inside it...
    with pytest.raises(RuntimeError):
        interrupted_wipe()
    # ...and with it the lifting: nothing was deleted, and nothing can be.
    assert rehearsal_rows()["events"]
    with pytest.raises(DatabaseError), transaction.atomic():
        ResultEvent.objects.filter(result__ballot__election__rehearsal=True).delete()


def test_wipe_of_one_date_keeps_the_other_dates(small_country):
    call_command("generate_night", *NIGHT, "--date", DATE.isoformat(), "--plan-out", "/dev/null",
                 stdout=StringIO())
    call_command("replay", *NIGHT, "--date", OTHER_DATE.isoformat(), stdout=StringIO(), stderr=StringIO())
    summary = wipe_rehearsal(date=DATE, users=False)
    assert summary.dates == [DATE]
    assert not Election.objects.filter(date=DATE).exists()
    assert Result.objects.filter(ballot__election__date=OTHER_DATE).exists()
    assert get_user_model().objects.filter(email__endswith="@rehearsal.invalid").count() == 3


def test_wipe_command_wants_confirmation_outside_a_terminal(small_country):
    call_command("generate_night", *NIGHT, "--plan-out", "/dev/null", stdout=StringIO())
    with pytest.raises(CommandError, match="--yes"):
        call_command("wipe_rehearsal", stdout=StringIO())
    assert Election.objects.filter(rehearsal=True).exists()
    assert wipe_rehearsal().total > 0
    assert wipe_rehearsal().total == 0

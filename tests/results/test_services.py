"""The results write path: states, versions, idempotency, conflicts and the append-only log."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from config.errors import ApplicationError, ConflictError
from councils.models import BoundarySet, Council, Ward
from elections.models import Ballot, Candidacy, Election, Party
from results.figures import CandidateFigures, ResultFigures, StvStageFigures
from results.models import CountState, EventKind, Result, ResultEvent, ResultStatus, Submission
from results.services import set_count_state, submit_result

SQUARE = {"type": "MultiPolygon", "coordinates": [[[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]]}


def make_ballot(
    *, seats: int = 1, names=("Ann Able", "Ben Baker", "Cat Cole"), system="FPTP", slug="testshire"
) -> Ballot:
    council, _ = Council.objects.get_or_create(
        slug=slug, defaults={"name": slug.title(), "gss": "E07000999", "nation": "ENG", "council_type": "NMD"}
    )
    bset, _ = BoundarySet.objects.get_or_create(council=council, valid_from=dt.date(2023, 5, 1))
    ward, _ = Ward.objects.get_or_create(
        boundary_set=bset,
        slug="north",
        defaults={
            "name": "North",
            "gss": "E05099999",
            "seats": seats,
            "geometry": SQUARE,
            "geometry_national": SQUARE,
            "geometry_council": SQUARE,
            "label_lon": 0.5,
            "label_lat": 0.5,
            "bbox_west": 0,
            "bbox_south": 0,
            "bbox_east": 1,
            "bbox_north": 1,
        },
    )
    election, _ = Election.objects.get_or_create(
        election_id=f"local.{slug}.2026-05-07",
        defaults={"date": dt.date(2026, 5, 7), "council": council, "title": "Test"},
    )
    ballot = Ballot.objects.create(
        ballot_paper_id=f"local.{slug}.north.2026-05-07",
        election=election,
        ward=ward,
        seats_contested=seats,
        voting_system=system,
    )
    for i, name in enumerate(names):
        party, _ = Party.objects.get_or_create(party_id=f"PP{i + 1}", defaults={"name": f"Party {i + 1}"})
        Candidacy.objects.create(ballot=ballot, person_name=name, party=party)
    return ballot


def figures_for(ballot: Ballot, votes: list[int], **kw) -> ResultFigures:
    ids = list(ballot.candidacies.order_by("person_name").values_list("id", flat=True))
    return ResultFigures(
        candidates=tuple(CandidateFigures(cid, v) for cid, v in zip(ids, votes, strict=True)),
        **{"ballot_papers_counted": sum(votes) + 10, "rejected_total": 10, "electorate": 5000, **kw},
    )


@pytest.fixture
def users(db):
    user_model = get_user_model()
    return [user_model.objects.create_user(f"keyer{i}", password="x") for i in range(3)]


@pytest.fixture
def ballot(db):
    return make_ballot()


def keyed(ballot, figures, user, **kw):
    return submit_result(
        ballot=ballot, figures=figures, source="Count sheet", channel="form", submitted_by=user, **kw
    )


def test_first_keying_is_provisional_with_its_event(ballot, users):
    outcome = keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    result = Result.objects.get(ballot=ballot)
    assert outcome.outcome == "accepted"
    assert (result.status, result.version, result.count_state) == (ResultStatus.PROVISIONAL, 1, "declared")
    elected = result.candidate_results.filter(elected=True).values_list("candidacy__person_name", flat=True)
    assert list(elected) == ["Ann Able"]
    assert result.turnout_pct == Decimal("40.20")
    event = ResultEvent.objects.get(result=result)
    assert (event.kind, event.version, event.actor) == (EventKind.PROVISIONAL, 1, users[0])


def test_second_identical_keying_by_another_person_verifies(ballot, users):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[1])
    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.version, result.verified_by) == (ResultStatus.VERIFIED, 2, users[1])
    assert Submission.objects.filter(ballot=ballot).count() == 2


def test_nobody_verifies_their_own_keying(ballot, users):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    assert Result.objects.get(ballot=ballot).status == ResultStatus.PROVISIONAL


def test_keying_a_verified_result_again_leaves_who_verified_it(ballot, users):
    # The first keyer keys the figures again after another person verified them: the result
    # stays verified by that person, not by the keyer whose figures it stands on.
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[1])
    outcome = keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    result = Result.objects.get(ballot=ballot)
    assert outcome.outcome == "accepted"
    assert (result.status, result.version, result.verified_by) == (ResultStatus.VERIFIED, 2, users[1])
    assert result.current_submission.submitted_by == users[0]
    assert Submission.objects.filter(ballot=ballot).count() == 3


def test_differing_keying_disputes_and_keeps_the_first_figures(ballot, users):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    keyed(ballot, figures_for(ballot, [700, 900, 400]), users[1])  # Nelson: transposed
    result = Result.objects.get(ballot=ballot)
    assert result.status == ResultStatus.DISPUTED
    assert list(
        result.candidate_results.order_by("candidacy__person_name").values_list("votes", flat=True)
    ) == [900, 700, 400]
    event = result.events.get(kind=EventKind.DISPUTED)
    assert {c["field"] for c in event.payload["changes"]} >= {
        f"votes_{cid}"
        for cid in ballot.candidacies.filter(person_name__in=["Ann Able", "Ben Baker"]).values_list(
            "id", flat=True
        )
    }


def test_same_person_rekeying_replaces_their_provisional_figures(ballot, users):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    keyed(ballot, figures_for(ballot, [901, 700, 400]), users[0], based_on_version=1)
    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.version) == (ResultStatus.PROVISIONAL, 2)
    assert result.candidate_results.get(candidacy__person_name="Ann Able").votes == 901


def test_stale_version_is_a_conflict_carrying_both_figures(ballot, users):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    keyed(ballot, figures_for(ballot, [901, 700, 400]), users[0], based_on_version=1)
    with pytest.raises(ConflictError) as exc:
        keyed(ballot, figures_for(ballot, [902, 700, 400]), users[0], based_on_version=1)
    body = exc.value.as_dict()
    assert body["code"] == "version_conflict" and body["current_version"] == 2
    assert [c["votes"] for c in body["current_figures"]["candidates"]] != [
        c["votes"] for c in body["your_figures"]["candidates"]
    ]
    assert Submission.objects.filter(ballot=ballot).count() == 2


def test_client_token_makes_retries_idempotent(ballot, users):
    first = keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0], client_token="tok-1")
    again = keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0], client_token="tok-1")
    assert again.outcome == "duplicate" and again.submission == first.submission
    assert Submission.objects.count() == 1 and ResultEvent.objects.count() == 1


def test_refused_figures_store_nothing(ballot, users):
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, figures_for(ballot, [900, -1, 400]), users[0])
    assert exc.value.code == "figures_refused" and exc.value.field.startswith("votes_")
    assert not Submission.objects.exists() and not Result.objects.exists()


def test_warnings_need_confirmation(ballot, users):
    low = figures_for(ballot, [90, 70, 40], electorate=50000)
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, low, users[0])
    assert exc.value.code == "needs_confirmation"
    assert keyed(ballot, low, users[0], confirm_warnings=True).outcome == "accepted"


def test_official_import_is_verified_and_reimport_is_unchanged(ballot):
    figures = figures_for(ballot, [900, 700, 400])
    kw = {"ballot": ballot, "source": "results.csv", "channel": "import", "official": True}
    assert submit_result(figures=figures, **kw).result.status == ResultStatus.VERIFIED
    assert submit_result(figures=figures, **kw).outcome == "unchanged"
    assert Submission.objects.count() == 1
    with pytest.raises(ApplicationError) as exc:
        submit_result(figures=figures_for(ballot, [901, 700, 400]), **kw)
    assert exc.value.field == "correction_reason"
    outcome = submit_result(
        figures=figures_for(ballot, [901, 700, 400]), correction_reason="official_correction", **kw
    )
    assert outcome.result.version == 2
    assert outcome.result.events.last().kind == EventKind.CORRECTED


def test_cancelled_ballot_has_no_result(ballot, users):
    ballot.cancelled = True
    ballot.save()
    with pytest.raises(ApplicationError) as exc:
        keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    assert exc.value.code == "ballot_cancelled"


def test_count_state_before_figures(ballot, users):
    result = set_count_state(ballot=ballot, state=CountState.COUNTING, actor=users[0])
    assert (result.count_state, result.status, result.version) == ("counting", "none", 1)
    with pytest.raises(ApplicationError):
        set_count_state(ballot=ballot, state=CountState.DECLARED, actor=users[0])
    assert ResultEvent.objects.get().kind == EventKind.COUNT_STATE


def test_stv_stages_are_stored(db):
    ballot = make_ballot(seats=2, system="STV", names=("A", "B", "C"))
    ids = list(ballot.candidacies.order_by("person_name").values_list("id", flat=True))
    first = dict(zip(ids, [50, 30, 20], strict=True))
    figures = ResultFigures(
        candidates=tuple(CandidateFigures(c, v) for c, v in first.items()),
        stv_quota=34,
        stv_valid_poll=100,
        stv_stages=(
            StvStageFigures(2, dict(zip(ids, [Decimal(34), Decimal(42), Decimal(24)], strict=True))),
        ),
    )
    result = submit_result(
        ballot=ballot, figures=figures, source="sheet", channel="import", official=True
    ).result
    count = result.stv_count
    assert (count.quota, count.valid_poll, count.stages.count()) == (34, 100, 2)
    stage2 = count.stages.get(number=2)
    assert stage2.votes.get(candidacy_id=ids[0]).transfer == Decimal(-16)
    assert set(result.candidate_results.filter(elected=True).values_list("candidacy_id", flat=True)) == set(
        ids[:2]
    )


@pytest.mark.parametrize("table", ["results_submission", "results_resultevent"])
def test_submissions_and_events_are_append_only_in_the_database(ballot, users, table):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):  # noqa: S608
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert Submission.objects.count() == 1 and ResultEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_append_only_holds_in_transactional_tests_too(ballot, users):
    keyed(ballot, figures_for(ballot, [900, 700, 400]), users[0])
    with pytest.raises((IntegrityError, DatabaseError)):
        Submission.objects.all().delete()
    assert Submission.objects.count() == 1


def test_partly_given_stv_transfers_are_derived_not_zeroed(db):
    ballot = make_ballot(seats=2, system="STV", names=("A", "B", "C"))
    ids = list(ballot.candidacies.order_by("person_name").values_list("id", flat=True))
    figures = ResultFigures(
        candidates=tuple(CandidateFigures(c, v) for c, v in zip(ids, [50, 30, 20], strict=True)),
        stv_quota=34,
        stv_valid_poll=100,
        stv_stages=(
            StvStageFigures(
                2,
                dict(zip(ids, [Decimal(34), Decimal(42), Decimal(24)], strict=True)),
                transfers={ids[0]: Decimal(-16)},
            ),
        ),
    )
    result = submit_result(
        ballot=ballot, figures=figures, source="sheet", channel="import", official=True
    ).result
    stage2 = result.stv_count.stages.get(number=2)
    assert stage2.votes.get(candidacy_id=ids[1]).transfer == Decimal(12)

"""``import_candidates``: Democracy Club ballots JSON and candidates CSV."""

import csv
import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from councils.models import Council
from councils.selectors import get_council
from elections.ids import slugify
from elections.models import Ballot, Candidacy, Election, Party
from elections.services import upsert_party
from tests.factories.councils import make_boundary_set, make_council, make_ward

pytestmark = pytest.mark.django_db

TRAFFORD_JSON = "candidates/local.trafford.2026-05-07.json"
TRAFFORD_BOUNDARIES = "boundaries/E08000009-trafford.wd-may2023.geojson"
REGISTER = "parties/ec_register_gb_2021-11_danielgriffin48.csv"

# The columns of Democracy Club's candidates CSV export (candidates/ynr_data_exports_csv_fields.txt;
# test_csv_header_matches_the_published_field_list keeps the two in step).
YNR_CSV_FIELDS = [
    "person_id", "person_name", "honorific_prefix", "honorific_suffix", "election_id",
    "ballot_paper_id", "election_date", "election_current", "by_election", "by_election_reason",
    "party_name", "party_description_text", "sopn_last_name", "sopn_first_names", "legacy_party_id",
    "party_id", "party_list_position", "party_lists_in_use", "gss", "post_id", "post_label",
    "cancelled_poll", "candidates_locked", "nuts1", "seats_contested", "organisation_name",
    "previous_party_affiliations", "votes_cast", "elected", "tied_vote_winner", "rank",
    "turnout_reported", "spoilt_ballots", "total_electorate", "turnout_percentage", "results_source",
    "mnis_id", "twfy_id", "gender", "birth_date", "death_date", "favourite_biscuit",
    "statement_to_voters", "statement_last_updated", "person_last_updated", "image",
]

WARDS = {"Altrincham": "E05015239", "Ashton upon Mersey": "E05015240", "Bowdon": "E05015241"}
ALTRINCHAM = "local.trafford.altrincham.2026-05-07"
ASHTON = "local.trafford.ashton-upon-mersey.2026-05-07"
BOWDON_BY = "local.trafford.bowdon.by.2026-05-07"


def import_candidates(path: Path, *args: str) -> dict[str, dict[str, int]]:
    """Run the command; return the summary as {kind: {outcome: n}}."""
    out = StringIO()
    call_command("import_candidates", str(path), *args, stdout=out, stderr=StringIO(), verbosity=0)
    return parse_summary(out.getvalue())


def parse_summary(output: str) -> dict[str, dict[str, int]]:
    lines = [line for line in output.splitlines() if line.strip()]
    header_at = next(i for i, line in enumerate(lines) if line.split() == [
        "created", "updated", "unchanged", "rejected"])
    summary = {}
    for line in lines[header_at + 1:]:
        kind, *counts = line.rsplit(maxsplit=4)
        summary[kind] = dict(zip(["created", "updated", "unchanged", "rejected"], map(int, counts),
                                 strict=True))
    return summary


def only(summary: dict[str, dict[str, int]], outcome: str) -> dict[str, int]:
    """{kind: n} for one outcome, leaving out kinds with none."""
    return {kind: counts[outcome] for kind, counts in summary.items() if counts[outcome]}


def nothing_stored() -> bool:
    return not (Election.objects.exists() or Ballot.objects.exists() or Candidacy.objects.exists()
                or Party.objects.exists())


def refusal(path: Path) -> str:
    with pytest.raises(CommandError) as excinfo:
        import_candidates(path)
    return str(excinfo.value)


# A council made by the factories for crafted files (independent of the shared data).


@pytest.fixture
def trafford(db) -> Council:
    council = make_council(name="Trafford", slug="trafford")
    boundary_set = make_boundary_set(council=council)
    for name, gss in WARDS.items():
        make_ward(boundary_set, name=name, gss=gss)
    return council


def person(person_id, name, party_ec_id, party_name, description=None):
    return {
        "person_id": person_id, "name": name, "party_name": party_name, "party_ec_id": party_ec_id,
        "party_description_text": description, "party_list_position": None, "deselected": False,
        "elected": None,
    }


def ballot(ballot_paper_id, gss, candidates, *, seats=1, cancelled=False, locked=True, label=""):
    return {
        "ballot_paper_id": ballot_paper_id,
        "post": {"id": f"gss:{gss}" if gss else "", "label": label, "slug": slugify(label)},
        "winner_count": seats, "cancelled": cancelled, "candidates_locked": locked,
        "candidates": candidates,
    }


def altrincham_ballot(*, ballot_paper_id=ALTRINCHAM, gss=WARDS["Altrincham"], candidates=None, **raw):
    """The Altrincham ballot; ``raw`` replaces keys of the JSON object as they are."""
    if candidates is None:
        candidates = [
            person(128168, "Nick DEAN", "PP52", "Conservative and Unionist Party",
                   "The Conservative Party Candidate"),
            person(100454, "Mark NESBITT", "PP53", "Labour Party"),
        ]
    item = ballot(ballot_paper_id, gss, candidates, label="Altrincham")
    item.update(raw)
    return item


def write_json(tmp_path: Path, ballots, *, key="ballots") -> Path:
    path = tmp_path / "ballots.json"
    data = ballots if key is None else {key: ballots}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def csv_row(**values: str) -> dict[str, str]:
    """A candidates CSV row for the Altrincham ballot; keyword arguments override."""
    row = dict.fromkeys(YNR_CSV_FIELDS, "")
    row.update({
        "election_id": "local.trafford.2026-05-07", "ballot_paper_id": ALTRINCHAM,
        "election_date": "2026-05-07", "election_current": "True", "by_election": "False",
        "gss": WARDS["Altrincham"], "post_id": f"gss:{WARDS['Altrincham']}", "post_label": "Altrincham",
        "cancelled_poll": "False", "candidates_locked": "True", "seats_contested": "1",
        "organisation_name": "Trafford Metropolitan Borough Council",
    })
    row.update(values)
    return row


def write_csv(tmp_path: Path, rows: list[dict[str, str]], *, name="candidates.csv") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=YNR_CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


# The Trafford 2026 snapshot, after the ONS boundaries.


@pytest.fixture
def trafford_boundaries(sample_data) -> Council:
    call_command("import_boundaries", sample_data / TRAFFORD_BOUNDARIES, stdout=StringIO(),
                 stderr=StringIO(), verbosity=0)
    council = get_council(slug="trafford")
    assert council is not None
    return council


def test_trafford_ballots_join_their_wards_with_the_seats_and_candidates_of_the_json(
    sample_data, trafford_boundaries
):
    data = json.loads((sample_data / TRAFFORD_JSON).read_text(encoding="utf-8"))
    summary = import_candidates(sample_data / TRAFFORD_JSON)

    party_ids = {c["party_ec_id"] for b in data["ballots"] for c in b["candidates"]}
    assert only(summary, "created") == {
        "election": 1, "ballot": 21, "candidacy": 114, "party": len(party_ids),
    }
    election = Election.objects.get()
    assert (election.election_id, election.date, election.council) == (
        "local.trafford.2026-05-07", dt.date(2026, 5, 7), trafford_boundaries,
    )
    assert Ballot.objects.count() == len(data["ballots"]) == 21
    for item in data["ballots"]:
        stored = Ballot.objects.select_related("ward__boundary_set").get(
            ballot_paper_id=item["ballot_paper_id"]
        )
        assert f"gss:{stored.ward.gss}" == item["post"]["id"]
        assert stored.ward.boundary_set.council == trafford_boundaries
        assert stored.election == election
        assert stored.seats_contested == item["winner_count"]
        assert (stored.cancelled, stored.by_election, stored.uncontested, stored.voting_system) == (
            item["cancelled"], False, False, "FPTP",
        )
        assert {
            (c.person_id, c.person_name, c.party.party_id, c.description)
            for c in stored.candidacies.select_related("party")
        } == {
            (str(c["person_id"]), c["name"], c["party_ec_id"], c["party_description_text"] or "")
            for c in item["candidates"]
        }
    assert Party.objects.get(party_id="ynmp-party:2").name == "Independent"
    assert Party.objects.get(party_id="joint-party:53-119").name == "Labour and Co-operative Party"


def test_trafford_reimport_reports_everything_unchanged(sample_data, trafford_boundaries):
    first = import_candidates(sample_data / TRAFFORD_JSON)
    again = import_candidates(sample_data / TRAFFORD_JSON)
    assert only(again, "created") == {}
    assert only(again, "updated") == {}
    assert only(again, "unchanged") == only(first, "created")
    assert Candidacy.objects.count() == 114


def test_trafford_dry_run_writes_nothing(sample_data, trafford_boundaries):
    out = StringIO()
    call_command("import_candidates", str(sample_data / TRAFFORD_JSON), "--dry-run", stdout=out,
                 stderr=StringIO(), verbosity=0)
    assert "Dry run: nothing was written." in out.getvalue()
    assert parse_summary(out.getvalue())["ballot"]["created"] == 21
    assert nothing_stored()


def test_trafford_after_the_register_keeps_the_registers_names(sample_data, trafford_boundaries):
    call_command("import_parties", str(sample_data / REGISTER), stdout=StringIO(), stderr=StringIO(),
                 verbosity=0)
    upsert_party(party_id="PP63", name="Green Party of England and Wales")
    summary = import_candidates(sample_data / TRAFFORD_JSON)
    # Not on the 2021 register: Advance UK and the two pseudo-parties.
    assert summary["party"] == {"created": 3, "updated": 0, "unchanged": 6, "rejected": 0}
    assert Party.objects.get(party_id="PP63").name == "Green Party of England and Wales"
    assert Party.objects.get(party_id="PP18211").name == "Advance UK"


def test_truncated_trafford_json_is_refused(sample_data, trafford_boundaries, tmp_path):
    text = (sample_data / TRAFFORD_JSON).read_text(encoding="utf-8")
    path = tmp_path / "truncated.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    message = refusal(path)
    assert message.startswith(str(path))
    assert "not valid JSON" in message
    assert "line" in message
    assert not Ballot.objects.exists()


def test_unknown_council_refers_to_the_boundary_import(sample_data, db):
    message = refusal(sample_data / TRAFFORD_JSON)
    assert message.startswith(f"{sample_data / TRAFFORD_JSON}, row 1, field 'ballot_paper_id'")
    assert "'trafford', which is not stored" in message
    assert "import_boundaries" in message
    assert nothing_stored()


# Crafted JSON files.


@pytest.mark.parametrize("key", ["ballots", "results", None])
def test_json_lists_are_found_under_ballots_results_or_at_the_top(trafford, tmp_path, key):
    summary = import_candidates(write_json(tmp_path, [altrincham_ballot()], key=key))
    assert only(summary, "created") == {"election": 1, "ballot": 1, "candidacy": 2, "party": 2}
    ballot = Ballot.objects.get()
    assert ballot.ward.name == "Altrincham"
    assert set(ballot.candidacies.values_list("person_name", "description")) == {
        ("Nick DEAN", "The Conservative Party Candidate"), ("Mark NESBITT", ""),
    }


def test_live_api_page_with_nested_candidacies(trafford, tmp_path):
    page = {
        "count": 1, "next": None, "previous": None,
        "results": [{
            "ballot_paper_id": ALTRINCHAM,
            "election": {"election_id": "local.trafford.2026-05-07", "name": "Trafford local election"},
            "post": {"id": "gss:E05015239", "label": "Altrincham", "slug": "altrincham"},
            "winner_count": 1, "cancelled": False, "candidates_locked": True,
            "candidacies": [
                {"person": {"id": 128168, "name": "Nick DEAN"},
                 "party_name": "Conservative and Unionist Party",
                 "party": {"ec_id": "PP52", "name": "Conservative and Unionist Party",
                           "legacy_slug": "party:52"},
                 "party_description_text": "The Conservative Party Candidate", "elected": None},
                {"person": {"id": 99, "name": "Pat Cooper"}, "party_name": "Labour and Co-operative Party",
                 "party": {"ec_id": None, "name": "Labour and Co-operative Party",
                           "legacy_slug": "joint-party:53-119"},
                 "party_description_text": None, "elected": None},
            ],
        }],
    }
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    import_candidates(path)
    assert set(Candidacy.objects.values_list("person_id", "person_name", "party__party_id")) == {
        ("128168", "Nick DEAN", "PP52"), ("99", "Pat Cooper", "joint-party:53-119"),
    }


def test_independents_without_a_party_id(trafford, tmp_path):
    path = write_json(tmp_path, [altrincham_ballot(candidates=[
        person(1, "Ann Able", None, "Independent"),
        person(2, "Bob Baker", "", ""),
        person(3, "Cat Cole", "ynmp-party:2", "Independent"),
    ])])
    import_candidates(path)
    assert set(Candidacy.objects.values_list("person_name", "party__party_id")) == {
        ("Ann Able", "ynmp-party:2"), ("Bob Baker", "ynmp-party:2"), ("Cat Cole", "ynmp-party:2"),
    }
    assert Party.objects.get().name == "Independent"


def test_a_new_party_is_created_with_the_files_name(trafford, tmp_path):
    path = write_json(tmp_path, [altrincham_ballot(candidates=[
        person(1, "Ann Able", "party:18211", "Advance UK"),
    ])])
    import_candidates(path)
    assert Party.objects.get().party_id == "PP18211"
    assert Party.objects.get().name == "Advance UK"


def test_uncontested_is_marked_when_no_more_candidates_than_seats(trafford, tmp_path):
    one = [person(1, "Ann Able", "PP53", "Labour Party")]
    two = [*one, person(2, "Bob Baker", "PP52", "Conservative and Unionist Party")]
    path = write_json(tmp_path, [
        altrincham_ballot(candidates=one),
        ballot(ASHTON, WARDS["Ashton upon Mersey"], two, seats=2, label="Ashton upon Mersey"),
        ballot(BOWDON_BY, WARDS["Bowdon"], one, cancelled=True, label="Bowdon"),
        ballot("local.trafford.bowdon.2026-05-07", WARDS["Bowdon"], one, locked=False, label="Bowdon"),
    ])
    import_candidates(path)
    flags = dict(Ballot.objects.values_list("ballot_paper_id", "uncontested"))
    assert flags == {
        ALTRINCHAM: True,  # one candidate, one seat
        ASHTON: True,  # two candidates, two seats
        BOWDON_BY: False,  # cancelled
        "local.trafford.bowdon.2026-05-07": False,  # nominations not final
    }
    by_election = Ballot.objects.get(ballot_paper_id=BOWDON_BY)
    assert (by_election.by_election, by_election.cancelled) == (True, True)
    # A second candidate makes it a contest.
    import_candidates(write_json(tmp_path, [altrincham_ballot(candidates=two)]))
    assert Ballot.objects.get(ballot_paper_id=ALTRINCHAM).uncontested is False


def test_a_candidate_no_longer_listed_is_removed(trafford, tmp_path):
    import_candidates(write_json(tmp_path, [altrincham_ballot()]))
    summary = import_candidates(write_json(tmp_path, [altrincham_ballot(candidates=[
        person(100454, "Mark NESBITT", "PP53", "Labour Party"),
    ])]))
    assert summary["ballot"]["updated"] == 1
    assert summary["candidacy"]["unchanged"] == 1
    ballot = Ballot.objects.get()
    assert list(ballot.candidacies.values_list("person_name", flat=True)) == ["Mark NESBITT"]
    assert ballot.uncontested is True


def test_a_post_without_gss_code_is_matched_by_its_label(trafford, tmp_path):
    import_candidates(write_json(tmp_path, [altrincham_ballot(gss=None)]))
    assert Ballot.objects.get().ward.gss == WARDS["Altrincham"]


@pytest.mark.parametrize(
    ("second", "field", "words"),
    [
        (altrincham_ballot(ballot_paper_id="local.trafford.hale.2026-13-07"), "ballot_paper_id",
         "not a valid Democracy Club id"),
        (altrincham_ballot(ballot_paper_id="local.trafford.hale.2026-5-7"), "ballot_paper_id",
         "canonical form is local.trafford.hale.2026-05-07"),
        (altrincham_ballot(ballot_paper_id="local.trafford.2026-05-07"), "ballot_paper_id",
         "not a valid Democracy Club id"),
        (altrincham_ballot(ballot_paper_id=None), "ballot_paper_id", "no ballot paper id"),
        (altrincham_ballot(ballot_paper_id=ALTRINCHAM), "ballot_paper_id", "already at row 1"),
        (altrincham_ballot(ballot_paper_id=ASHTON, winner_count=0), "winner_count", "at least 1"),
        (altrincham_ballot(ballot_paper_id=ASHTON, winner_count="1"), "winner_count", "at least 1"),
        (altrincham_ballot(ballot_paper_id=ASHTON, cancelled="no"), "cancelled", "true or false"),
        (altrincham_ballot(ballot_paper_id=ASHTON, gss=None) | {"post": {"id": "", "label": ""}},
         "post.id", "neither a GSS code"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[person(1, "A B", "Labour", "Labour")]),
         "candidates[1].party_ec_id", "not a party id"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[person(1, " ", "PP53", "Labour")]),
         "candidates[1].name", "no name"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[
            person(1, "Ann Able", "PP53", "Labour Party"), person(1, "Ann Able-Smith", "PP52", "Con"),
        ]), "candidates[2].name", "listed twice"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[
            person(None, "Ann Able", "PP53", "Labour Party"), person(None, "ANN  ABLE", "party:53", "Lab"),
        ]), "candidates[2].name", "listed twice"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[
            person(None, "Ann Able", None, "Independent"), person(None, "Ann Able", "", ""),
        ]), "candidates[2].name", "listed twice"),
    ],
)
def test_json_refusals_in_the_first_pass_name_row_and_field(trafford, tmp_path, second, field, words):
    path = write_json(tmp_path, [altrincham_ballot(), second])
    message = refusal(path)
    assert message.startswith(f"{path}, row 2, field {field!r}: ")
    assert words in message
    assert nothing_stored()


@pytest.mark.parametrize(
    ("second", "field", "words"),
    [
        (altrincham_ballot(ballot_paper_id="local.nowhere.altrincham.2026-05-07"), "ballot_paper_id",
         "'nowhere', which is not stored"),
        (altrincham_ballot(ballot_paper_id=ASHTON, gss="E05999999"), "post.id",
         "no ward of Trafford on 2026-05-07 has GSS code E05999999"),
        (altrincham_ballot(ballot_paper_id=ASHTON, gss=None) | {"post": {"label": "Nowhere Green"}},
         "post.label", "has the name 'Nowhere Green'"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[person(5, "Dan Dee", None, "Mystery Party")]),
         "candidates[1].party_ec_id", "unknown party"),
        (altrincham_ballot(ballot_paper_id=ASHTON, candidates=[person(5, "Dan Dee", "PP99999", None)]),
         "candidates[1].party_name", "unknown party"),
        # Two ballot ids for the same ward and kind on one date.
        (altrincham_ballot(ballot_paper_id="local.trafford.altrincham-central.2026-05-07"),
         "post.id", f"ward Altrincham already has the ballot {ALTRINCHAM}"),
    ],
)
def test_json_refusals_in_the_second_pass_roll_back_the_whole_file(trafford, tmp_path, second, field, words):
    path = write_json(tmp_path, [altrincham_ballot(), second])
    message = refusal(path)
    assert message.startswith(f"{path}, row 2, field {field!r}: ")
    assert words in message
    # The first ballot was written before the refusal: the transaction undid it.
    assert nothing_stored()


def test_json_of_another_shape_is_refused(trafford, tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"count": 0, "items": []}), encoding="utf-8")
    message = refusal(path)
    assert message.startswith(str(path))
    assert "'ballots' or 'results'" in message


def test_a_ballot_outside_the_snapshots_election_is_refused(trafford, tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({
        "election_group": {"election_id": "local.trafford.2024-05-02"},
        "ballots": [altrincham_ballot()],
    }), encoding="utf-8")
    assert "not part of local.trafford.2024-05-02" in refusal(path)


def test_a_file_that_is_neither_json_nor_candidates_csv_is_refused(trafford, tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("ballot,votes\nx,1\n", encoding="utf-8")
    message = refusal(path)
    assert message.startswith(str(path))
    assert "ballot_paper_id, person_name" in message


# Democracy Club's candidates CSV.


def test_csv_header_matches_the_published_field_list(sample_data):
    fields = (sample_data / "candidates/ynr_data_exports_csv_fields.txt").read_text().split()
    assert fields == YNR_CSV_FIELDS


def crafted_csv_rows() -> list[dict[str, str]]:
    bowdon = {"ballot_paper_id": BOWDON_BY, "by_election": "True", "gss": WARDS["Bowdon"],
              "post_id": f"gss:{WARDS['Bowdon']}", "post_label": "Bowdon"}
    ashton = {"ballot_paper_id": ASHTON, "gss": "", "post_id": f"gss:{WARDS['Ashton upon Mersey']}",
              "post_label": "Ashton upon Mersey", "seats_contested": "2"}
    return [
        csv_row(person_id="128168", person_name="Nick DEAN", party_id="PP52",
                party_name="Conservative and Unionist Party",
                party_description_text="The Conservative Party Candidate"),
        csv_row(person_id="100454", person_name="Mark NESBITT", party_id="", legacy_party_id="party:53",
                party_name="Labour Party"),
        csv_row(person_id="5", person_name="Ann Able", party_id="", party_name="Independent"),
        csv_row(person_id="6", person_name="Pat Cooper", party_id="joint-party:53-119",
                party_name="Labour and Co-operative Party", **ashton),
        csv_row(person_id="7", person_name="Sam Smith", party_id="PP63", party_name="Green Party", **ashton),
        csv_row(person_id="8", person_name="Jo Jones", party_id="PP90", party_name="Liberal Democrats",
                **bowdon),
    ]


def test_candidates_csv_imports_ballots_wards_seats_and_candidates(trafford, tmp_path):
    path = write_csv(tmp_path, crafted_csv_rows())
    summary = import_candidates(path)
    assert only(summary, "created") == {"election": 1, "ballot": 3, "candidacy": 6, "party": 6}
    ballots = {b.ballot_paper_id: b for b in Ballot.objects.select_related("ward")}
    assert {key: (b.ward.name, b.seats_contested, b.by_election, b.uncontested)
            for key, b in ballots.items()} == {
        ALTRINCHAM: ("Altrincham", 1, False, False),
        ASHTON: ("Ashton upon Mersey", 2, False, True),
        BOWDON_BY: ("Bowdon", 1, True, True),
    }
    assert set(ballots[ALTRINCHAM].candidacies.values_list(
        "person_id", "person_name", "party__party_id", "description"
    )) == {
        ("128168", "Nick DEAN", "PP52", "The Conservative Party Candidate"),
        ("100454", "Mark NESBITT", "PP53", ""),
        ("5", "Ann Able", "ynmp-party:2", ""),
    }
    assert set(Party.objects.values_list("party_id", "name")) == {
        ("PP52", "Conservative and Unionist Party"), ("PP53", "Labour Party"),
        ("ynmp-party:2", "Independent"), ("joint-party:53-119", "Labour and Co-operative Party"),
        ("PP63", "Green Party"), ("PP90", "Liberal Democrats"),
    }

    again = import_candidates(path)
    assert only(again, "created") == {}
    assert only(again, "updated") == {}
    assert only(again, "unchanged") == only(summary, "created")


def test_candidates_csv_dry_run_writes_nothing(trafford, tmp_path):
    out = StringIO()
    call_command("import_candidates", str(write_csv(tmp_path, crafted_csv_rows())), "--dry-run",
                 stdout=out, stderr=StringIO(), verbosity=0)
    assert "Dry run: nothing was written." in out.getvalue()
    assert parse_summary(out.getvalue())["candidacy"]["created"] == 6
    assert nothing_stored()


def test_candidates_csv_with_only_the_needed_columns(trafford, tmp_path):
    path = tmp_path / "minimal.csv"
    path.write_text(
        "ballot_paper_id,person_name,party_name,seats_contested,post_label\n"
        f"{ALTRINCHAM},Ann Able,Independent,1\n".replace(",1\n", ",1,Altrincham\n"),
        encoding="utf-8",
    )
    import_candidates(path)
    assert Ballot.objects.get().ward.name == "Altrincham"
    assert Candidacy.objects.get().party.party_id == "ynmp-party:2"


def _broken(rows, **changes):
    """The crafted rows with the last row changed."""
    return [*rows[:-1], {**rows[-1], **changes}]


AS_ALTRINCHAM = {key: value for key, value in csv_row().items() if key in {
    "ballot_paper_id", "by_election", "gss", "post_id", "post_label", "seats_contested"}}
CSV_REFUSALS = [
    # (change to the last row, row 7; field; words). The ballots of rows 2-6 come first, so
    # refusals met while writing (unknown council, ward or party) show the rollback.
    ({"ballot_paper_id": "local.trafford.bowdon.by.2026-05-32"}, "ballot_paper_id",
     "not a valid Democracy Club id"),
    ({"ballot_paper_id": "local.nowhere.bowdon.2026-05-07", "election_id": "local.nowhere.2026-05-07"},
     "ballot_paper_id", "'nowhere', which is not stored"),
    ({"gss": "E05999999"}, "gss", "no ward of Trafford on 2026-05-07 has GSS code E05999999"),
    ({"gss": "E0599"}, "gss", "not a GSS code"),
    ({"party_id": "", "party_name": "Mystery Party"}, "party_id", "unknown party"),
    ({"party_id": "PP99999", "party_name": ""}, "party_name", "unknown party"),
    ({"party_id": "Liberal Democrats"}, "party_id", "not a party id"),
    ({**AS_ALTRINCHAM, "person_id": "128168"}, "person_name", "listed twice"),
    ({**AS_ALTRINCHAM, "person_id": "", "person_name": "nick  dean", "party_id": "party:52"},
     "person_name", "listed twice"),
    ({**AS_ALTRINCHAM, "person_id": "9", "seats_contested": "2"}, "seats_contested",
     "'2' here but '1' at row 2"),
    ({"seats_contested": "one"}, "seats_contested", "at least 1"),
    ({"cancelled_poll": "maybe"}, "cancelled_poll", "True or False"),
    ({"election_id": "local.trafford.2026-05-08"}, "election_id", "belongs to local.trafford.2026-05-07"),
    ({"election_date": "2026-05-08"}, "election_date", "dated 2026-05-07"),
    ({"person_name": ""}, "person_name", "no name"),
]


@pytest.mark.parametrize(("changes", "field", "words"), CSV_REFUSALS)
def test_csv_refusals_name_row_and_field_and_store_nothing(trafford, tmp_path, changes, field, words):
    path = write_csv(tmp_path, _broken(crafted_csv_rows(), **changes))
    message = refusal(path)
    assert message.startswith(f"{path}, row 7, field {field!r}: ")
    assert words in message
    assert nothing_stored()


def test_truncated_csv_is_refused(trafford, tmp_path):
    path = write_csv(tmp_path, crafted_csv_rows())
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("Jo Jones") + 3], encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"{path}, row 7: ")
    assert "truncated" in message
    assert nothing_stored()


def test_csv_without_the_needed_columns_is_refused(trafford, tmp_path):
    path = tmp_path / "thin.csv"
    path.write_text(f"ballot_paper_id,person_name\n{ALTRINCHAM},Ann Able\n", encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"{path}, row 1: ")
    assert "missing party_name, seats_contested" in message

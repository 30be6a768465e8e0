"""``import_parties``: the register, the colours table and the parties-standing list."""

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from elections.models import Party
from elections.services import upsert_party

pytestmark = pytest.mark.django_db

REGISTER = "parties/ec_register_gb_2021-11_danielgriffin48.csv"
COLOURS = "parties/party_colours_core.csv"
STANDING = "parties/dc_parties_standing_2026-05-07.csv"


def import_parties(path: Path, *args: str) -> dict[str, dict[str, int]]:
    """Run the command; return the summary as {kind: {outcome: n}}."""
    out = StringIO()
    call_command("import_parties", str(path), *args, stdout=out, stderr=StringIO(), verbosity=0)
    return parse_summary(out.getvalue())


def parse_summary(output: str) -> dict[str, dict[str, int]]:
    lines = [line for line in output.splitlines() if line.strip()]
    header_at = next(i for i, line in enumerate(lines) if line.split() == [
        "created", "updated", "unchanged", "rejected"])
    summary = {}
    for line in lines[header_at + 1:]:
        if line.startswith("rejected:"):
            continue
        kind, *counts = line.rsplit(maxsplit=4)
        summary[kind] = dict(zip(["created", "updated", "unchanged", "rejected"], map(int, counts),
                                 strict=True))
    return summary


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_register_imports_every_party_and_reimports_unchanged(sample_data):
    rows = csv_rows(sample_data / REGISTER)
    assert import_parties(sample_data / REGISTER) == {
        "party": {"created": 352, "updated": 0, "unchanged": 0, "rejected": 0}
    }
    assert Party.objects.count() == 352 == len(rows)
    stored = dict(Party.objects.values_list("party_id", "name"))
    assert stored == {row["ec_id"]: " ".join(row["name"].split()) for row in rows}
    assert stored["PP52"] == "Conservative and Unionist Party"
    assert import_parties(sample_data / REGISTER) == {
        "party": {"created": 0, "updated": 0, "unchanged": 352, "rejected": 0}
    }


def test_colours_set_short_names_and_colours_for_the_core_parties(sample_data):
    import_parties(sample_data / REGISTER)
    rows = csv_rows(sample_data / COLOURS)
    assert len(rows) == 13
    # Two of the 13 are Democracy Club pseudo-ids, not on the register.
    assert import_parties(sample_data / COLOURS) == {
        "party": {"created": 2, "updated": 11, "unchanged": 0, "rejected": 0}
    }
    for row in rows:
        party = Party.objects.get(party_id=row["party_ec_id"])
        assert party.short_name == row["short_name"]
        assert party.colour == (row["brand_hex"] or row["map_hex_open_innovations"]).upper()
    assert Party.objects.get(party_id="PP52").colour == "#0087DC"  # brand colour
    assert Party.objects.get(party_id="PP102").colour == "#EBDB1C"  # no brand colour: map colour
    # The register's name stands; the colours table only names parties it creates.
    assert Party.objects.get(party_id="PP63").name == "Green Party"
    assert Party.objects.get(party_id="joint-party:53-119").name == "Labour and Co-operative Party"
    assert Party.objects.get(party_id="ynmp-party:2").short_name == "Ind"
    assert import_parties(sample_data / COLOURS) == {
        "party": {"created": 0, "updated": 0, "unchanged": 13, "rejected": 0}
    }
    assert Party.objects.exclude(colour="").count() == 13


def test_register_names_win_whatever_the_order(sample_data):
    import_parties(sample_data / COLOURS)
    assert Party.objects.get(party_id="PP63").name == "Green Party (England & Wales)"
    summary = import_parties(sample_data / REGISTER)
    assert Party.objects.get(party_id="PP63").name == "Green Party"
    assert Party.objects.get(party_id="PP63").colour == "#00A85A"
    assert summary["party"]["created"] + summary["party"]["updated"] + summary["party"]["unchanged"] == 352


def test_parties_standing_accepts_pseudo_ids(sample_data):
    rows = csv_rows(sample_data / STANDING)
    assert import_parties(sample_data / STANDING) == {
        "party": {"created": 164, "updated": 0, "unchanged": 0, "rejected": 0}
    }
    assert Party.objects.count() == 164 == len(rows)
    assert Party.objects.get(party_id="ynmp-party:2").name == "Independent"
    assert Party.objects.get(party_id="joint-party:53-119").name == "Labour and Co-operative Party"
    assert Party.objects.get(party_id="joint-party:12666-18280").name == (
        "Alliance to Liberate Scotland and Sovereignty"
    )
    assert Party.objects.get(party_id="PP2893").name == "Christian Party \"Proclaiming Christ's Lordship\""
    assert import_parties(sample_data / STANDING) == {
        "party": {"created": 0, "updated": 0, "unchanged": 164, "rejected": 0}
    }


def test_parties_standing_does_not_rename_stored_parties(sample_data, db):
    upsert_party(party_id="PP7931", name="Reform UK (registered name)")
    summary = import_parties(sample_data / STANDING)
    assert summary["party"]["unchanged"] == 1
    assert Party.objects.get(party_id="PP7931").name == "Reform UK (registered name)"


def test_dry_run_writes_nothing(sample_data):
    out = StringIO()
    call_command("import_parties", str(sample_data / REGISTER), "--dry-run", stdout=out,
                 stderr=StringIO(), verbosity=0)
    assert "Dry run: nothing was written." in out.getvalue()
    assert parse_summary(out.getvalue())["party"]["created"] == 352
    assert not Party.objects.exists()


def test_unknown_header_names_the_file_and_the_expected_columns(tmp_path):
    path = write(tmp_path, "people.csv", "id,title\nPP52,Conservatives\n")
    with pytest.raises(CommandError) as excinfo:
        import_parties(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "id, title" in message
    assert "ec_id, name" in message
    assert "party_ec_id, short_name, party_name, brand_hex" in message
    assert "party_ec_id, party_name" in message


@pytest.mark.parametrize(
    ("text", "row", "field", "words"),
    [
        ("ec_id,name,default_emblem_id\nPP52,Conservatives,48\nLabour,Labour Party,50\n", 3, "ec_id",
         "not a party id"),
        ("ec_id,name,default_emblem_id\nPP52,Conservatives,48\n,Nameless,1\n", 3, "ec_id", "no party id"),
        ("ec_id,name,default_emblem_id\nPP52,Conservatives,48\nPP53,  ,50\n", 3, "name", "no name"),
        ("ec_id,name,default_emblem_id\nPP52,Conservatives,48\nparty:52,Tories,48\n", 3, "ec_id",
         "already in row 2"),
        ("party_ec_id,short_name,party_name,brand_hex\nPP52,Con,Conservatives,#0087DC\n"
         "PP53,Lab,Labour,red\n", 3, "brand_hex", "not a colour"),
        # Truncated: the last row was cut mid-line.
        ("ec_id,name,default_emblem_id\nPP52,Conservatives,48\nPP53,Lab", 3, None, "truncated"),
        # Truncated inside a quoted field.
        ('ec_id,name,default_emblem_id\nPP52,Conservatives,48\nPP133,"The Peace Party - Non', 3, None,
         "truncated"),
    ],
)
def test_broken_files_are_refused_whole_naming_row_and_field(tmp_path, text, row, field, words):
    path = write(tmp_path, "parties.csv", text)
    with pytest.raises(CommandError) as excinfo:
        import_parties(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}, row {row}")
    if field:
        assert f"field {field!r}" in message
    assert words in message
    assert not Party.objects.exists()


def test_empty_and_non_utf8_files_are_refused(tmp_path):
    empty = write(tmp_path, "empty.csv", "")
    with pytest.raises(CommandError, match="empty"):
        import_parties(empty)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("ec_id,name\nPP1,Plaid Cymru – Gwynedd\n".encode("cp1252"))
    with pytest.raises(CommandError, match="not UTF-8"):
        import_parties(latin1)
    assert not Party.objects.exists()


def test_a_byte_order_mark_and_lowercase_ids_are_accepted(tmp_path):
    path = tmp_path / "register.csv"
    path.write_bytes("\ufeffec_id,name\npp52,Conservative and Unionist Party\n".encode())
    assert import_parties(path)["party"]["created"] == 1
    assert Party.objects.get().party_id == "PP52"

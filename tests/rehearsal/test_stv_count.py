"""The STV counter reproduces published Scottish counts, stage by stage, to the fifth decimal:
the five Clackmannanshire 2022 wards, counted from their published preference profiles
(BLT files) and compared with the count sheets."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from results.checks import derive_stv_winners
from results.stv_count import count_stv, droop_quota

SHEET = "results/scotland_stv_2022_clackmannanshire.csv"
BLT_DIR = "results/clackmannanshire_2022_blt"


def read_blt(path: Path) -> tuple[list[str], int, list[tuple[int, tuple[int, ...]]]]:
    """Candidate surnames (upper case in BLT files), seats, and the weighted ballots."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    count, seats = map(int, lines[0].split())
    ballots = []
    row = 1
    while lines[row] != "0":
        numbers = list(map(int, lines[row].split()))
        assert numbers[-1] == 0
        ballots.append((numbers[0], tuple(numbers[1:-1])))
        row += 1
    names = [lines[row + 1 + i].strip('"').split('""')[0].strip() for i in range(count)]
    return names, seats, ballots


def surname(name: str) -> str:
    return name.split()[-1].casefold()


@pytest.mark.parametrize("ward", [1, 2, 3, 4, 5])
def test_counter_reproduces_every_stage_of_the_published_count(sample_data: Path, ward: int):
    names, seats, ballots = read_blt(sample_data / BLT_DIR / f"clackmannanshire_2022_ward{ward}.blt")
    with (sample_data / SHEET).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wards: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        wards.setdefault(row["map_ward_id"], []).append(row)
    sheet = next(w for w in wards.values() if sorted(map(surname, (r["name"] for r in w))) ==
                 sorted(map(surname, names)))
    by_surname = {surname(r["name"]): r for r in sheet}

    result = count_stv(candidates=list(range(1, len(names) + 1)), ballots=ballots, seats=seats)

    assert result.quota == int(sheet[0]["quota"]) == droop_quota(result.valid_poll, seats)
    assert result.valid_poll == int(sheet[0]["valid_poll"])
    published = max(
        n for n in range(2, 14) if any(r[f"total_votes{n:02d}"] for r in sheet)
    ) if any(r["total_votes02"] for r in sheet) else 1
    assert len(result.stages) == published
    for stage in result.stages:
        for cid, name in enumerate(names, start=1):
            row = by_surname[surname(name)]
            expected = row["first_prefs"] if stage.number == 1 else row[f"total_votes{stage.number:02d}"]
            assert stage.totals[cid] == Decimal(expected), (stage.number, name)
        assert sum(stage.totals.values()) + stage.non_transferable == result.valid_poll
    elected = {surname(names[c - 1]) for c in result.elected}
    assert elected == {surname(r["name"]) for r in sheet if r["elected"] == "1"}
    # The platform's own check derives the same winners from these stages.
    assert {surname(names[c - 1]) for c in derive_stv_winners(
        [s.totals for s in result.stages], result.quota, seats
    )} == elected


def test_exclusion_tie_goes_to_the_earliest_stage_that_separates_them():
    # D is excluded first, and two of its papers bring B level with C at 10; at the first
    # stage B had 8 and C 10, so B goes next.
    ballots = [(14, (1,)), (8, (2,)), (10, (3,)), (2, (4, 2)), (4, (4, 5)), (12, (5,))]
    result = count_stv(candidates=[1, 2, 3, 4, 5], ballots=ballots, seats=1)
    actions = [s.action for s in result.stages]
    assert actions[1:3] == ["exclusion of 4", "exclusion of 2"]
    assert result.stages[1].totals[2] == result.stages[1].totals[3] == 10
    assert result.elected == (5,)
    for stage in result.stages:
        assert sum(stage.totals.values()) + stage.non_transferable == 50

"""The keying flow in Debian's Chromium (Playwright) at a phone's size, on a real ballot.

Trafford's Altrincham ward, 4 May 2023 (3 seats, 12 candidates), is built from the council's
own published rows (../shared/data) through the import commands and ``elections.services``,
with no result. Then, each in their own browser at 360 × 740:

1. a correspondent logs in, keys the declaration, sees the three winners before submitting,
   and submits: provisional;
2. a second correspondent keys the same figures: verified;
3. a third keys one figure differently: disputed;
4. the reviewer compares the keyings field by field and approves the first: verified.

Two more: a tie for the last seat asks who won by lot (with JavaScript), and the form works
with JavaScript turned off.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import Role
from accounts.services import assign_role
from councils.models import Council
from councils.selectors import find_ward
from elections import ids
from elections.models import Ballot
from elections.services import (
    normalise_party_id,
    upsert_ballot,
    upsert_candidacy,
    upsert_election,
    upsert_party,
)
from results.models import EventKind, Result, ResultStatus, Submission
from tests.factories.keying import PASSWORD, make_correspondent, make_keying_ballot, make_user
from tests.support import chromium, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
PORTS = range(8300, 8400)
DATE = dt.date(2023, 5, 4)
WARD = "Altrincham"
HEADINGS = {  # LGA column → the form's label
    "BallotsRejectedOfficialMark": "Want of an official mark",
    "BallotsRejectedMultipleVote": "Voting for more candidates than allowed",
    "BallotsRejectedIdentification": "Writing or mark identifying the voter",
    "BallotsRejectedInPart": "Rejected in part",
    "BallotsRejectedUnmarked": "Unmarked or void for uncertainty",
}


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    live = LiveServer(f"127.0.0.1:{free_port(PORTS)}")
    try:
        yield live.url
    finally:
        # Let requests still being answered (the browser closed mid-way) finish on the shared
        # test connection before the server hands it back.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            t.name.endswith("(process_request_thread)") and t.is_alive() for t in threading.enumerate()
        ):
            time.sleep(0.05)
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def altrincham_rows(sample_data: Path) -> list[dict[str, str]]:
    with (sample_data / "results" / "trafford_lga_2023_onwards.csv").open(encoding="utf-8-sig") as handle:
        return [r for r in csv.DictReader(handle)
                if r["ElectionDate"] == DATE.isoformat() and r["ElectoralAreaLabel"] == WARD]


def person(row: dict[str, str]) -> str:
    forenames = row["CommonlyUsedForenames"] or row["CandidateForenames"]
    surname = row["CommonlyUsedSurname"] or row["CandidateSurname"]
    return f"{forenames} {surname}"


def build_ballot(sample_data: Path, rows: list[dict[str, str]]) -> Ballot:
    """The 2023 Altrincham ballot and its candidates, as published, without any result."""
    with transaction.atomic():  # one commit: quicker on PostgreSQL
        return _build_ballot(sample_data, rows)


def _build_ballot(sample_data: Path, rows: list[dict[str, str]]) -> Ballot:
    quiet = {"stdout": StringIO(), "stderr": StringIO(), "verbosity": 0}
    call_command("import_boundaries",
                 str(sample_data / "boundaries" / "E08000009-trafford.wd-may2023.geojson"), **quiet)
    call_command("import_parties",
                 str(sample_data / "parties" / "ec_register_gb_2021-11_danielgriffin48.csv"), **quiet)
    council = Council.objects.get(gss="E08000009")
    ward = find_ward(council, on_date=DATE, gss=rows[0]["ElectoralAreaURI"].rsplit("/", 1)[-1])
    election, _ = upsert_election(election_id=ids.build_election_id(council.slug, DATE), council=council)
    ballot, _ = upsert_ballot(ballot_paper_id=ids.build_ballot_id(council.slug, ward.slug, DATE),
                              election=election, ward=ward,
                              seats_contested=sum(r["Elected"] == "ELECTED" for r in rows))
    for row in rows:
        party, _ = upsert_party(party_id=normalise_party_id(row["PoliticalPartyURI"]),
                                name=row["PoliticalPartyLabel"], overwrite_name=False)
        upsert_candidacy(ballot=ballot, person_name=person(row), party=party,
                         description=row["CandidatesDescription"])
    return ballot


@pytest.fixture
def phone(browser: Browser, server: str) -> Iterator[Callable[..., Page]]:
    """``phone(**options)``: a new browser at a phone's size. Closed before the server stops,
    so no request is left in flight against a stopped server."""
    contexts: list[BrowserContext] = []

    def open_phone(**options: Any) -> Page:
        context = browser.new_context(**PHONE, **options)
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
        return page

    yield open_phone
    for context in contexts:
        context.close()


def log_in(page: Page, server: str, user: Any) -> None:
    page.goto(f"{server}/accounts/login/")
    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My counts", level=1)).to_be_visible()


def key_declaration(page: Page, rows: list[dict[str, str]], votes: dict[str, int]) -> None:
    """Type the declaration in as a correspondent would, field by field, by label."""
    for row in rows:
        name = person(row)
        page.get_by_role("textbox", name=re.compile("^" + re.escape(name))).fill(str(votes[name]))
    first = rows[0]
    page.get_by_label("Ballot papers counted", exact=True).fill(first["VotesCast"])
    page.get_by_text("Rejected papers by heading").click()
    for column, label in HEADINGS.items():
        page.get_by_label(label, exact=True).fill(first[column])
    page.get_by_label("Electorate", exact=True).fill(first["EligibleElectorate"])


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_key_verify_dispute_and_resolve_a_real_three_seat_ward(server, phone, sample_data):
    rows = altrincham_rows(sample_data)
    assert len(rows) == 12
    ballot = build_ballot(sample_data, rows)
    assert (ballot.seats_contested, ballot.candidacies.count()) == (3, 12)
    assert not Result.objects.filter(ballot=ballot).exists()
    users = {}
    for name in ("alice", "bob", "carol"):
        users[name] = make_user(name)
        assign_role(user=users[name], role=Role.CORRESPONDENT, council=ballot.election.council,
                    election=ballot.election)
    users["rita"] = make_user("rita")
    assign_role(user=users["rita"], role=Role.REVIEWER, council=ballot.election.council)
    declared = {person(r): int(r["VotesWon"]) for r in rows}
    winners = sorted((person(r) for r in rows if r["Elected"] == "ELECTED"), key=lambda n: -declared[n])
    assert winners == ["Geraldine Philomena COGGINS", "Dan JERROME", "Michael John WELTON"]

    # 1. Alice keys the declaration and sees who is elected before submitting.
    page = phone()
    log_in(page, server, users["alice"])
    no_sideways_scroll(page)
    page.get_by_role("link", name=WARD).click()
    expect(page.locator("#seats")).to_have_text("3 seats")
    votes_input = page.get_by_role("textbox", name=re.compile("^Kamy ACHANTA"))
    assert votes_input.get_attribute("inputmode") == "numeric"
    key_declaration(page, rows, declared)
    preview = page.locator("#winner-list li")
    expect(preview).to_have_count(3)
    for position, name in enumerate(winners):
        expect(preview.nth(position)).to_contain_text(name)
    expect(page.locator("#votes-sum")).to_contain_text("Valid papers: 3,192 × 3 seats")
    no_sideways_scroll(page)
    submit = page.get_by_role("button", name="Submit result")
    assert submit.bounding_box()["height"] >= 44 and votes_input.bounding_box()["height"] >= 44
    submit.click()
    expect(page.locator(".notice--success")).to_contain_text("keyed. Provisional")
    expect(page.locator("#result-status")).to_have_text("Provisional (keyed once)")
    assert page.errors == []

    # 2. Bob, keying blind, types the same figures: verified.
    page = phone()
    log_in(page, server, users["bob"])
    page.get_by_role("link", name=WARD).click()
    expect(page.get_by_text("Someone else has keyed this result")).to_be_visible()
    key_declaration(page, rows, declared)
    page.get_by_role("button", name="Submit result").click()
    expect(page.locator(".notice--success")).to_contain_text("your figures match. The result is verified")
    assert Result.objects.get(ballot=ballot).status == ResultStatus.VERIFIED

    # 3. Carol mistypes one candidate: the result is held for a reviewer.
    page = phone()
    log_in(page, server, users["carol"])
    page.get_by_role("link", name=WARD).click()
    key_declaration(page, rows, {**declared, "Dan JERROME": 1974})
    page.get_by_role("button", name="Submit result").click()
    expect(page.locator(".notice--success")).to_contain_text("held for a reviewer")
    assert Result.objects.get(ballot=ballot).status == ResultStatus.DISPUTED

    # 4. Rita compares field by field and approves the keying that matches the declaration.
    page = phone()
    log_in(page, server, users["rita"])
    page.get_by_role("link", name="Review").first.click()
    page.get_by_role("link", name=WARD).click()
    differing = page.locator("tr.differs")
    expect(differing).to_have_count(1)
    expect(differing).to_contain_text("Dan JERROME")
    expect(differing).to_contain_text("1947")
    expect(differing).to_contain_text("1974")
    alice_keying = Submission.objects.get(ballot=ballot, submitted_by=users["alice"])
    form = page.locator("form.decision").filter(has=page.get_by_role(
        "button", name=f"Approve keying {alice_keying.pk}"))
    form.get_by_role("textbox").fill("Matches the returning officer's declaration")
    form.get_by_role("button", name=f"Approve keying {alice_keying.pk}").click()
    expect(page.locator(".notice--success")).to_contain_text("approved; the result is verified")
    expect(page.locator("#result-status")).to_contain_text("Verified (version 4)")
    no_sideways_scroll(page)

    result = Result.objects.get(ballot=ballot)
    assert (result.status, result.version, result.verified_by) == (ResultStatus.VERIFIED, 4, users["rita"])
    assert result.current_submission == alice_keying
    assert list(result.events.order_by("id").values_list("kind", flat=True)) == [
        EventKind.PROVISIONAL, EventKind.VERIFIED, EventKind.DISPUTED, EventKind.RESOLVED]
    elected = set(
        result.candidate_results.filter(elected=True).values_list("candidacy__person_name", flat=True)
    )
    assert elected == set(winners)
    assert result.electorate == 7709 and result.rejected_total == 30


def test_a_tie_for_the_last_seat_asks_who_won_by_lot(server, phone):
    ballot = make_keying_ballot(seats=1, names=("Ann ABLE", "Ben BAKER", "Cat COLE"))
    user = make_correspondent(ballot.election)
    page = phone()
    log_in(page, server, user)
    page.get_by_role("link", name=ballot.ward.name).click()
    tie = page.locator("#field-won_by_lot")
    expect(tie).to_be_hidden()
    for name, votes in (("Ann ABLE", 600), ("Ben BAKER", 600), ("Cat COLE", 300)):
        page.get_by_role("textbox", name=re.compile("^" + name)).fill(str(votes))
    page.get_by_label("Ballot papers counted", exact=True).fill("1510")
    page.get_by_label("Rejected papers", exact=True).fill("10")
    expect(tie).to_be_visible()
    expect(tie.locator("legend")).to_have_text("2 candidates tie for 1 seat: who won by lot?")
    expect(page.get_by_label("Cat COLE won by lot")).to_be_hidden()
    expect(page.locator("#winner-list")).to_contain_text("tick who won by lot")
    page.get_by_label("Ben BAKER won by lot").check()
    expect(page.locator("#winner-list li")).to_have_text(re.compile(r"Ben BAKER .*won by lot"))
    page.get_by_role("button", name="Submit result").click()
    expect(page.locator(".notice--success")).to_contain_text("keyed")
    winner = Result.objects.get(ballot=ballot).candidate_results.get(elected=True)
    assert (winner.candidacy.person_name, winner.won_by_lot) == ("Ben BAKER", True)


def test_the_form_works_without_javascript(server, phone):
    ballot = make_keying_ballot(seats=1)
    user = make_correspondent(ballot.election)
    page = phone(java_script_enabled=False)
    log_in(page, server, user)
    page.get_by_role("link", name=ballot.ward.name).click()
    for name, votes in (("Ann ABLE", 500), ("Ben BAKER", 700), ("Cat COLE", 300)):
        page.get_by_role("textbox", name=re.compile("^" + name)).fill(str(votes))
    page.get_by_label("Ballot papers counted", exact=True).fill("1510")
    page.get_by_label("Rejected papers", exact=True).fill("10")
    page.get_by_role("button", name="Check figures").click()
    expect(page.locator("#winner-list li")).to_contain_text("Ben BAKER")
    assert not Submission.objects.exists()
    page.get_by_role("button", name="Submit result").click()
    expect(page.locator(".notice--success")).to_contain_text("keyed. Provisional")
    assert Result.objects.get(ballot=ballot).status == ResultStatus.PROVISIONAL

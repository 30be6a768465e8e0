"""The server-rendered public pages: what a ward's and a council's pages show, that every
name is escaped, the rehearsal label, shareable URLs, refusals and query counts."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from results.public_selectors import default_polling_date
from results.services import set_count_state

from .night import XSS_CANDIDATE, XSS_COUNCIL, XSS_PARTY, XSS_WARD, key, make_night

pytestmark = pytest.mark.django_db


@pytest.fixture
def keyers():
    model = get_user_model()
    return [model.objects.create_user(f"map-keyer-{n}", password="x") for n in range(2)]


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    text = response.content.decode()
    assert "INVALID_TEMPLATE_VARIABLE" not in text
    return text


def visible_text(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed (entities kept)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_ballot_page_shows_the_full_result_and_its_history(client, keyers) -> None:
    night = make_night()
    ballot = night.ballots[0]
    votes = {"Abbey Candidate A1": 600, "Abbey Candidate B1": 300, "Abbey Candidate C1": 100}
    key(ballot, votes, user=keyers[0])
    key(ballot, votes, user=keyers[1])  # a second, identical keying verifies it

    html = page(client, reverse("public:ballot", args=[ballot.ballot_paper_id]))
    text = visible_text(html)

    assert "<h1>Abbey</h1>" in html
    assert "Verified" in text
    # Candidates by votes, with party, votes, share of all votes and who was elected.
    rows = re.findall(r"<tr(?: class=\"elected\")?>\s*<th scope=\"row\">(.*?)</th>.*?</tr>", html, re.S)
    assert [visible_text(r).strip() for r in rows] == [
        "Abbey Candidate A1", "Abbey Candidate B1", "Abbey Candidate C1",
    ]
    assert "Conservative and Unionist Party" in text
    assert " 600 " in text and "60.0%" in text and "30.0%" in text and "10.0%" in text
    assert text.count("Elected") == 2  # the column header, and the one winner
    assert '<tr class="elected">' in html
    assert "Turnout 33.33%" in text  # 1,020 ballot papers counted of 3,060 electors
    assert "Declared at the count" in text
    assert '<time datetime="2026-05-08T02:30:00+01:00">8 May 2026, 02:30</time>' in html
    # Correction history: provisional (v1) then verified (v2).
    assert re.search(r"Provisional result \(version 1\).*Result verified \(version 2\)", text)
    assert f"/map/?date=2026-05-07#ward={ballot.ward_id}" in html


def test_ballot_page_before_any_result_lists_the_candidates_without_figures(client) -> None:
    night = make_night()
    ballot = night.ballots[1]
    set_count_state(ballot=ballot, state="counting", actor=None)

    text = visible_text(page(client, reverse("public:ballot", args=[ballot.ballot_paper_id])))

    assert "No figures yet" in text and "Counting" in text
    assert "Bridge Candidate A1" in text
    assert "%" not in text.split("Candidates and votes")[1].split("History")[0]
    assert "Count state changed (version 1)" in text


def test_every_name_is_escaped_on_every_page(client) -> None:
    night = make_night(council_name=XSS_COUNCIL, ward_names=(XSS_WARD, "Plain"), hostile=True)
    ballot = night.ballots[0]
    key(ballot, {XSS_CANDIDATE: 900})
    ward = night.wards[0]
    date = night.election.date.isoformat()
    urls = [
        reverse("public:ballot", args=[ballot.ballot_paper_id]),
        reverse("public:ward", args=[ward.pk]),
        reverse("public:council", args=[date, night.council.slug]),
        reverse("public:national", args=[date]),
        reverse("public:search") + "?q=ward",
        reverse("public:search") + "?q=borough",
        reverse("public:map") + f"?date={date}",
        reverse("home"),
    ]
    for url in urls:
        html = page(client, url)
        for raw in (XSS_CANDIDATE, XSS_PARTY, XSS_WARD, XSS_COUNCIL, "<script>alert", "<img",
                    "<b onmouseover"):
            assert raw not in html, (url, raw)
    ballot_html = page(client, urls[0])
    assert "&lt;img src=x onerror=alert(1)&gt;" in ballot_html  # shown as text, elected
    assert "&lt;b onmouseover=&quot;alert(2)&quot;&gt;Party&lt;/b&gt; &amp; Co" in ballot_html
    assert "&lt;script&gt;alert(3)&lt;/script&gt; Ward" in ballot_html
    council_html = page(client, urls[2])
    assert "&lt;img src=x onerror=alert(1)&gt;" in council_html
    assert "Borough &lt;i&gt;of&lt;/i&gt; &quot;X&quot; &amp; Y" in council_html


def test_council_page_has_the_scoreboard_seat_bar_and_every_ward(client, keyers) -> None:
    night = make_night(ward_names=("Abbey", "Bridge", "Castle", "Dale"))
    key(night.ballots[0], {"Abbey Candidate A1": 500})
    key(night.ballots[1], {"Bridge Candidate B1": 500})
    key(night.ballots[2], {"Castle Candidate B1": 400})

    html = page(client, reverse("public:council", args=["2026-05-07", night.council.slug]))
    text = visible_text(html)

    assert "3 of 4 wards declared, 4 seats contested" in text
    scoreboard = html.split('class="scoreboard"')[1].split("</table>")[0]
    assert re.findall(r"</span>([^<]+)</span>\s*</th><td class=\"num\">(\d+)</td>", scoreboard) == [
        ("Labour Party", "2"), ("Conservative and Unionist Party", "1"),
    ]
    # The seat bar: one part per party, as wide as its share of the seats contested.
    assert 'style="width: 50.0%; background: #E4003B"' in html
    assert 'style="width: 25.0%; background: #0087DC"' in html
    for name in ("Abbey", "Bridge", "Castle", "Dale"):
        assert f">{name}</a>" in html
    assert "Abbey Candidate A1" in text and "Castle Candidate B1" in text
    assert "Awaiting count" in text  # Dale
    assert f"/map/?date=2026-05-07#council={night.council.slug}" in html


def test_rehearsal_data_is_labelled_on_its_pages(client) -> None:
    night = make_night(rehearsal=True)
    key(night.ballots[0], {"Abbey Candidate A1": 500})
    real = make_night(council_name="Realton")
    for url in (
        reverse("public:ballot", args=[night.ballots[0].ballot_paper_id]),
        reverse("public:council", args=["2026-05-07", night.council.slug]),
        reverse("public:national", args=["2026-05-07"]),
    ):
        assert "<strong>Rehearsal</strong>" in page(client, url), url
    assert "Rehearsal" not in page(client, reverse("public:ballot", args=[real.ballots[0].ballot_paper_id]))


def test_ward_page_lists_every_contest_in_the_ward(client) -> None:
    night = make_night()
    key(night.ballots[0], {"Abbey Candidate C1": 700})
    text = visible_text(page(client, reverse("public:ward", args=[night.wards[0].pk])))
    assert "Testborough local election, 7 May 2026" in text
    assert "Green Party" in text and "Abbey Candidate C1" in text and "Provisional" in text


def test_search_finds_councils_and_wards_by_name(client) -> None:
    night = make_night(ward_names=("Old Trafford", "Bridge"))
    html = page(client, reverse("public:search") + "?q=TRAFF")
    assert f'href="/results/wards/{night.wards[0].pk}/">Old Trafford</a> (Testborough)' in html
    assert "Bridge" not in html
    html = page(client, reverse("public:search") + "?q=testbor")
    assert f'href="/results/2026-05-07/{night.council.slug}/">7 May 2026</a>' in html
    assert "No council matches" in page(client, reverse("public:search") + "?q=zz")
    short = page(client, reverse("public:search") + "?q=z")
    assert "No council matches" not in short and "at least two characters" in short


@pytest.mark.parametrize(
    "url",
    [
        "/results/ballots/local.nowhere.ward.2026-05-07/",
        "/results/wards/999999/",
        "/results/2026-05-07/nowhere/",
        "/results/2026-13-45/testborough/",
        "/results/2025-01-01/",
        "/map/?date=2025-01-01",
        "/map/?date=yesterday",
        "/map/boundaries/wards-0123456789abcdef.topo.json",
        "/map/boundaries/..%2Fsettings.py",
    ],
)
def test_unknown_things_are_not_found(client, url: str) -> None:
    make_night()
    assert client.get(url).status_code == 404


def test_pages_are_read_only(client) -> None:
    night = make_night()
    for url in (reverse("public:map"), reverse("public:ballot", args=[night.ballots[0].ballot_paper_id])):
        assert client.post(url).status_code == 405


def test_page_queries_do_not_grow_with_the_number_of_wards(client) -> None:
    small = make_night(council_name="Small", ward_names=("A", "B"))
    big = make_night(council_name="Big", ward_names=tuple(f"W{n}" for n in range(12)), seats=3)
    for night in (small, big):
        for ballot in night.ballots:
            key(ballot, {})

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            page(client, url)
        return len(captured)

    council = [queries(reverse("public:council", args=["2026-05-07", n.council.slug])) for n in (small, big)]
    ballot = [queries(reverse("public:ballot", args=[n.ballots[-1].ballot_paper_id])) for n in (small, big)]
    assert council[0] == council[1] <= 15
    assert ballot[0] == ballot[1] <= 16
    assert queries(reverse("public:national", args=["2026-05-07"])) <= 2


def test_map_page_hands_the_browser_its_data_urls(client) -> None:
    night = make_night()

    html = page(client, reverse("public:map"))  # the latest polling day by default
    config = json.loads(re.search(r'<script id="map-config" type="application/json">(.*?)</script>',
                                  html, re.S).group(1))

    assert config["date"] == "2026-05-07"
    assert config["snapshot"] == "/live/2026-05-07/national.json"
    assert config["stream"] == "/live/stream?date=2026-05-07"
    assert config["ballot"] == "/live/ballot/{ballot}.json"
    assert config["councilDocument"] == "/live/2026-05-07/council/{council}.json"
    assert config["ballotPage"] == "/results/ballots/{ballot}/"
    assert config["councilPage"] == "/results/2026-05-07/{council}/"
    assert re.fullmatch(r"/map/boundaries/wards-[0-9a-f]{16}\.topo\.json", config["boundaries"])
    assert 'id="results-map"' in html and "results_map.js" in html and "leaflet.js" in html
    assert '<option value="2026-05-07" selected>7 May 2026</option>' in html
    # The layer it names exists and holds the night's wards, joined by ward id.
    layer = client.get(config["boundaries"])
    assert layer.status_code == 200
    ids = {g["id"] for g in json.loads(b"".join(layer.streaming_content))["objects"]["wards"]["geometries"]}
    assert {w.pk for w in night.wards} <= ids
    # Without a tile server configured the map still works: no tile layer is asked for.
    assert '"layers": []' in html


def test_map_page_without_elections(client) -> None:
    html = page(client, reverse("public:map"))
    assert "No elections imported yet" in html
    assert "map-config" not in html


def test_home_page_links_to_the_map_and_council_pages(client) -> None:
    night = make_night()
    html = page(client, reverse("home"))
    assert 'href="/map/"' in html
    assert f'href="/results/2026-05-07/{night.council.slug}/"' in html


def test_the_map_opens_on_the_latest_polling_day_not_in_the_future() -> None:
    for day in (dt.date(2024, 5, 2), dt.date(2026, 5, 7), dt.date(2027, 5, 6)):
        make_night(council_name=f"Council {day.year}", date=day)
    assert default_polling_date(dt.date(2026, 6, 1)) == dt.date(2026, 5, 7)
    assert default_polling_date(dt.date(2026, 5, 7)) == dt.date(2026, 5, 7)
    assert default_polling_date(dt.date(2020, 1, 1)) == dt.date(2024, 5, 2)

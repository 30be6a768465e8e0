"""The map in Debian's Chromium (Playwright), against a live stack (``tests.map.stack``):
uvicorn serving ``config.asgi`` on its own database, results keyed from other processes.

- A result keyed through the write path in another process recolours its ward without a
  reload, over the live stream; the delay is printed.
- With the stream blocked, the map falls back to polling the snapshot with If-None-Match
  (304 while nothing changed) and still recolours the ward.
- Hostile names (candidate, party, ward, council) appear as text in the popup, the tables
  and the feed, and no script runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.support import chromium

from .night import XSS_CANDIDATE, XSS_PARTY, XSS_WARD
from .stack import LiveStack

pytestmark = pytest.mark.browser

GREY = (197, 197, 197)

# The colour of the canvas at the centre of a ward, read from the renderer's own pixels.
PIXEL_JS = """(id) => {
  const s = window.ResultsMap.state, map = s.map, canvas = s.renderer._container;
  const point = map.latLngToContainerPoint(window.ResultsMap.wardBounds(String(id)).getCenter());
  const box = canvas.getBoundingClientRect(), mapBox = map.getContainer().getBoundingClientRect();
  const x = Math.round((mapBox.left + point.x - box.left) * canvas.width / box.width);
  const y = Math.round((mapBox.top + point.y - box.top) * canvas.height / box.height);
  const d = s.renderer._ctx.getImageData(x, y, 1, 1).data;
  return [d[0], d[1], d[2]];
}"""

# Records (epoch ms, browser clock) the first animation frame where the ward is not grey.
WATCH_JS = """(id) => {
  window.__changedAt = null;
  const check = () => {
    const [r, g, b] = window.__readPixel(id);
    const grey = Math.abs(r - g) <= 12 && Math.abs(g - b) <= 12;
    if (!grey) window.__changedAt = performance.timeOrigin + performance.now();
    else requestAnimationFrame(check);
  };
  check();
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    live = LiveStack(tmp=Path(tmp_path_factory.mktemp("mapstack")))
    try:
        yield live.start()
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(allow_orm_in_test=False) as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    yield page
    context.close()


def open_map(page: Page, stack: LiveStack, *, live: bool = True) -> None:
    seeded = stack.seeded
    page.goto(f"{stack.url}/map/?date={seeded['date']}#council={seeded['council']}")
    page.wait_for_selector("html[data-map-ready]", timeout=20_000)
    mode = "live" if live else "polling"
    page.wait_for_selector(f"#map-live[data-mode={mode}]", timeout=20_000)
    page.evaluate("window.__sameDocument = true")
    page.evaluate(f"() => {{ window.__readPixel = {PIXEL_JS}; }}")


def is_grey(colour: list[int]) -> bool:
    return max(abs(c - g) for c, g in zip(colour, GREY, strict=True)) <= 12


def test_a_result_keyed_in_another_process_recolours_its_ward_without_a_reload(
    page: Page, stack: LiveStack, report_figure
) -> None:
    open_map(page, stack)
    ballot, ward = stack.seeded["ballots"][1], stack.seeded["wards"][1]  # Bridge: awaiting
    assert is_grey(page.evaluate(PIXEL_JS, ward)), page.evaluate(PIXEL_JS, ward)
    page.evaluate(WATCH_JS, ward)

    keyed = stack.python(f"from tests.map.stack import key_labour_win; key_labour_win({ballot!r})")
    page.wait_for_function("window.__changedAt !== null", timeout=15_000)

    delay = page.evaluate("window.__changedAt") / 1000 - keyed["started"]
    report_figure(f"\nkeyed in another process -> ward recoloured over the stream: {delay * 1000:.0f} ms "
          "(from the start of submit_result to the first frame drawn in the new colour)")
    red, green, blue = page.evaluate(PIXEL_JS, ward)
    assert red > 150 and red > green + 60 and red > blue + 40  # Labour red, pale-hatched (provisional)
    assert page.evaluate(f"window.ResultsMap.state.styleKeys.get('{ward}')") == "#E4003B/provisional"
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert page.get_attribute("#map-live", "data-mode") == "live"
    feed = page.inner_text("#map-feed")
    assert feed.startswith("Bridge (Mapton): Labour Party")
    assert delay < 10
    assert not page.errors, page.errors


def test_without_the_stream_the_map_polls_with_etags_and_still_updates(
    page: Page, stack: LiveStack, report_figure
) -> None:
    statuses: list[int] = []
    page.route("**/live/stream*", lambda route: route.abort())
    page.on("response", lambda r: statuses.append(r.status) if "/national.json" in r.url else None)
    open_map(page, stack, live=False)
    ballot, ward = stack.seeded["ballots"][3], stack.seeded["wards"][3]  # Dale: awaiting
    assert is_grey(page.evaluate(PIXEL_JS, ward))
    deadline = time.monotonic() + 12
    while 304 not in statuses and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert 304 in statuses, statuses  # unchanged snapshot: If-None-Match answered 304
    page.evaluate(WATCH_JS, ward)

    keyed = stack.python(f"from tests.map.stack import key_labour_win; key_labour_win({ballot!r})")
    page.wait_for_function("window.__changedAt !== null", timeout=20_000)

    delay = page.evaluate("window.__changedAt") / 1000 - keyed["started"]
    report_figure(
        f"\nkeyed in another process -> ward recoloured by polling (every 5 s): {delay * 1000:.0f} ms"
    )
    assert not is_grey(page.evaluate(PIXEL_JS, ward))
    assert page.evaluate("window.__sameDocument") is True
    assert statuses.count(200) >= 2  # the first load and the changed snapshot


def test_hostile_names_are_shown_as_text_everywhere_on_the_map(page: Page, stack: LiveStack) -> None:
    open_map(page, stack)
    hostile_ward = stack.seeded["wards"][0]

    page.evaluate(f"window.ResultsMap.openWard('{hostile_ward}', null, true)")
    page.wait_for_selector(".ward-popup table", timeout=10_000)
    popup = page.locator(".ward-popup")
    text = popup.inner_text()
    assert XSS_CANDIDATE in text
    assert XSS_PARTY in text
    assert XSS_WARD in text
    for tag in ("img", "script", "b", "i"):
        assert popup.locator(tag).count() == 0, tag
    # The popup carries the whole public record.
    for words in ("Provisional", "Candidate", "Party", "Votes", "Share", "Elected", "900", "%", "Turnout",
                  "Declared", "Source", "Declared at the count", "History", "Provisional result (version"):
        assert words in text, words

    page.click("#map-table-details summary")
    page.wait_for_selector(f"#map-table-body tr[data-ward='{hostile_ward}']")
    table = page.locator("#map-table-body")
    assert XSS_WARD in table.inner_text()
    assert XSS_PARTY in table.inner_text()

    page.evaluate("window.ResultsMap.showCouncil(window.ResultsMap.state.wardCouncil.get("
                  f"'{hostile_ward}'), true)")
    page.wait_for_selector("#map-council-wards table", timeout=10_000)
    council_table = page.locator("#map-council-wards")
    assert f"{XSS_CANDIDATE} ({XSS_PARTY})" in council_table.inner_text()
    assert XSS_WARD in page.inner_text("#map-feed")

    page.fill("#map-search", "alert")
    page.wait_for_selector("#map-search-results button")
    assert XSS_WARD in page.inner_text("#map-search-results")

    regions = ("#map-table-body", "#map-council-wards", "#map-feed", "#map-search-results", ".ward-popup")
    for region in regions:
        for tag in ("img", "script", "b", "i"):
            assert page.locator(f"{region} {tag}").count() == 0, (region, tag)
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not page.errors, page.errors  # type: ignore[attr-defined]


LOOKS_JS = """(wards) => {
  const M = window.ResultsMap, s = M.state, [a, b, c, d] = wards.map(String);
  const entry = (over) => Object.assign({ballot: "x", council: s.wardCouncil.get(a), name: "W",
    status: "none", count: "awaiting", winners: [], seats: 1, uncontested: false, by: false,
    rehearsal: false, v: 99}, over);
  const looks = {};
  const probe = (label, over, id) => {
    s.wards[id || a] = entry(over);
    const look = M.appearance(id || a);
    const solid = typeof look.style.fillColor === "string";
    looks[label] = {key: look.key, pattern: !solid, fill: look.style.fill,
                    fillColor: solid ? look.style.fillColor : null,
                    color: look.style.color, dash: look.style.dashArray, weight: look.style.weight};
  };
  probe("verified", {status: "verified", count: "declared", winners: ["PP53"]});
  probe("provisional", {status: "provisional", count: "declared", winners: ["PP53"]});
  probe("disputed", {status: "disputed", count: "declared", winners: ["PP53"]});
  probe("stripes", {status: "verified", count: "declared", winners: ["PP53", "PP53", "PP52"], seats: 3});
  probe("uncontested", {status: "verified", count: "declared", winners: ["PP52"], uncontested: true});
  probe("awaiting", {});
  probe("counting", {count: "counting"});
  probe("recount", {count: "recount"});
  probe("recount_with_figures", {status: "provisional", count: "recount", winners: ["PP53"]});
  delete s.wards[b];
  s.notUp.add(b);
  looks.not_up = M.appearance(b);
  const quietCouncil = Array.from(s.councilWards.keys()).find(k => !s.electionCouncils.has(k));
  const quiet = s.councilWards.get(quietCouncil)[0];
  looks.no_election = M.appearance(quiet);
  return looks;
}"""


def test_every_state_of_a_ward_has_its_own_look(page: Page, stack: LiveStack) -> None:
    """Fill = winner's colour; stripes for several parties; provisional, disputed, counting and
    uncontested patterned; recount outlined; wards not up and councils without an election
    as outlines only (the legend says which is which in words)."""
    open_map(page, stack)
    looks = page.evaluate(LOOKS_JS, stack.seeded["wards"])

    assert looks["verified"] == {"key": "#E4003B/", "pattern": False, "fill": True, "fillColor": "#E4003B",
                                 "color": "#ffffff", "dash": None, "weight": 0.5}
    assert looks["provisional"]["pattern"] and looks["provisional"]["key"] == "#E4003B/provisional"
    assert looks["disputed"]["pattern"] and looks["disputed"]["key"] == "#E4003B/disputed"
    assert looks["stripes"]["pattern"] and looks["stripes"]["key"] == "#E4003B|#E4003B|#0087DC/"
    assert looks["uncontested"]["pattern"] and looks["uncontested"]["key"] == "#0087DC/+uncontested"
    assert looks["awaiting"] == {"key": "grey/", "pattern": False, "fill": True, "fillColor": "#c5c5c5",
                                 "color": "#ffffff", "dash": None, "weight": 0.5}
    assert looks["counting"]["pattern"] and looks["counting"]["key"] == "grey/counting"
    assert looks["recount"]["key"] == "grey/counting/recount"
    recount = looks["recount"]
    assert (recount["color"], recount["dash"], recount["weight"]) == ("#b00020", "4 3", 2)
    assert looks["recount_with_figures"]["key"] == "#E4003B/provisional/recount"
    assert looks["not_up"]["key"] == "notup" and looks["not_up"]["style"]["fill"] is False
    assert looks["no_election"]["key"] == "none" and looks["no_election"]["style"]["fill"] is False
    assert looks["not_up"]["style"]["color"] != looks["no_election"]["style"]["color"]
    legend = page.inner_text(".map-legend")
    for words in ("verified", "more than one party", "provisional", "disputed", "uncontested", "awaiting",
                  "counting", "recount", "no election"):
        assert words in legend


def test_pointing_at_a_ward_names_it_and_clicking_opens_its_result(page: Page, stack: LiveStack) -> None:
    open_map(page, stack)
    ward = stack.seeded["wards"][2]  # Castle: verified Conservative
    point = page.evaluate("""(id) => {
      const s = window.ResultsMap.state, map = s.map;
      const p = map.latLngToContainerPoint(window.ResultsMap.wardBounds(String(id)).getCenter());
      const box = map.getContainer().getBoundingClientRect();
      return {x: box.left + p.x, y: box.top + p.y};
    }""", ward)

    page.mouse.move(point["x"], point["y"])
    tooltip = page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    assert "Castle" in tooltip.inner_text() and "Conservative and Unionist Party" in tooltip.inner_text()

    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector(".ward-popup table", timeout=10_000)
    text = page.inner_text(".ward-popup")
    assert text.startswith("Castle") and "Verified" in text and "800" in text
    assert page.evaluate("window.location.hash") == f"#ward={ward}"


EPOCH_JS = """() => {
  const map = window.ResultsMap, s = map.state;
  const [id, other] = Object.keys(s.wards);
  const epoch = s.epoch, stream = s.stream, wards = JSON.parse(JSON.stringify(s.wards));
  const doc = (e, ward) => ({epoch: e, stream: s.streamPosition,
                             wards: Object.assign({}, wards, {[id]: ward})});
  const seen = {epoch: epoch};
  map.applySnapshot(doc(epoch, Object.assign({}, wards[id], {v: 9, winners: ["PP53"]})));
  map.applySnapshot(doc(epoch, Object.assign({}, wards[id], {v: 1, winners: []})));
  seen.sameEpoch = [s.wards[id].v, s.wards[id].winners];
  const back = Object.assign({}, wards[id], {v: 1, winners: []});
  map.applySnapshot({epoch: "another", stream: s.streamPosition, wards: {[id]: back}});
  seen.newEpoch = [s.wards[id].v, s.wards[id].winners, other in s.wards, s.epoch];
  seen.reconnected = s.stream !== null && s.stream !== stream;
  return seen;
}"""


def test_a_new_epoch_replaces_what_the_map_holds_whatever_the_versions(page: Page, stack: LiveStack) -> None:
    """A map left open across a rehearsal's wipe: the wiped night's higher versions must not
    outrank the real night's (docs/live-data.md, ``epoch``). Within one epoch a lower version
    is stale and kept out; a new epoch replaces every ward and follows the stream afresh; a
    day withdrawn altogether (its document gone) leaves nothing on the map."""
    open_map(page, stack)
    seen = page.evaluate(EPOCH_JS)
    assert seen["epoch"]  # the published document carries one
    assert seen["sameEpoch"] == [9, ["PP53"]]
    assert seen["newEpoch"] == [1, [], False, "another"]
    assert seen["reconnected"] is True

    page.route("**/national.json", lambda route: route.fulfill(status=404, body="{}"))
    page.evaluate("window.ResultsMap.refresh()")
    page.wait_for_function("Object.keys(window.ResultsMap.state.wards).length === 0", timeout=5_000)
    assert "No results published for this day yet." in page.inner_text("#map-live")
    assert not page.errors, page.errors

"""The interactive documentation works in a browser with no access to any other site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route
from pytest_django.live_server_helper import LiveServer

from tests.api.conftest import build_night
from tests.support import chromium, free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    live = LiveServer(f"127.0.0.1:{free_port()}")
    try:
        yield live.url
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_the_docs_page_lists_the_api_and_runs_a_request_offline(server: str, browser: Browser) -> None:
    build_night(councils=1, wards=1)
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_this_site(route: Route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto(f"{server}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/results/" in p for p in paths)
    assert any("/api/v1/events/" in p for p in paths)

    operation = page.locator("#operations-parties-parties_list")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=20_000)
    assert status.inner_text().strip().startswith("200")
    assert "PP53" in operation.locator(".live-responses-table .microlight").first.inner_text()
    assert elsewhere == []
    page.close()

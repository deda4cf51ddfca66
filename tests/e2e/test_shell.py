from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_status_indicator_turns_ready(page: Page, server_url: str) -> None:
    page.goto(server_url)
    expect(page.locator("#server-status")).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(page.locator("#server-status .label")).to_have_text("ready")


def test_router_switches_pages_and_marks_the_active_link(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/#/about")
    expect(page.locator("main h1")).to_have_text("About ParaLab")
    page.click("#nav a[data-page=runs]")
    expect(page.locator("main h1")).to_have_text("Runs")
    expect(page.locator("#nav a.active")).to_have_text("Runs")


def test_page_requests_nothing_outside_the_server(page: Page, server_url: str) -> None:
    foreign: list[str] = []
    page.on(
        "request", lambda r: foreign.append(r.url) if not r.url.startswith(server_url) else None
    )
    page.goto(f"{server_url}/#/lab")
    page.wait_for_load_state("networkidle")
    page.goto(f"{server_url}/schema")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".swagger-ui")).to_be_visible()
    assert foreign == []

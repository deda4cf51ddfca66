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


def test_the_api_docs_render_their_operations_under_the_security_policy(
    page: Page, server_url: str
) -> None:
    response = page.goto(f"{server_url}/schema")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 10


def test_every_spa_response_carries_the_security_headers(page: Page, server_url: str) -> None:
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{server_url}/#/lab")
    page.wait_for_load_state("networkidle")
    local = [r for r in responses if r.url.startswith(server_url)]
    assert len(local) >= 5  # the page, its scripts, styles, the API calls
    for response in local:
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], response.url
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["referrer-policy"] == "no-referrer", response.url

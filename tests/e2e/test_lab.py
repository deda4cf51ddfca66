"""The Lab in a real browser: catalog, scenario form, live run view, errors, cancel."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser

FINISHED = "['succeeded', 'failed', 'cancelled', 'timed_out']"


def start_run(page: Page, server_url: str, scenario_id: str, **params: object) -> str:
    """Fill the scenario's form, press Run, and return the new run's id from the URL."""
    page.goto(f"{server_url}/#/lab/{scenario_id}")
    for name, value in params.items():
        page.fill(f"#run-form [name={name}]", str(value))
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*#/run/\w+$"))
    return page.url.rsplit("/", 1)[-1]


def test_catalog_lists_every_thread_section_with_its_scenarios(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/#/lab")
    for section in range(1, 8):
        card = page.locator(f"[data-section=T{section}]")
        expect(card).to_be_visible()
        expect(card.locator("a[data-scenario]")).to_have_count(3)
    page.click("a[data-scenario='T4.2']")
    expect(page).to_have_url(re.compile(r"#/lab/T4\.2$"))
    expect(page.locator("main h1")).to_contain_text("T4.2")


def test_scenario_page_shows_form_with_defaults_and_the_source(page: Page, server_url: str) -> None:
    scenario = httpx.get(f"{server_url}/api/scenarios/T4.2").json()
    page.goto(f"{server_url}/#/lab/T4.2")
    expect(page.locator("main h1")).to_contain_text(scenario["title"])
    expect(page.locator(".observe")).to_contain_text(scenario["observe"])
    for name in ("seed", "time_scale"):
        field = page.locator(f"#run-form input[name={name}]")
        expect(field).to_have_attribute("type", "number")
        expect(field).to_have_value(str(scenario["defaults"][name]))
    maximum = scenario["params_schema"]["properties"]["seed"]["maximum"]
    expect(page.locator("#run-form input[name=seed]")).to_have_attribute("max", str(maximum))
    first_source_line = scenario["source"].strip().splitlines()[0]
    expect(page.locator("pre#source")).to_contain_text(first_source_line)


def test_lanes_appear_while_the_run_is_still_running(page: Page, server_url: str) -> None:
    start_run(page, server_url, "T4.1", threads=9, time_scale=0.1)
    # Both conditions hold at one moment: all ten lanes are drawn and the run is not over.
    page.wait_for_function(
        """() => document.querySelectorAll('#timeline [data-lane]').length === 10
                 && document.querySelector('#run-status').dataset.status === 'running'""",
        timeout=20_000,
    )
    expect(page.locator("#cancel-run")).to_be_enabled()
    expect(page.locator("[data-lane='main']")).to_be_visible()
    expect(page.locator("[data-lane='Thread#1']")).to_be_visible()

    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=30_000)
    expect(page.locator("#cancel-run")).to_be_disabled()
    lines = page.locator("#console .console-line")
    expect(lines).to_have_count(19)  # 9 x (running, over) + the total time
    expect(lines.filter(has_text="Thread#1 running")).to_have_count(1)
    expect(lines.last).to_contain_text("total time")
    expect(page.locator("[data-lane='Thread#9']")).to_have_attribute("data-state", "ended")

    with page.expect_download() as download:
        page.click("#download-trace")
    trace = json.loads(Path(download.value.path()).read_text())
    assert trace["traceEvents"]


def test_out_of_range_parameter_shows_the_api_message(page: Page, server_url: str) -> None:
    rejected = httpx.post(
        f"{server_url}/api/runs", json={"scenario_id": "T4.1", "params": {"threads": 99}}
    )
    assert rejected.status_code == 422
    page.goto(f"{server_url}/#/lab/T4.1")
    page.fill("#run-form [name=threads]", "99")
    page.click("#run-button")
    expect(page.locator(".form-error")).to_have_text(rejected.json()["detail"])
    expect(page.locator("#run-form [name=threads]")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"#/lab/T4\.1$"))
    expect(page.locator("#run-button")).to_be_enabled()


def test_cancel_stops_a_long_run(page: Page, server_url: str) -> None:
    run_id = start_run(page, server_url, "T3.1", time_scale=1)
    expect(page.locator("#run-status")).to_have_text("running", timeout=20_000)
    expect(page.locator("[data-lane='Thread#1']")).to_be_visible()
    page.click("#cancel-run")
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=20_000)
    expect(page.locator("#cancel-run")).to_be_disabled()
    expect(page.locator(".run-message")).to_have_text("Cancelled on request.")
    assert httpx.get(f"{server_url}/api/runs/{run_id}").json()["status"] == "cancelled"


def finished_run(server_url: str, scenario_id: str) -> str:
    run = httpx.post(f"{server_url}/api/runs", json={"scenario_id": scenario_id, "params": {}})
    run.raise_for_status()
    run_id: str = run.json()["id"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{server_url}/api/runs/{run_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"{scenario_id} did not finish"
        time.sleep(0.2)
    return run_id


def test_runs_page_filters_by_status_and_scenario(page: Page, server_url: str) -> None:
    succeeded = finished_run(server_url, "T1.1")
    failed = finished_run(server_url, "X1.1")  # detects its deadlock and raises
    page.goto(f"{server_url}/#/runs")
    expect(page.locator(f"tr[data-run='{succeeded}']")).to_be_visible()
    expect(page.locator(f"tr[data-run='{failed}']")).to_be_visible()

    page.select_option("#filter-status", "failed")
    expect(page.locator(f"tr[data-run='{succeeded}']")).to_have_count(0)
    expect(page.locator(f"tr[data-run='{failed}'] .badge")).to_have_text("failed")
    expect(page.locator("tr[data-run] .badge").filter(has_not_text="failed")).to_have_count(0)

    page.select_option("#filter-status", "")
    page.select_option("#filter-scenario", "T1.1")
    expect(page.locator(f"tr[data-run='{failed}']")).to_have_count(0)
    page.click(f"tr[data-run='{succeeded}']")
    expect(page).to_have_url(re.compile(f"#/run/{succeeded}$"))
    expect(page.locator("#run-status")).to_have_text("succeeded")


def test_dropped_socket_reconnects_without_losing_or_repeating_events(
    page: Page, server_url: str
) -> None:
    urls: list[str] = []

    def drop_the_first_connection(ws: WebSocketRoute) -> None:
        urls.append(ws.url)
        server = ws.connect_to_server()
        if len(urls) > 1:
            return
        frames = [0]

        def forward_then_drop(message: str | bytes) -> None:
            ws.send(message)
            frames[0] += 1
            if frames[0] == 3:
                ws.close(code=4000, reason="network hiccup")
                server.close()

        server.on_message(forward_then_drop)

    page.route_web_socket(re.compile(r".*/ws/runs/.*"), drop_the_first_connection)
    run_id = start_run(page, server_url, "T4.1", threads=9, time_scale=0.1)
    page.wait_for_function(
        f"() => {FINISHED}.includes(document.querySelector('#run-status')?.dataset.status)",
        timeout=40_000,
    )
    expect(page.locator("#run-status")).to_have_text("succeeded")
    assert len(urls) >= 2
    resumed = re.search(r"from_seq=(\d+)", urls[1])
    assert resumed is not None
    assert int(resumed.group(1)) > 1

    stored = httpx.get(f"{server_url}/api/runs/{run_id}").json()["output"]
    shown = page.locator("#console .console-line").evaluate_all(
        "rows => rows.map(row => Number(row.dataset.seq))"
    )
    assert shown == [line["seq"] for line in stored]

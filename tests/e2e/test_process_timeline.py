"""The run view of a run of three processes, each with a thread named "Thread-1": the real
run page and Timeline, fed a hand-made event stream through routed API and WebSocket."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Event,
    ProcessExit,
    ProcessSpawn,
    ProcessStop,
    SharedMemoryOp,
    Wait,
)

pytestmark = pytest.mark.browser

RUN_ID = "procdemo"
MS = 1_000_000
PIPELINE: dict[str, Any] = {"pid": 4100, "tid": 4100, "actor": "pipeline"}
RENDERER: dict[str, Any] = {"pid": 4200, "tid": 4200, "actor": "renderer"}
WATCHDOG: dict[str, Any] = {"pid": 4300, "tid": 4300, "actor": "watchdog"}
FRAME: dict[str, Any] = {
    "segment": "psm_procdemo_frame",
    "size": 6_220_800,
    "array": "uint8[1080, 1920, 3]",
}


def thread_1(pid: int) -> dict[str, Any]:
    return {"pid": pid, "tid": pid + 1, "actor": "Thread-1"}


def stream() -> list[Event]:
    """pipeline (spawned by the run's main process, not shown) starts renderer with spawn
    (84 ms of start-up) and a daemon watchdog with fork; it terminates renderer, and its own
    exit kills the daemon."""
    events: list[Event] = [
        ActorStart(t_ns=0, kind="process", parent="MainProcess", start_method="spawn", **PIPELINE),
        SharedMemoryOp(t_ns=1 * MS, op="create", **FRAME, **PIPELINE),
        ActorStart(t_ns=2 * MS, kind="thread", parent="pipeline", **thread_1(4100)),
        Wait(t_ns=3 * MS, primitive="queue", obj="jobs", value=0, **thread_1(4100)),
        ProcessSpawn(
            t_ns=5 * MS, child="renderer", child_pid=4200, start_method="spawn", **PIPELINE
        ),
        ProcessSpawn(
            t_ns=6 * MS,
            child="watchdog",
            child_pid=4300,
            start_method="fork",
            daemon=True,
            **PIPELINE,
        ),
        ActorStart(
            t_ns=7_200_000,
            kind="process",
            daemon=True,
            parent="pipeline",
            start_method="fork",
            **WATCHDOG,
        ),
        ActorStart(t_ns=8 * MS, kind="thread", daemon=True, parent="watchdog", **thread_1(4300)),
        Wait(t_ns=9 * MS, primitive="sleep", obj="5.000s", **thread_1(4300)),
        ActorStart(
            t_ns=89 * MS, kind="process", parent="pipeline", start_method="spawn", **RENDERER
        ),
        SharedMemoryOp(t_ns=90 * MS, op="attach", **FRAME, **RENDERER),
        ActorStart(t_ns=91 * MS, kind="thread", parent="renderer", **thread_1(4200)),
        Wait(t_ns=92 * MS, primitive="sleep", obj="1.000s", **thread_1(4200)),
        Acquired(t_ns=95 * MS, primitive="queue", obj="jobs", value=0, **thread_1(4100)),
        ActorEnd(t_ns=120 * MS, kind="thread", exit_code=0, **thread_1(4100)),
        ProcessStop(
            t_ns=150 * MS,
            child="renderer",
            child_pid=4200,
            signal="SIGTERM",
            reason="terminate",
            **PIPELINE,
        ),
        ProcessExit(t_ns=152 * MS, child="renderer", child_pid=4200, exit_code=-15, **PIPELINE),
        SharedMemoryOp(t_ns=170 * MS, op="unlink", **FRAME, **PIPELINE),
        ActorEnd(t_ns=180 * MS, kind="process", exit_code=0, **PIPELINE),
        ProcessStop(
            t_ns=181 * MS,
            child="watchdog",
            child_pid=4300,
            signal="SIGTERM",
            reason="parent_exit",
            **PIPELINE,
        ),
        ProcessExit(t_ns=182 * MS, child="watchdog", child_pid=4300, exit_code=-15, **PIPELINE),
    ]
    return [msgspec.structs.replace(event, seq=seq) for seq, event in enumerate(events, 1)]


def as_json(events: list[Event]) -> list[dict[str, Any]]:
    return [json.loads(msgspec.json.encode(event)) for event in events]


def open_run_view(page: Page, server_url: str, events: list[dict[str, Any]]) -> None:
    run = {
        "id": RUN_ID,
        "scenario_id": "P9.9",
        "params": {},
        "status": "succeeded",
        "created_at": "2026-12-01T10:00:00Z",
        "started_at": "2026-12-01T10:00:00Z",
        "finished_at": "2026-12-01T10:00:01Z",
        "duration_s": 0.2,
        "error": "",
        "exit_code": 0,
        "last_seq": len(events),
        "output": [],
        "output_total": 0,
        "metrics": [],
    }

    def replay(ws: WebSocketRoute) -> None:
        ws.send(json.dumps({"type": "events", "events": events}))
        ws.send(json.dumps({"type": "end", "status": "succeeded", "last_seq": len(events)}))
        ws.close(code=1000)

    page.route(re.compile(rf".*/api/runs/{RUN_ID}$"), lambda route: route.fulfill(json=run))
    page.route(
        re.compile(r".*/api/scenarios/P9\.9$"),
        lambda route: route.fulfill(json={"id": "P9.9", "title": "Three processes"}),
    )
    page.route_web_socket(re.compile(rf".*/ws/runs/{RUN_ID}.*"), replay)
    page.goto(f"{server_url}/#/run/{RUN_ID}")


def hover_until(page: Page, row: Locator, text: str, from_right: bool = False) -> str:
    """Move along a lane's row on the canvas until the tooltip shows ``text``."""
    row.scroll_into_view_if_needed()
    canvas = page.locator("#timeline canvas").bounding_box()
    box = row.bounding_box()
    assert canvas
    assert box
    y = box["y"] + box["height"] / 2
    xs = range(1, int(canvas["width"]), 2)
    tooltip = page.locator("#timeline .tl-tooltip")
    for x in reversed(xs) if from_right else xs:
        page.mouse.move(canvas["x"] + x, y)
        if tooltip.is_visible() and text in (shown := tooltip.inner_text()):
            return shown
    raise AssertionError(f"no point of the row shows {text!r}")


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)])
def test_three_processes_are_three_groups_of_their_own_lanes(
    page: Page, server_url: str, width: int, height: int
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": width, "height": height})
    open_run_view(page, server_url, as_json(stream()))

    headers = page.locator("#timeline .tl-group")
    expect(headers).to_have_count(3)
    names = headers.locator(".tl-group-name").all_inner_texts()
    pids = headers.locator(".tl-group-pid").all_inner_texts()
    assert list(zip(names, pids, strict=True)) == [
        ("pipeline", "pid 4100"),
        ("renderer", "pid 4200"),
        ("watchdog", "pid 4300"),
    ]
    # Six lanes: the "Thread-1" of each process is its own, under its own header.
    lanes = page.locator("#timeline [data-lane]")
    expect(lanes).to_have_count(6)
    order = lanes.evaluate_all("labels => labels.map(l => `${l.dataset.pid}/${l.dataset.lane}`)")
    assert order == [
        "4100/pipeline",
        "4100/Thread-1",
        "4200/renderer",
        "4200/Thread-1",
        "4300/watchdog",
        "4300/Thread-1",
    ]
    for header, first_lane in zip(headers.all(), lanes.all()[::2], strict=True):
        header_box, lane_box = header.bounding_box(), first_lane.bounding_box()
        assert header_box
        assert lane_box
        assert header_box["y"] + header_box["height"] <= lane_box["y"] + 0.5  # lanes below it
    for header in headers.all():  # no header is cut off at the right or overflows the card
        assert header.evaluate("el => el.scrollWidth <= el.clientWidth + 1")

    # What each header says: start method, daemon, parent, how it ended.
    renderer = page.locator("#timeline .tl-group[data-process='4200']")
    watchdog = page.locator("#timeline .tl-group[data-process='4300']")
    pipeline = page.locator("#timeline .tl-group[data-process='4100']")
    expect(renderer).to_have_attribute("data-state", "killed")
    expect(renderer.locator(".tl-group-status")).to_have_text(
        "killed by terminate() · exit -15 (SIGTERM)"
    )
    expect(renderer).to_have_attribute(
        "title", re.compile(r"spawn \(start-up 84\.0 ms\) · parent pipeline")
    )
    expect(watchdog).to_have_attribute("data-state", "killed")
    expect(watchdog.locator(".tl-group-status")).to_have_text(
        "killed at parent exit (daemon) · exit -15 (SIGTERM)"
    )
    expect(watchdog).to_have_attribute("title", re.compile(r"fork \(start-up 1\.20 ms\) · daemon"))
    expect(pipeline).to_have_attribute("data-state", "ended")
    expect(pipeline).to_have_attribute("title", re.compile(r"parent MainProcess"))
    # Killed lanes are marked; pipeline's own lanes ended normally.
    killed = page.locator("#timeline [data-lane][data-state=killed]")
    assert killed.evaluate_all(
        "ls => ls.map(l => `${l.dataset.pid}/${l.dataset.lane}=${l.dataset.killed}`)"
    ) == [
        "4200/renderer=terminate",
        "4200/Thread-1=terminate",
        "4300/watchdog=parent_exit",
        "4300/Thread-1=parent_exit",
    ]
    expect(page.locator("#timeline [data-pid='4100'][data-state=ended]")).to_have_count(2)
    legend = page.locator("#timeline .tl-legend li:visible")
    expect(legend.filter(has_text="process start-up")).to_have_count(1)
    expect(legend.filter(has_text="shared memory")).to_have_count(1)

    page.screenshot(path=f"/tmp/process-timeline-{width}x{height}.png", full_page=True)

    renderer_lane = page.locator("#timeline [data-pid='4200'][data-lane='renderer']")
    shown = hover_until(page, renderer_lane, "start-up")
    assert "spawn start-up: 84.0 ms · 5.00 ms → 89.0 ms" in shown
    tooltip = page.locator("#timeline .tl-tooltip").bounding_box()
    assert tooltip
    assert tooltip["x"] >= 0
    assert tooltip["x"] + tooltip["width"] <= width
    if width == 1400:
        page.screenshot(path="/tmp/process-timeline-hover-starting.png")
    shown = hover_until(page, renderer_lane, "killed by terminate()", from_right=True)
    assert "152 ms" in shown or "152.0 ms" in shown
    assert "exit -15 (SIGTERM)" in shown
    watchdog_thread = page.locator("#timeline [data-pid='4300'][data-lane='Thread-1']")
    shown = hover_until(page, watchdog_thread, "killed at parent exit", from_right=True)
    assert "exit -15 (SIGTERM)" in shown
    pipeline_lane = page.locator("#timeline [data-pid='4100'][data-lane='pipeline']")
    assert "create psm_procdemo_frame uint8[1080, 1920, 3]" in hover_until(
        page, pipeline_lane, "create"
    )
    assert errors == []


def test_a_run_of_one_process_has_no_process_headers(page: Page, server_url: str) -> None:
    who: dict[str, Any] = {"pid": 100, "tid": 100, "actor": "main"}
    worker: dict[str, Any] = {"pid": 100, "tid": 101, "actor": "Thread-1"}
    events: list[Event] = [
        ActorStart(t_ns=0, kind="main", **who),
        ActorStart(t_ns=1 * MS, kind="thread", parent="main", **worker),
        ActorEnd(t_ns=5 * MS, kind="thread", exit_code=0, **worker),
        ActorEnd(t_ns=6 * MS, kind="main", exit_code=0, **who),
    ]
    numbered = [msgspec.structs.replace(event, seq=seq) for seq, event in enumerate(events, 1)]
    open_run_view(page, server_url, as_json(numbered))
    expect(page.locator("#timeline [data-lane]")).to_have_count(2)
    expect(page.locator("#timeline .tl-group")).to_have_count(0)
    expect(page.locator("#timeline .tl-legend li:visible")).to_have_count(9)
    stripes = page.locator("#timeline [data-lane]").evaluate_all(
        "ls => ls.map(l => getComputedStyle(l).backgroundColor)"
    )
    assert stripes[0] != stripes[1]  # alternate rows, as before


def test_a_daemon_stopped_at_parent_exit_and_never_seen_again_is_killed_at_the_end(
    page: Page, server_url: str
) -> None:
    events = stream()[:-1]  # the watchdog's process_exit never came
    assert isinstance(stream()[-1], ProcessExit)
    open_run_view(page, server_url, as_json(events))
    watchdog = page.locator("#timeline .tl-group[data-process='4300']")
    expect(watchdog.locator(".tl-group-status")).to_have_text(
        "killed at parent exit (daemon) · exit not seen"
    )
    killed = page.locator("#timeline [data-pid='4300'][data-killed=parent_exit]")
    expect(killed).to_have_count(2)
    lane = page.locator("#timeline [data-pid='4300'][data-lane='watchdog']")
    shown = hover_until(page, lane, "killed at parent exit", from_right=True)
    assert "exit not seen" in shown

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    GaveUp,
    ProcessExit,
    ProcessSpawn,
    ProcessStop,
    Released,
    RunLifecycle,
    Wait,
)
from paralab.runs.records import Run
from paralab.runs.trace import chrome_trace_chunks
from tests.api.runs_client import start, wait_until_final


def trace_of(client: TestClient[Litestar], scenario_id: str, **params: Any) -> dict[str, Any]:
    run = wait_until_final(client, start(client, scenario_id, **params)["id"])
    response = client.get(f"/api/runs/{run['id']}/trace")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    document: dict[str, Any] = json.loads(response.content)
    return document


def test_trace_names_every_thread_and_the_process(client: TestClient[Litestar]) -> None:
    trace = trace_of(client, "X1.2", threads=3, increments=2, use_lock=True)
    events = trace["traceEvents"]
    thread_names = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {"main", "worker-0", "worker-1", "worker-2"} <= thread_names
    assert any(e["name"] == "process_name" for e in events)
    named_tids = {e["tid"] for e in events if e["name"] == "thread_name"}
    assert {e["tid"] for e in events if e["ph"] == "X"} <= named_tids


def test_lock_hold_slices_never_overlap(client: TestClient[Litestar]) -> None:
    trace = trace_of(client, "X1.2", threads=4, increments=5, use_lock=True)
    holds = sorted(
        (e["ts"], e["ts"] + e["dur"]) for e in trace["traceEvents"] if e["name"] == "hold counter"
    )
    assert len(holds) == 20
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(holds))


def test_slices_nest_within_their_thread_lifetime(client: TestClient[Litestar]) -> None:
    trace = trace_of(client, "X1.2", threads=2, increments=3, use_lock=True)
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    alive = {e["tid"]: (e["ts"], e["ts"] + e["dur"]) for e in slices if e["cat"] == "running"}
    for e in slices:
        start_us, end_us = alive[e["tid"]]
        assert start_us <= e["ts"]
        assert e["ts"] + e["dur"] <= end_us + 1e-3


def test_output_and_lifecycle_become_instants(client: TestClient[Litestar]) -> None:
    trace = trace_of(client, "T1.1", threads=2)
    instants = [e for e in trace["traceEvents"] if e["ph"] == "i"]
    assert {"run queued", "run running", "run succeeded"} <= {e["name"] for e in instants}
    assert sum(e["cat"] == "output" for e in instants) == 2


def trace_document(run: Run, events: list[Any], page_size: int = 2) -> dict[str, Any]:
    pages = [events[i : i + page_size] for i in range(0, len(events), page_size)]
    document: dict[str, Any] = json.loads(b"".join(chrome_trace_chunks(run, pages)))
    return document


def test_a_wait_given_up_is_a_closed_slice_not_an_unfinished_one() -> None:
    who: dict[str, Any] = {"pid": 7, "tid": 70, "actor": "worker"}
    events = [
        ActorStart(t_ns=0, kind="thread", **who),
        Wait(t_ns=1_000, primitive="lock", obj="door", **who),
        GaveUp(t_ns=5_000, primitive="lock", obj="door", reason="timeout", **who),
        ActorEnd(t_ns=9_000, kind="thread", **who),
    ]
    run = Run(
        id="r", scenario_id="T4.1", params={}, status="succeeded", created_at=datetime.now(UTC)
    )
    slices = [e for e in trace_document(run, events)["traceEvents"] if e["ph"] == "X"]
    waits = [e for e in slices if e["cat"] == "blocked"]
    assert [(e["ts"], e["dur"], e["args"]["gave_up"]) for e in waits] == [(1.0, 4.0, "timeout")]
    assert not [e for e in slices if e["args"].get("unfinished")]


def test_a_semaphore_acquired_as_a_signal_is_an_instant_not_an_endless_hold() -> None:
    consumer: dict[str, Any] = {"pid": 7, "tid": 71, "actor": "consumer"}
    producer: dict[str, Any] = {"pid": 7, "tid": 72, "actor": "producer"}
    events = [
        ActorStart(t_ns=0, kind="thread", **consumer),
        ActorStart(t_ns=0, kind="thread", **producer),
        Acquired(t_ns=1_000, primitive="semaphore", obj="items", value=0, **consumer),
        ActorEnd(t_ns=2_000, kind="thread", **consumer),
        Released(t_ns=5_000, primitive="semaphore", obj="items", value=1, **producer),
        ActorEnd(t_ns=9_000, kind="thread", **producer),
    ]
    run = Run(
        id="r", scenario_id="T6.1", params={}, status="succeeded", created_at=datetime.now(UTC)
    )
    trace = trace_document(run, events)["traceEvents"]
    assert not [
        e
        for e in trace
        if e["ph"] == "X" and (e["cat"] == "holding" or e["args"].get("unfinished"))
    ]
    instants = {(e["tid"], e["name"]) for e in trace if e["ph"] == "i"}
    assert {(71, "acquire semaphore items"), (72, "release semaphore items")} <= instants


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_the_streamed_document_is_the_same_whatever_the_page_size(page_size: int) -> None:
    who: dict[str, Any] = {"pid": 7, "tid": 70, "actor": "worker"}
    events = [
        ActorStart(t_ns=0, kind="thread", **who),
        Wait(t_ns=1_000, primitive="lock", obj="door", **who),
        Acquired(t_ns=2_000, primitive="lock", obj="door", **who),
        Released(t_ns=3_000, primitive="lock", obj="door", **who),
        ActorEnd(t_ns=9_000, kind="thread", **who),
    ]
    run = Run(
        id="r", scenario_id="T4.1", params={}, status="succeeded", created_at=datetime.now(UTC)
    )
    document = trace_document(run, events, page_size)
    assert document == trace_document(run, events, len(events))  # one page
    names = [e["name"] for e in document["traceEvents"]]
    assert names.count("hold door") == 1
    assert names.count("wait lock door") == 1
    assert "thread_name" in names


def test_a_run_with_only_lifecycle_events_is_valid_json() -> None:
    # A run cancelled while queued: no thread ever ran.
    events = [
        RunLifecycle(t_ns=0, pid=1, tid=0, actor="run", status="queued"),
        RunLifecycle(t_ns=0, pid=1, tid=0, actor="run", status="cancelled"),
    ]
    run = Run(
        id="r", scenario_id="T1.1", params={}, status="cancelled", created_at=datetime.now(UTC)
    )
    for page_size in (1, 2):
        trace = trace_document(run, events, page_size)["traceEvents"]
        assert [e["name"] for e in trace] == ["run queued", "run cancelled"]
    assert trace_document(run, [])["traceEvents"] == []


def test_each_process_is_a_track_named_after_it_with_its_threads_inside() -> None:
    main: dict[str, Any] = {"pid": 100, "tid": 100, "actor": "main"}
    worker: dict[str, Any] = {"pid": 200, "tid": 200, "actor": "worker"}
    events = [
        ActorStart(t_ns=0, kind="main", **main),
        # The fork child's own events arrive first: it is still sorted after its parent.
        ActorStart(t_ns=2_000, kind="process", parent="MainProcess", start_method="fork", **worker),
        ActorStart(t_ns=3_000, pid=200, tid=201, actor="Thread-1", kind="thread"),
        ProcessSpawn(t_ns=1_000, child="worker", child_pid=200, start_method="fork", **main),
        ProcessSpawn(t_ns=900, child="slow", child_pid=300, start_method="spawn", **main),
        ProcessStop(
            t_ns=5_000, child="slow", child_pid=300, signal="SIGTERM", reason="terminate", **main
        ),
        ProcessExit(t_ns=6_000, child="slow", child_pid=300, exit_code=-15, **main),
        ProcessStop(
            t_ns=7_000, child="worker", child_pid=200, signal="SIGKILL", reason="kill", **main
        ),
        ProcessExit(t_ns=8_000, child="worker", child_pid=200, exit_code=-9, **main),
        ActorEnd(t_ns=9_000, kind="main", exit_code=0, **main),
    ]
    run = Run(
        id="r", scenario_id="P1.1", params={}, status="succeeded", created_at=datetime.now(UTC)
    )
    trace = trace_document(run, events)["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in trace if e["name"] == "process_name"}
    assert names == {100: "P1.1 pid 100", 200: "worker (pid 200)", 300: "slow (pid 300)"}
    order = {e["pid"]: e["args"]["sort_index"] for e in trace if e["name"] == "process_sort_index"}
    assert order == {100: 0, 300: 1, 200: 2}  # siblings in the order they were started
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace if e["name"] == "thread_name"}
    assert threads == {
        (100, 100): "main",
        (200, 200): "worker",
        (200, 201): "Thread-1",
        (300, 300): "slow",
    }
    slices = {(e["tid"], e["name"]): e for e in trace if e["ph"] == "X"}
    startup = slices[(200, "fork start-up")]
    assert (startup["ts"], startup["dur"], startup["args"]) == (1.0, 1.0, {"start_method": "fork"})
    assert slices[(300, "spawn start-up (killed: terminate)")]["args"] == {
        "start_method": "spawn",
        "exit_code": -15,
        "killed_by": "terminate",
    }
    assert slices[(201, "Thread-1 (killed: kill)")]["args"] == {
        "exit_code": -9,
        "killed_by": "kill",
    }
    instants = {e["name"]: e for e in trace if e["ph"] == "i"}
    assert instants["terminate slow"]["args"]["signal"] == "SIGTERM"
    assert instants["worker killed by SIGKILL (-9)"]["tid"] == 100

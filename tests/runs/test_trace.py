from __future__ import annotations

import itertools
import json
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.test_runs import start, wait_until_final


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
    alive = {e["tid"]: (e["ts"], e["ts"] + e["dur"]) for e in slices if e["cat"] == "actor"}
    for e in slices:
        start_us, end_us = alive[e["tid"]]
        assert start_us <= e["ts"]
        assert e["ts"] + e["dur"] <= end_us + 1e-3


def test_output_and_lifecycle_become_instants(client: TestClient[Litestar]) -> None:
    trace = trace_of(client, "T1.1", threads=2)
    instants = [e for e in trace["traceEvents"] if e["ph"] == "i"]
    assert {"run queued", "run running", "run succeeded"} <= {e["name"] for e in instants}
    assert sum(e["cat"] == "output" for e in instants) == 2

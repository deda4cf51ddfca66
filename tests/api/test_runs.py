from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.lab.events import ActorStart, Output, json_encoder
from paralab.runs.records import Run
from paralab.runs.store import RunStore, now
from paralab.settings import Settings
from tests.api.runs_client import start, wait_until_final
from tests.clients import local_client


def test_catalog_lists_scenarios_with_ids_and_sections(client: TestClient[Litestar]) -> None:
    scenarios = client.get("/api/scenarios").json()
    ids = [s["id"] for s in scenarios]
    assert "T1.1" in ids
    assert all(s["section"] == s["id"].split(".")[0] for s in scenarios)


def test_scenario_detail_has_bounded_schema_defaults_and_source(
    client: TestClient[Litestar],
) -> None:
    detail = client.get("/api/scenarios/T1.1").json()
    properties = detail["params_schema"]["properties"]
    assert {"seed", "time_scale"} <= set(properties)
    assert properties["time_scale"]["minimum"] > 0
    assert detail["defaults"]["seed"] == 0
    assert "def " in detail["source"]


def test_a_run_goes_queued_running_succeeded_with_output(client: TestClient[Litestar]) -> None:
    created = start(client, "T1.1", threads=3)
    assert created["status"] == "queued"
    run = wait_until_final(client, created["id"])
    assert run["status"] == "succeeded"
    assert [line["line"] for line in run["output"]] == [
        f"my_func called by thread N°{i}" for i in range(3)
    ]
    events = client.get(f"/api/runs/{created['id']}/events").json()["events"]
    statuses = [e["status"] for e in events if e["type"] == "run"]
    assert statuses == ["queued", "running", "succeeded"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_events_page_continues_from_next_seq(client: TestClient[Litestar]) -> None:
    run = wait_until_final(client, start(client, "T1.1", threads=2)["id"])
    first = client.get(f"/api/runs/{run['id']}/events", params={"limit": 4}).json()
    rest = client.get(
        f"/api/runs/{run['id']}/events", params={"from_seq": first["next_seq"]}
    ).json()
    seqs = [e["seq"] for e in first["events"] + rest["events"]]
    assert seqs == list(range(1, run["last_seq"] + 1))


def test_failed_run_stores_the_traceback(client: TestClient[Litestar]) -> None:
    run = wait_until_final(client, start(client, "X1.1")["id"])
    assert run["status"] == "failed"
    assert "RuntimeError: deadlock detected" in run["error"]


def test_cancel_stops_a_running_run(client: TestClient[Litestar]) -> None:
    created = start(client, "X1.1", detect=False)
    while client.get(f"/api/runs/{created['id']}").json()["status"] == "queued":
        time.sleep(0.02)
    assert client.post(f"/api/runs/{created['id']}/cancel").status_code == 202
    run = wait_until_final(client, created["id"])
    assert run["status"] == "cancelled"
    again = client.post(f"/api/runs/{created['id']}/cancel")
    assert again.status_code == 409


def test_history_filters_by_scenario_and_status(client: TestClient[Litestar]) -> None:
    wait_until_final(client, start(client, "T1.1", threads=1)["id"])
    wait_until_final(client, start(client, "X1.1")["id"])
    page = client.get("/api/runs", params={"status": "failed"}).json()
    assert page["total"] == 1
    assert page["items"][0]["scenario_id"] == "X1.1"
    page = client.get("/api/runs", params={"scenario_id": "T1.1"}).json()
    assert [r["status"] for r in page["items"]] == ["succeeded"]


def test_full_queue_answers_429_and_creates_nothing(tmp_path: Path) -> None:
    settings = Settings().replace(
        data_dir=tmp_path, models_dir=tmp_path / "none", max_concurrent_runs=1, run_queue_size=1
    )
    with local_client(create_app(settings)) as client:
        first = start(client, "X1.1", detect=False)
        second = start(client, "X1.1", detect=False)
        refused = client.post("/api/runs", json={"scenario_id": "T1.1", "params": {}})
        assert refused.status_code == 429
        assert refused.headers["retry-after"]
        assert refused.json()["error"] == "too_many_requests"
        assert client.get("/api/runs").json()["total"] == 2
        # a queued run cancels at once, without ever starting
        client.post(f"/api/runs/{second['id']}/cancel")
        cancelled = wait_until_final(client, second["id"])
        assert cancelled["status"] == "cancelled"
        assert cancelled["started_at"] is None
        client.post(f"/api/runs/{first['id']}/cancel")
        wait_until_final(client, first["id"])


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        ({"scenario_id": "T9.9"}, 404, "not_found"),
        ({"scenario_id": "T1.1", "params": {"threads": 0}}, 422, "invalid_input"),
        ({"scenario_id": "T1.1", "params": {"threads": 1000}}, 422, "invalid_input"),
        ({"scenario_id": "T1.1", "params": {"time_scale": -1}}, 422, "invalid_input"),
        ({"scenario_id": "T1.1", "params": {"bogus": 1}}, 422, "invalid_input"),
        ({"scenario_id": "T1.1", "params": {"threads": "x"}}, 422, "invalid_input"),
        ({"params": {}}, 400, "validation_error"),
        ({"scenario_id": "T1.1", "code": "import os"}, 400, "validation_error"),
    ],
)
def test_bad_run_requests_get_a_clear_4xx_and_change_nothing(
    client: TestClient[Litestar], payload: dict[str, Any], status: int, error: str
) -> None:
    response = client.post("/api/runs", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert client.get("/api/runs").json()["total"] == 0


def test_malformed_json_body_is_400(client: TestClient[Litestar]) -> None:
    response = client.post(
        "/api/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert client.get("/api/runs").json()["total"] == 0


def test_oversized_body_is_413(tmp_path: Path) -> None:
    with local_client(
        create_app(
            Settings().replace(data_dir=tmp_path, models_dir=tmp_path / "none", max_body_bytes=1024)
        )
    ) as client:
        padding = "x" * 2048
        response = client.post(
            "/api/runs", json={"scenario_id": "T1.1", "params": {"pad": padding}}
        )
        assert response.status_code == 413
        assert response.json()["status_code"] == 413
        assert client.get("/api/runs").json()["total"] == 0


@pytest.mark.parametrize(
    "path", ["/api/runs/nope", "/api/runs/nope/events", "/api/runs/nope/trace"]
)
def test_unknown_run_is_404(client: TestClient[Litestar], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_finished_runs_survive_a_restart_and_unfinished_ones_are_marked(tmp_path: Path) -> None:
    settings = Settings().replace(data_dir=tmp_path, models_dir=tmp_path / "none")
    with local_client(create_app(settings)) as client:
        done = wait_until_final(client, start(client, "T1.1", threads=2)["id"])
        before = client.get(f"/api/runs/{done['id']}/events").json()["events"]
    with local_client(create_app(settings)) as client:
        after = client.get(f"/api/runs/{done['id']}/events").json()["events"]
        assert after == before
        assert client.get(f"/api/runs/{done['id']}").json()["output"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/runs", {"offset": str(2**70)}),
        ("/api/runs", {"limit": "1000"}),
        ("/api/runs", {"status": "sleeping"}),
        ("/api/runs/x/events", {"from_seq": "1e20"}),
        ("/api/runs/x/events", {"from_seq": str(2**70)}),
        ("/api/runs/x/events", {"from_seq": "0"}),
    ],
)
def test_out_of_range_query_values_are_400(
    client: TestClient[Litestar], path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_a_run_left_running_by_a_crash_is_failed_at_its_last_moment(tmp_path: Path) -> None:
    settings = Settings().replace(data_dir=tmp_path, models_dir=tmp_path / "none")
    store = RunStore(settings.server.data_dir / "runs.sqlite3")
    crashed = Run(
        id="crashed", scenario_id="T4.1", params={}, status="running", created_at=now(), last_seq=2
    )
    store.insert_run(crashed)
    store.append_events(
        "crashed",
        1,
        [
            json_encoder.encode(
                ActorStart(t_ns=10, pid=1, tid=1, actor="main", kind="main", seq=1)
            ),
            json_encoder.encode(
                Output(t_ns=2_000_000_000, pid=1, tid=1, actor="main", line="x", seq=2)
            ),
        ],
    )
    store.close()
    with local_client(create_app(settings)) as client:
        run = client.get("/api/runs/crashed").json()
        events = client.get("/api/runs/crashed/events").json()["events"]
    assert run["status"] == "failed"
    assert "server stopped" in run["error"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[-1]["type"] == "run"
    assert events[-1]["t_ns"] >= events[-2]["t_ns"]


def test_deeply_nested_json_is_a_400_not_a_crash(client: TestClient[Litestar]) -> None:
    nested = "[" * 5000 + "]" * 5000
    body = f'{{"scenario_id": "T4.2", "params": {{"a": {nested}}}}}'
    response = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_run_detail_carries_the_last_output_lines_and_the_total(
    client: TestClient[Litestar],
) -> None:
    run = wait_until_final(client, start(client, "C1.2", rate=2000, seconds=0.75)["id"])
    assert run["status"] == "succeeded"
    assert run["output_total"] == 1500
    ticks = [int(line["line"].split()[1]) for line in run["output"]]
    assert ticks == list(range(500, 1500))


def test_an_empty_body_is_a_400_that_says_a_body_is_needed(client: TestClient[Litestar]) -> None:
    response = client.post("/api/runs", content=b"", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"] == "The request needs a JSON body."

"""The WebSocket event stream: replay + live, late join, resume, bad messages."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from tests.api.runs_client import start, wait_until_final

LONG_RUN = {"threads": 4, "increments": 60, "time_scale": 1.0}


def read_until_end(ws: WebSocketTestSession) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "end":
            return events, frame
        if frame["type"] == "events":
            events.extend(frame["events"])


def assert_continuous(events: list[dict[str, Any]], first: int, last: int) -> None:
    assert [e["seq"] for e in events] == list(range(first, last + 1))


def test_live_client_gets_replay_then_live_then_end_and_close(
    client: TestClient[Litestar],
) -> None:
    run = start(client, "X1.2", **LONG_RUN)
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        events, end = read_until_end(ws)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1000
    assert end["status"] == "succeeded"
    assert_continuous(events, 1, end["last_seq"])
    assert events[-1] == {**events[-1], "type": "run", "status": "succeeded"}
    stored = client.get(f"/api/runs/{run['id']}/events", params={"limit": 10_000}).json()
    assert stored["events"] == events


def test_live_frames_carry_several_events(client: TestClient[Litestar]) -> None:
    run = start(client, "X1.2", threads=8, increments=100, time_scale=0.01)
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        sizes = []
        while (frame := ws.receive_json())["type"] != "end":
            sizes.append(len(frame["events"]))
    assert max(sizes) > 1


def test_late_joiner_gets_the_whole_run(client: TestClient[Litestar]) -> None:
    run = wait_until_final(client, start(client, "T1.1", threads=3)["id"])
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        events, end = read_until_end(ws)
    assert end == {"type": "end", "status": "succeeded", "last_seq": run["last_seq"]}
    assert_continuous(events, 1, run["last_seq"])


def test_reconnect_from_a_sequence_number_loses_and_repeats_nothing(
    client: TestClient[Litestar],
) -> None:
    run = start(client, "X1.2", **LONG_RUN)
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        first_part = ws.receive_json()["events"]
    resume_at = first_part[-1]["seq"] + 1
    with client.websocket_connect(f"/ws/runs/{run['id']}?from_seq={resume_at}") as ws:
        rest, end = read_until_end(ws)
    assert_continuous(first_part + rest, 1, end["last_seq"])


def test_two_clients_see_the_same_stream(client: TestClient[Litestar]) -> None:
    run = start(client, "X1.2", **LONG_RUN)
    path = f"/ws/runs/{run['id']}"
    with client.websocket_connect(path) as one, client.websocket_connect(path) as two:
        events_one, _ = read_until_end(one)
        events_two, _ = read_until_end(two)
    assert events_one == events_two


@pytest.mark.parametrize("message", ["not json", '{"type": "subscribe"}', "[1, 2]", '{"x": 1}'])
def test_malformed_message_gets_an_error_frame_and_the_socket_stays_usable(
    client: TestClient[Litestar], message: str
) -> None:
    run = start(client, "X1.2", **LONG_RUN)
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        ws.send_text(message)
        ws.send_json({"type": "ping"})
        frames = []
        while (frame := ws.receive_json())["type"] != "end":
            frames.append(frame)
    kinds = [f["type"] for f in frames]
    assert "error" in kinds
    assert "pong" in kinds
    assert kinds.index("error") < kinds.index("pong")
    error = next(f for f in frames if f["type"] == "error")
    assert error["error"] == "bad_message"
    events = [e for f in frames if f["type"] == "events" for e in f["events"]]
    assert events[-1]["status"] == "succeeded"


def test_unknown_run_closes_with_4404(client: TestClient[Litestar]) -> None:
    with (
        client.websocket_connect("/ws/runs/nope") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4404


def test_bad_from_seq_closes_with_4400(client: TestClient[Litestar]) -> None:
    run = wait_until_final(client, start(client, "T1.1", threads=1)["id"])
    with (
        client.websocket_connect(f"/ws/runs/{run['id']}?from_seq=0") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4400


@pytest.mark.parametrize("from_seq", ["abc", "-3", str(2**70)])
def test_unparsable_from_seq_closes_with_4400(client: TestClient[Litestar], from_seq: str) -> None:
    run = wait_until_final(client, start(client, "T1.1", threads=1)["id"])
    with (
        client.websocket_connect(f"/ws/runs/{run['id']}?from_seq={from_seq}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4400


def test_a_client_leaving_during_a_quiet_run_is_let_go_at_once(
    client: TestClient[Litestar],
) -> None:
    import time

    run = start(client, "X1.1", detect=False)  # deadlocked: no events for a long time
    fanout = client.app.state.services.runs.fanout
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        ws.receive_json()
        assert fanout.subscriber_count(run["id"]) == 1
    deadline = time.monotonic() + 5
    while fanout.subscriber_count(run["id"]):
        assert time.monotonic() < deadline, "the subscriber outlived its client"
        time.sleep(0.02)
    client.post(f"/api/runs/{run['id']}/cancel")
    assert wait_until_final(client, run["id"])["status"] == "cancelled"

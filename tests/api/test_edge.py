"""The edge every request passes: hosts, origins, content types, paths, HEAD, request
ids, security headers, and internal errors logged with their traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.settings import Settings
from tests.clients import LOCAL_URL as LOCAL
from tests.clients import local_client

FOREIGN = "http://evil.example"
RUN = {"scenario_id": "T1.1", "params": {"time_scale": 0.01}}


@pytest.fixture
def edge_client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings().replace(
        data_dir=tmp_path / "var",
        models_dir=tmp_path / "no-models",
        allowed_hosts=["paralab.example"],
        allowed_origins=["https://teacher.example"],
    )
    with local_client(create_app(settings)) as client:
        yield client


def run_count(client: TestClient[Litestar]) -> int:
    return int(client.get("/api/runs").json()["total"])


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "", "a b"])
def test_a_host_outside_the_allow_list_is_refused(
    edge_client: TestClient[Litestar], host: str
) -> None:
    response = edge_client.get("/api/scenarios", headers={"Host": host})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_host"
    assert response.headers["content-security-policy"]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "[::1]:9000", "paralab.example"])
def test_loopback_names_and_allowed_hosts_are_served(
    edge_client: TestClient[Litestar], host: str
) -> None:
    assert edge_client.get("/api/scenarios", headers={"Host": host}).status_code == 200


def test_a_cross_site_post_changes_nothing(edge_client: TestClient[Litestar]) -> None:
    created = edge_client.post("/api/runs", json=RUN).json()
    before = run_count(edge_client)
    for headers in ({"Origin": FOREIGN}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        started = edge_client.post("/api/runs", json=RUN, headers=headers)
        assert started.status_code == 403, headers
        assert started.json()["error"] == "cross_origin"
        cancelled = edge_client.post(f"/api/runs/{created['id']}/cancel", headers=headers)
        assert cancelled.status_code == 403
        predicted = edge_client.post(
            "/api/models/cifar10-cnn/predict",
            files={"file": ("x.png", b"\x89PNG\r\n\x1a\n", "image/png")},
            headers=headers,
        )
        assert predicted.status_code == 403
    assert run_count(edge_client) == before
    # A cross-site page reading data is the browser's business (CORS): GET is answered.
    assert edge_client.get("/api/runs", headers={"Origin": FOREIGN}).status_code == 200


def test_the_own_origin_and_allowed_origins_may_change_state(
    edge_client: TestClient[Litestar],
) -> None:
    for origin in (LOCAL, "https://teacher.example"):
        response = edge_client.post("/api/runs", json=RUN, headers={"Origin": origin})
        assert response.status_code == 201, origin


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=x"]
)
def test_runs_take_json_only(edge_client: TestClient[Litestar], content_type: str) -> None:
    before = run_count(edge_client)
    response = edge_client.post(
        "/api/runs", content=b'{"scenario_id": "T1.1"}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert run_count(edge_client) == before


def test_a_websocket_from_a_foreign_origin_is_refused(edge_client: TestClient[Litestar]) -> None:
    run_id = edge_client.post("/api/runs", json=RUN).json()["id"]
    refused = edge_client.websocket_connect(f"/ws/runs/{run_id}", headers={"Origin": FOREIGN})
    with pytest.raises(WebSocketDisconnect) as closed, refused as ws:
        ws.receive_json()
    assert closed.value.code == 1008
    assert "not allowed" in str(closed.value.detail)
    with edge_client.websocket_connect(f"/ws/runs/{run_id}", headers={"Origin": LOCAL}) as ws:
        assert ws.receive_json()["type"] in ("events", "end")


@pytest.mark.parametrize("path", ["/index.html%00", "/api/runs/%00", "/%0d%0aSet-Cookie:x"])
def test_paths_with_control_characters_are_a_400(
    edge_client: TestClient[Litestar], path: str
) -> None:
    response = edge_client.get(path)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_path"


@pytest.mark.parametrize("path", ["/", "/index.html", "/api/scenarios", "/health/live", "/schema"])
def test_head_answers_wherever_get_does(edge_client: TestClient[Litestar], path: str) -> None:
    got = edge_client.get(path)
    head = edge_client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_every_answer_carries_security_headers_and_a_request_id(
    edge_client: TestClient[Litestar],
) -> None:
    for path in ("/", "/app.js", "/api/scenarios", "/api/nothing-here", "/schema"):
        headers = edge_client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy, path
        assert "frame-ancestors 'none'" in policy, path
        assert "'unsafe-inline'" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert len(headers["x-request-id"]) == 16
    mine = edge_client.get("/api/nothing-here", headers={"X-Request-ID": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    assert mine.json()["request_id"] == "trace-42"
    hostile = edge_client.get("/", headers={"X-Request-ID": "a\tb" * 40})
    assert hostile.headers["x-request-id"] != "a\tb" * 40


def test_an_internal_error_is_logged_with_its_traceback_and_request_id(
    edge_client: TestClient[Litestar],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = edge_client.app.state.services.runs

    def broken(**_: object) -> object:
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(runs, "list_runs", broken)
    with caplog.at_level(logging.ERROR, logger="paralab.api"):
        response = edge_client.get("/api/runs")
    assert response.status_code == 500
    body = response.json()
    request_id = response.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert request_id in body["detail"]
    [record] = [r for r in caplog.records if r.name == "paralab.api"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert "the store fell over" in str(record.exc_info[1])

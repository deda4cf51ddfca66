"""Start runs and wait for them through the HTTP API of a TestClient."""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

FINAL = {"succeeded", "failed", "cancelled", "timed_out"}


def wait_until_final(
    client: TestClient[Litestar], run_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in FINAL:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def start(client: TestClient[Litestar], scenario_id: str, **params: Any) -> dict[str, Any]:
    response = client.post("/api/runs", json={"scenario_id": scenario_id, "params": params})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body

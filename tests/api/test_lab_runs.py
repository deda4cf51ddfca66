"""Labs through the API: the server's array limit, labelled results, and the files a run
saves, served back (and nothing else)."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.settings import Settings
from tests.api.runs_client import start, wait_until_final
from tests.clients import local_client

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_an_array_above_the_server_limit_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    settings = Settings().replace(data_dir=tmp_path, models_dir=tmp_path / "none", max_array_mib=8)
    with local_client(create_app(settings)) as client:
        response = client.post(
            "/api/runs", json={"scenario_id": "L3.1", "params": {"array_mib": 16}}
        )
        assert response.status_code == 422
        assert "PARALAB_MAX_ARRAY_MIB" in response.json()["detail"]
        assert client.get("/api/runs").json()["total"] == 0


def test_a_lab_sweep_reports_labelled_points(client: TestClient[Litestar]) -> None:
    run = start(client, "L1.1", sweep=True, workers=2, repeat=1)
    assert wait_until_final(client, run["id"], timeout=120)["status"] == "succeeded"
    metrics = client.get(f"/api/runs/{run['id']}").json()["metrics"]
    speedups = {
        (m["labels"]["mode"], m["labels"]["workers"]) for m in metrics if m["name"] == "speedup"
    }
    assert speedups == {("sequential", "1"), ("processes", "1"), ("processes", "2")}
    [fit] = [m for m in metrics if m["name"] == "serial_fraction"]
    assert 0 <= fit["value"] <= 1
    assert fit["labels"] == {"mode": "processes"}


def test_the_pictures_a_lab_saves_are_served_and_nothing_else_is(
    client: TestClient[Litestar],
) -> None:
    run = start(client, "L2.2", mode="processes", workers=2, width=320)
    assert wait_until_final(client, run["id"], timeout=120)["status"] == "succeeded"
    events = client.get(f"/api/runs/{run['id']}/events", params={"limit": 10_000}).json()
    artifacts = [e for e in events["events"] if e["type"] == "artifact"]
    assert artifacts
    for artifact in artifacts:
        response = client.get(f"/api/runs/{run['id']}/artifacts/{artifact['name']}")
        assert response.status_code == 200
        assert response.headers["content-type"] == artifact["media_type"] == "image/png"
        assert response.content.startswith(PNG_SIGNATURE)
        assert len(response.content) == artifact["size"]
    for name in ("nope.png", "..%2F..%2Frun.sqlite3", ".hidden", "a" * 200):
        assert client.get(f"/api/runs/{run['id']}/artifacts/{name}").status_code == 404
    assert client.get(f"/api/runs/unknown/artifacts/{artifacts[0]['name']}").status_code == 404

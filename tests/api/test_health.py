from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.health import CheckResult, Readiness
from paralab.settings import Settings
from tests.clients import local_client


def test_live_answers_ok(client: TestClient[Litestar]) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_every_check_once_started(client: TestClient[Litestar]) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"]["run_store"]["ready"] is True


def test_ready_is_503_when_a_check_fails(settings: Settings) -> None:
    app = create_app(settings)
    with local_client(app) as client:
        app.state.services.readiness.register("models", lambda: CheckResult(False, "loading"))
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["models"] == {"ready": False, "detail": "loading"}


def test_readiness_with_no_checks_is_not_ready() -> None:
    assert Readiness().report().ready is False

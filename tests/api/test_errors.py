from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.clients import local_client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/does-not-exist", 404),
        ("POST", "/health/live", 405),
    ],
)
def test_http_errors_use_the_error_shape(
    client: TestClient[Litestar], method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"status_code", "error", "detail", "extra", "request_id"}
    assert body["status_code"] == status
    assert body["detail"]


def test_a_recursion_error_of_our_own_is_a_500_not_a_client_error() -> None:
    from litestar import get

    from paralab.api.errors import EXCEPTION_HANDLERS

    def recurse(n: int) -> int:
        return recurse(n + 1) + 1

    @get("/recurse")
    async def handler() -> int:
        return recurse(0)

    app = Litestar([handler], exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]
    with local_client(app) as client:
        response = client.get("/recurse")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"


@pytest.mark.parametrize("path", ["/api/scenarios/{id}", "/api/runs/{id}", "/api/models/{id}"])
def test_a_huge_unknown_id_is_not_echoed_back_in_full(
    client: TestClient[Litestar], path: str
) -> None:
    response = client.get(path.format(id="x" * 20_000))
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.startswith("Unknown")
    assert len(detail) <= 502

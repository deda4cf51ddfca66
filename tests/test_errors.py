from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient


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
    assert set(body) == {"status_code", "error", "detail", "extra"}
    assert body["status_code"] == status
    assert body["detail"]

"""The in-process test client, addressed as a browser on this machine would: the app
answers only its allowed hosts (Litestar's default ``testserver.local`` is not one)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

LOCAL_URL = "http://127.0.0.1:8000"


def local_client(app: Litestar, **options: Any) -> TestClient[Litestar]:
    return TestClient(app, base_url=LOCAL_URL, **options)

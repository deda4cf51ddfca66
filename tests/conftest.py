from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.settings import Settings
from tests.clients import local_client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest and need everything else to work."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings().replace(data_dir=tmp_path / "var", models_dir=tmp_path / "no-models")


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with local_client(app) as client:
        yield client

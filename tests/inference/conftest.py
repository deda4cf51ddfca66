from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.settings import Settings
from tests.clients import local_client
from tests.inference.uploads import wait_ready

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real Keras + LiteRT models with known answers, built in a separate process."""
    out = tmp_path_factory.mktemp("models")
    subprocess.run([sys.executable, str(HERE / "tiny_models.py"), str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def model_client(
    tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Litestar]]:
    settings = Settings().replace(
        data_dir=tmp_path_factory.mktemp("var"),
        models_dir=tiny_models_dir,
        inference_workers=1,
        max_body_bytes=2 * 1024 * 1024,
        max_image_pixels=4_000_000,
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        yield client

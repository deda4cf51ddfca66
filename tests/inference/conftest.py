from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.app import create_app
from paralab.settings import Settings

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real Keras + LiteRT models with known answers, built in a separate process."""
    out = tmp_path_factory.mktemp("models")
    subprocess.run([sys.executable, str(HERE / "tiny_models.py"), str(out)], check=True)
    return out


def wait_ready(client: TestClient[Litestar], timeout_s: float = 180) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/health/ready").status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"not ready: {client.get('/health/ready').json()}")


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
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Image.Image:
    return Image.new("RGB", size, colour)


def halves(
    left: tuple[int, int, int], right: tuple[int, int, int], size: tuple[int, int]
) -> Image.Image:
    width, height = size
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[:, : width // 2] = left
    array[:, width // 2 :] = right
    return Image.fromarray(array)

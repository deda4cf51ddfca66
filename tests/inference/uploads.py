"""Images to upload, and waiting for a server's models to load."""

from __future__ import annotations

import io
import time

import numpy as np
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image


def wait_ready(client: TestClient[Litestar], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/health/ready").status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"not ready: {client.get('/health/ready').json()}")


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

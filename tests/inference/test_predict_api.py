"""Predict through the real pool with tiny real models whose answers are known."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.settings import REPO_ROOT
from tests.inference.uploads import encode, halves, solid

RED, GREEN, BLUE = (230, 20, 20), (20, 230, 20), (20, 20, 230)
VARIANTS = ["keras", "tflite-fp16", "tflite-int8"]


def decode_png(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_models_are_listed_and_described(model_client: TestClient[Litestar]) -> None:
    names = {m["name"] for m in model_client.get("/api/models").json()}
    assert names == {"colour-cnn", "colour-fcn"}
    meta = model_client.get("/api/models/colour-cnn").json()
    assert meta["classes"] == ["red", "green", "blue"]
    assert set(meta["variants"]) == set(VARIANTS)
    assert meta["inputs"][0]["datatype"] == "BYTES"
    assert meta["ready"] is True


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("colour", "label"), [(RED, "red"), (GREEN, "green"), (BLUE, "blue")])
def test_classifier_names_the_dominant_colour(
    model_client: TestClient[Litestar], variant: str, colour: tuple[int, int, int], label: str
) -> None:
    response = model_client.post(
        "/api/models/colour-cnn/predict",
        params={"variant": variant},
        files={"file": ("x.png", encode(solid(colour)), "image/png")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "colour-cnn"
    assert body["label"] == label
    assert body["scores"][0]["label"] == label
    scores = [s["score"] for s in body["scores"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_segmenter_mask_is_right_at_the_uploaded_size(
    model_client: TestClient[Litestar], variant: str
) -> None:
    image = halves(RED, GREEN, size=(64, 48))
    response = model_client.post(
        "/api/models/colour-fcn/predict",
        params={"variant": variant},
        content=encode(image),
        headers={"content-type": "image/png"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (64, 48)
    assert body["classes"] == ["pet", "background", "border"]
    assert set(body["palette"]) == set(body["classes"])
    mask = decode_png(body["mask_png"])
    assert mask.mode == "L"
    assert mask.size == (64, 48)
    pixels = np.asarray(mask)
    assert (pixels[:, :30] == 0).all()  # red half -> pet
    assert (pixels[:, 34:] == 1).all()  # green half -> background
    assert body["class_fractions"]["pet"] == pytest.approx(0.5, abs=0.05)
    assert body["class_fractions"]["border"] == pytest.approx(0.0, abs=0.01)
    overlay = decode_png(body["overlay_png"])
    assert overlay.size == (64, 48)
    assert overlay.mode == "RGB"


def test_concurrent_requests_share_batches(model_client: TestClient[Litestar]) -> None:
    import concurrent.futures

    payload = encode(solid(BLUE))

    def call(_: int) -> str:
        response = model_client.post(
            "/api/models/colour-cnn/predict", content=payload, headers={"content-type": "image/png"}
        )
        label: str = response.json()["label"]
        return label

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        labels = list(pool.map(call, range(64)))
    assert labels == ["blue"] * 64
    metrics = model_client.get("/metrics").text
    assert (
        'paralab_inference_requests_total{model="colour-cnn",status="200",variant="keras"}'
        in metrics
    )
    assert "paralab_inference_batch_size_bucket" in metrics


SERVE_ONE_REQUEST = """
import sys
from pathlib import Path
from typing import Any
from tests.clients import local_client
from paralab.app import create_app
from paralab.settings import Settings
from paralab.settings import REPO_ROOT
from tests.inference.uploads import encode, solid, wait_ready

settings = Settings().replace(
    data_dir=Path(sys.argv[1]), models_dir=Path(sys.argv[2]), inference_workers=1
)
with local_client(create_app(settings)) as client:
    wait_ready(client)
    answer = client.post("/api/models/colour-cnn/predict", content=encode(solid((230, 20, 20))))
    assert answer.json()["label"] == "red", answer.text
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_the_web_process_never_imports_tensorflow(tiny_models_dir: Path, tmp_path: Path) -> None:
    # In a fresh interpreter: this test process has imported TensorFlow for other tests.
    result = subprocess.run(
        [sys.executable, "-c", SERVE_ONE_REQUEST, str(tmp_path), str(tiny_models_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/models/nope/predict", {}, 404),
        ("/api/models/colour-cnn/predict", {"variant": "onnx"}, 400),
    ],
)
def test_unknown_model_or_variant(
    model_client: TestClient[Litestar], path: str, params: dict[str, str], status: int
) -> None:
    response = model_client.post(path, params=params, content=encode(solid(RED)))
    assert response.status_code == status
    assert response.json()["status_code"] == status


def requests_counted(client: TestClient[Litestar], status: int) -> float:
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    line = (
        f'paralab_inference_requests_total{{model="colour-cnn",status="{status}",variant="keras"}}'
    )
    values = [float(row.split()[-1]) for row in metrics.text.splitlines() if row.startswith(line)]
    return values[0] if values else 0.0


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        (lambda limit: {"files": {"image": ("x.png", b"png?", "image/png")}}, 422),
        (lambda limit: {"content": b"\xff" * (limit + 1)}, 413),
        (lambda limit: {"content": b"not an image"}, 415),
    ],
    ids=["no-file-field", "too-large", "not-an-image"],
)
def test_refused_uploads_are_counted_by_status(
    model_client: TestClient[Litestar],
    request_kwargs: Callable[[int], dict[str, Any]],
    status: int,
) -> None:
    limit = model_client.app.state.settings.server.max_body_bytes
    before = requests_counted(model_client, status)
    response = model_client.post("/api/models/colour-cnn/predict", **request_kwargs(limit))
    assert response.status_code == status
    assert requests_counted(model_client, status) == before + 1
    if status == 413:
        assert f"{limit:,} bytes" in response.json()["detail"]

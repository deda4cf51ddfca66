"""The models in models/ through the real serving path, on held-out images they never saw."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.app import create_app
from paralab.settings import REPO_ROOT, Settings
from tests.clients import local_client
from tests.inference.uploads import wait_ready

FIXTURES = REPO_ROOT / "tests" / "fixtures"
CIFAR_IMAGES = sorted((FIXTURES / "cifar10").glob("*.jpg"))
PET_IMAGES = sorted((FIXTURES / "pets").glob("*.jpg"))
VARIANTS = ["keras", "tflite-fp16", "tflite-int8"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Litestar]]:
    settings = Settings().replace(data_dir=tmp_path_factory.mktemp("var"), inference_workers=1)
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        yield client


def predict(
    client: TestClient[Litestar], model: str, path: Path, variant: str
) -> dict[str, object]:
    response = client.post(
        f"/api/models/{model}/predict",
        params={"variant": variant},
        files={"file": (path.name, path.read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("variant", VARIANTS)
def test_cifar_classifier_names_held_out_images(
    shipped: TestClient[Litestar], variant: str
) -> None:
    expected = [path.name.split("-")[0] for path in CIFAR_IMAGES]
    labels = [predict(shipped, "cifar10-cnn", path, variant)["label"] for path in CIFAR_IMAGES]
    correct = sum(label == truth for label, truth in zip(labels, expected, strict=True))
    assert correct >= 0.8 * len(CIFAR_IMAGES), list(zip(expected, labels, strict=True))


def pet_iou(mask: np.ndarray, trimap: np.ndarray) -> float:
    predicted, truth = mask == 0, trimap == 1
    return float((predicted & truth).sum() / (predicted | truth).sum())


@pytest.mark.parametrize("variant", VARIANTS)
def test_pet_segmenter_finds_the_pets(shipped: TestClient[Litestar], variant: str) -> None:
    ious = {}
    for photo in PET_IMAGES:
        body = predict(shipped, "oxford-pets-fcn", photo, variant)
        mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(str(body["mask_png"])))))
        trimap = np.asarray(Image.open(photo.with_suffix(".trimap.png")))
        assert mask.shape == trimap.shape
        ious[photo.stem] = pet_iou(mask, trimap)
    # The model's held-out pet IoU is 0.82; single photos vary around it.
    assert min(ious.values()) >= 0.75, ious
    assert sum(ious.values()) / len(ious) >= 0.80, ious


def test_manifests_match_the_shipped_files(shipped: TestClient[Litestar]) -> None:
    import hashlib

    for name in ("cifar10-cnn", "oxford-pets-fcn"):
        meta = shipped.get(f"/api/models/{name}").json()
        for variant, entry in meta["variants"].items():
            data = (REPO_ROOT / "models" / name / entry["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], (name, variant)
            assert len(data) == entry["bytes"]


def upscaled(path: Path, factor: int, fmt: str) -> bytes:
    image = Image.open(path).convert("RGB")
    large = image.resize((image.width * factor, image.height * factor), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    large.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_predictions_stay_right_for_images_decoded_reduced(
    shipped: TestClient[Litestar], fmt: str
) -> None:
    # 32 -> 1024 px: 4x the CNN's keep size (8x its input), so decoded reduced (JPEG at
    # 1/4 scale, PNG reduced 4x); 500 -> 3000 px pets: reduced 2x for the segmenter.
    expected = [path.name.split("-")[0] for path in CIFAR_IMAGES]
    labels = []
    for path in CIFAR_IMAGES:
        response = shipped.post("/api/models/cifar10-cnn/predict", content=upscaled(path, 32, fmt))
        assert response.status_code == 200, response.text
        labels.append(response.json()["label"])
    correct = sum(label == truth for label, truth in zip(labels, expected, strict=True))
    assert correct >= 0.8 * len(CIFAR_IMAGES), list(zip(expected, labels, strict=True))
    ious = {}
    for photo in PET_IMAGES:
        response = shipped.post(
            "/api/models/oxford-pets-fcn/predict", content=upscaled(photo, 6, fmt)
        )
        assert response.status_code == 200, response.text
        mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["mask_png"]))))
        trimap = Image.open(photo.with_suffix(".trimap.png"))
        big_trimap = trimap.resize((trimap.width * 6, trimap.height * 6), Image.Resampling.NEAREST)
        assert mask.shape == (big_trimap.height, big_trimap.width)
        ious[photo.stem] = pet_iou(mask, np.asarray(big_trimap))
    assert min(ious.values()) >= 0.75, ious
    assert sum(ious.values()) / len(ious) >= 0.80, ious

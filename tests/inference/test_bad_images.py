"""Hostile and unusual uploads: a clear 4xx naming the problem, or a correct answer."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.inference.images import decode_rgb
from tests.inference.uploads import encode, halves, solid

RED, GREEN = (230, 20, 20), (20, 230, 20)


def predict(client: TestClient[Litestar], model: str, data: bytes) -> tuple[int, dict[str, object]]:
    response = client.post(
        f"/api/models/{model}/predict", files={"file": ("upload", data, "application/octet-stream")}
    )
    return response.status_code, response.json()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def noisy(size: tuple[int, int] = (64, 64)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (b"", 400, "empty_body"),
        (b"hello, I am not an image", 415, "not_an_image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n", 415, "not_an_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422, "corrupt_image"),
        (truncated(encode(noisy(), "JPEG")), 422, "corrupt_image"),
        (truncated(encode(noisy(), "PNG")), 422, "corrupt_image"),
        (encode(Image.new("L", (5000, 5000))), 413, "image_too_large"),  # 25 Mpx in ~25 kB
        (encode(Image.new("L", (30000, 2))), 413, "image_too_large"),
    ],
    ids=[
        "empty",
        "text",
        "eps",
        "png-header-only",
        "truncated-jpeg",
        "truncated-png",
        "bomb",
        "huge-side",
    ],
)
def test_bad_images_get_a_clear_4xx(
    model_client: TestClient[Litestar], data: bytes, status: int, error: str
) -> None:
    code, body = predict(model_client, "colour-cnn", data)
    assert code == status, body
    assert body["error"] == error
    assert body["detail"]


def test_oversized_body_is_413_before_any_decoding(model_client: TestClient[Litestar]) -> None:
    limit = model_client.app.state.settings.server.max_body_bytes
    response = model_client.post(
        "/api/models/colour-cnn/predict",
        content=b"\xff" * (limit + 1),
        headers={"content-type": "image/jpeg"},
    )
    assert response.status_code == 413
    assert response.json()["status_code"] == 413


def test_multipart_without_a_file_field_is_rejected(model_client: TestClient[Litestar]) -> None:
    response = model_client.post(
        "/api/models/colour-cnn/predict",
        files={"image": ("x.png", encode(solid(RED)), "image/png")},
    )
    assert response.status_code == 422
    assert "file" in response.json()["detail"]


def cmyk_red() -> bytes:
    return encode(solid(RED).convert("CMYK"), "JPEG", quality=95)


def sixteen_bit_grey() -> bytes:
    array = np.full((30, 40), 40000, dtype=np.uint16)
    return encode(Image.fromarray(array))


def palette_red() -> bytes:
    return encode(solid(RED).convert("P", palette=Image.Palette.ADAPTIVE, colors=4))


def rgba_red() -> bytes:
    image = solid(RED).convert("RGBA")
    return encode(image)


def transparent_over_white_is_white() -> bytes:
    return encode(Image.new("RGBA", (40, 30), (0, 200, 0, 0)))


def gif_red_then_green() -> bytes:
    frames = [solid(RED).convert("P"), solid(GREEN).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (cmyk_red(), "red"),
        (palette_red(), "red"),
        (rgba_red(), "red"),
        (gif_red_then_green(), "red"),  # the first frame of an animation
        (encode(solid(GREEN), "WEBP"), "green"),
        (encode(solid(GREEN), "BMP"), "green"),
        (encode(solid(RED), "TIFF"), "red"),
    ],
    ids=["cmyk-jpeg", "palette", "rgba", "animated-gif", "webp", "bmp", "tiff"],
)
def test_unusual_modes_and_formats_are_converted_and_classified(
    model_client: TestClient[Litestar], data: bytes, label: str
) -> None:
    code, body = predict(model_client, "colour-cnn", data)
    assert code == 200, body
    assert body["label"] == label


@pytest.mark.parametrize(
    "data",
    [sixteen_bit_grey(), encode(solid(RED).convert("L")), transparent_over_white_is_white()],
    ids=["16-bit", "grayscale", "transparent"],
)
def test_colourless_images_give_equal_scores(
    model_client: TestClient[Litestar], data: bytes
) -> None:
    code, body = predict(model_client, "colour-cnn", data)
    assert code == 200, body
    scores = [s["score"] for s in body["scores"]]  # type: ignore[attr-defined]
    assert max(scores) - min(scores) < 0.01


@pytest.mark.parametrize("level", [0, 3, 100, 200, 255])
def test_a_16_bit_image_decodes_like_its_8_bit_twin(level: int) -> None:
    eight = Image.new("L", (8, 6), level)
    sixteen = Image.fromarray(np.full((6, 8), level * 257, dtype=np.uint16))
    assert np.array_equal(
        np.asarray(decode_rgb(encode(sixteen), 10_000)),
        np.asarray(decode_rgb(encode(eight), 10_000)),
    )


def mask_of(body: dict[str, object]) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(str(body["mask_png"])))))


@pytest.mark.parametrize(
    ("orientation", "size", "left_class", "right_class"),
    [
        (1, (64, 48), 0, 1),  # as stored: red (pet) left, green (background) right
        (3, (64, 48), 1, 0),  # rotated 180 degrees: green left, red right
        (6, (48, 64), None, None),  # rotated 90 degrees: the halves become top and bottom
    ],
)
def test_exif_orientation_is_respected(
    model_client: TestClient[Litestar],
    orientation: int,
    size: tuple[int, int],
    left_class: int | None,
    right_class: int | None,
) -> None:
    image = halves(RED, GREEN, size=(64, 48))
    exif = Image.Exif()
    exif[0x0112] = orientation
    code, body = predict(model_client, "colour-fcn", encode(image, "JPEG", quality=95, exif=exif))
    assert code == 200, body
    assert (body["width"], body["height"]) == size
    mask = mask_of(body)
    assert mask.shape == (size[1], size[0])
    if left_class is not None:
        assert (mask[:, :28] == left_class).all()
        assert (mask[:, 36:] == right_class).all()
    else:
        top, bottom = mask[:28], mask[36:]
        assert len(np.unique(top)) == 1
        assert len(np.unique(bottom)) == 1
        assert {int(top[0, 0]), int(bottom[0, 0])} == {0, 1}


def test_bad_input_changes_nothing(model_client: TestClient[Litestar]) -> None:
    before = predict(model_client, "colour-cnn", encode(solid(RED)))
    for data in (b"", b"junk", truncated(encode(noisy(), "PNG"))):
        predict(model_client, "colour-cnn", data)
    after = predict(model_client, "colour-cnn", encode(solid(RED)))
    assert before == after
    assert model_client.get("/health/ready").status_code == 200

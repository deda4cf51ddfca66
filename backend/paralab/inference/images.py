"""Decode and validate uploaded images (runs in pool workers, never in the web process)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 20_000
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
"""The formats we decode. Pillow would otherwise try every plugin it has (EPS, for one,
runs Ghostscript on the upload)."""
SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"RIFF",
    b"II*\x00",
    b"MM\x00*",
)


@dataclass(frozen=True)
class ImageError(Exception):
    """A request-level problem with the image, with the HTTP status it deserves."""

    status_code: int
    error: str
    detail: str


def decode_rgb(data: bytes, max_pixels: int) -> Image.Image:
    """Bytes -> an upright RGB image, or ``ImageError`` naming the problem.

    Animated images give their first frame; EXIF orientation is applied; palette,
    grayscale, 16-bit, CMYK and alpha images are converted (alpha over white).
    """
    if not data:
        raise ImageError(400, "empty_body", "The request has no image data.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            _check_size(image.size, max_pixels)
            image.seek(0)
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            413, "image_too_large", f"The image has more than {max_pixels:,} pixels."
        ) from None
    except UnidentifiedImageError:
        if data.startswith(SIGNATURES):
            raise ImageError(
                422, "corrupt_image", "The image is damaged: its header is unreadable."
            ) from None
        raise ImageError(
            415,
            "not_an_image",
            f"The data is not an image in a format we read ({', '.join(FORMATS)}).",
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(422, "corrupt_image", f"The image could not be decoded: {exc}.") from None
    image = ImageOps.exif_transpose(image)
    return _to_rgb(image)


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(422, "corrupt_image", f"The image has no pixels ({width}x{height}).")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
        raise ImageError(
            413,
            "image_too_large",
            f"The image is {width}x{height}; the limit is {max_pixels:,} pixels "
            f"and {MAX_SIDE:,} per side.",
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit samples: 65535 is white, as 255 is in 8 bits (257 = 65535 / 255).
        array = np.clip(np.asarray(image, dtype=np.float64), 0, 65535)
        image = Image.fromarray(np.round(array / 257).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def to_model_input(image: Image.Image, height: int, width: int) -> NDArray[np.float32]:
    """Resize (bilinear, no crop) to the model's input; raw 0..255 float32 RGB."""
    resized = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)

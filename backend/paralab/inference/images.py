"""Decode and validate uploaded images (in pool workers; the web process only reads
headers, with ``decoded_pixels``, to budget the batches)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image, UnidentifiedImageError

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

TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation -> the transpose that makes the image upright (as ImageOps does)."""
SWAPS_AXES = (5, 6, 7, 8)


@dataclass(frozen=True)
class Decoded:
    image: Image.Image
    """Upright RGB, possibly reduced."""
    size: tuple[int, int]
    """The upright size of the uploaded image, before any reduction."""


@dataclass(frozen=True)
class ImageError(Exception):
    """A request-level problem with the image, with the HTTP status it deserves."""

    status_code: int
    error: str
    detail: str


def decode_rgb(data: bytes, max_pixels: int) -> Image.Image:
    """Bytes -> an upright RGB image at full size, or ``ImageError`` naming the problem."""
    return decode(data, max_pixels).image


def decode(data: bytes, max_pixels: int, keep: tuple[int, int] | None = None) -> Decoded:
    """Bytes -> an upright RGB image, or ``ImageError`` naming the problem.

    Animated images give their first frame; EXIF orientation is applied; palette,
    grayscale, 16-bit, CMYK and alpha images are converted (alpha over white).
    With ``keep`` (width, height), an image at least twice that on an axis is reduced
    by a whole factor on that axis, never below ``keep``: JPEGs decode reduced (DCT
    scaling), other formats decode at full size and are reduced before anything else.
    """
    if not data:
        raise ImageError(400, "empty_body", "The request has no image data.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            _check_size(image.size, max_pixels)
            image.seek(0)
            size = image.size
            if keep is not None:
                keep = _stored(keep, _orientation(image))
                _draft(image, keep)
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
    orientation = _orientation(image)
    if keep is not None:
        image = _reduce(image, keep)
    method = TRANSPOSE.get(orientation)
    if method is not None:
        image = image.transpose(method)
        size = size[::-1] if orientation in SWAPS_AXES else size
    return Decoded(_to_rgb(image), size)


def decoded_pixels(data: bytes, keep: tuple[int, int]) -> int:
    """How many pixels ``decode(data, ..., keep)`` decodes before reducing (0 when the
    header is unreadable), from the header alone: nothing is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                if image.format == "JPEG":
                    _draft(image, _stored(keep, _orientation(image)))
                return int(image.width * image.height)
    except Exception:
        return 0


def _orientation(image: Image.Image) -> int:
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return orientation if isinstance(orientation, int) else 1


def _stored(keep: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``keep`` (given upright) in the orientation the image is stored in."""
    return (keep[1], keep[0]) if orientation in SWAPS_AXES else keep


def _draft(image: Image.Image, keep: tuple[int, int]) -> None:
    # Only JPEG drafts (a no-op elsewhere); below 2x on either axis it would not reduce.
    if image.width >= 2 * keep[0] and image.height >= 2 * keep[1]:
        image.draft(None, keep)


def _reduce(image: Image.Image, keep: tuple[int, int]) -> Image.Image:
    factors = (max(1, image.width // keep[0]), max(1, image.height // keep[1]))
    if factors == (1, 1):
        return image
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    try:
        return image.reduce(factors)
    except ValueError:  # a mode reduce() does not take: convert at full size first
        return _to_rgb(image).reduce(factors)


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

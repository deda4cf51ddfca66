"""What crosses the pool boundary and the API: predictions and per-image failures."""

from __future__ import annotations

from typing import Literal

import msgspec

Variant = Literal["keras", "tflite-fp16", "tflite-int8"]
VARIANT_FILES: dict[str, str] = {
    "keras": "keras",
    "tflite-fp16": "tflite-fp16",
    "tflite-int8": "tflite-int8",
}


class Score(msgspec.Struct, frozen=True):
    label: str
    score: float


class Classification(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    variant: Variant
    label: str
    scores: list[Score]
    """Top-k, best first."""


class Segmentation(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    variant: Variant
    classes: list[str]
    width: int
    height: int
    class_fractions: dict[str, float]
    """Share of the image's pixels per class."""
    mask_png: str
    """Base64 PNG, mode L, at the uploaded image's size; pixel = index into ``classes``."""
    overlay_png: str
    """Base64 PNG: the image with the mask in ``palette``'s colours, for display (scaled
    down to at most 1024 px on its longer side)."""
    palette: dict[str, list[int]]
    """The RGB colour of each class in the overlay."""


class ImageFailure(msgspec.Struct, frozen=True):
    """One image of a batch could not be used; the others are unaffected."""

    status_code: int
    error: str
    detail: str


Prediction = Classification | Segmentation

"""What crosses the pool boundary and the API: predictions, per-image failures, and what
the service says about its models."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Variant = Literal["keras", "tflite-fp16", "tflite-int8"]


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


class TensorSpec(msgspec.Struct, frozen=True):
    name: str
    datatype: str
    shape: list[int]
    description: str


class ModelSummary(msgspec.Struct, frozen=True):
    name: str
    version: str
    task: str
    classes: list[str]
    variants: list[str]
    ready: bool


class ModelMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """In the spirit of KServe's v2 model metadata, plus how the model was made."""

    name: str
    versions: list[str]
    platform: str
    task: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    classes: list[str]
    variants: dict[str, Any]
    """Per variant: file, bytes, sha256, runtime, latency_ms, metrics."""
    metrics: dict[str, float]
    """On the held-out split."""
    latency_note: str
    """How ``latency_ms`` of each variant was measured."""
    training: dict[str, Any]
    ready: bool

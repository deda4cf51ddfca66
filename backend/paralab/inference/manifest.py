"""The schema of ``models/<name>/manifest.json``: what a shipped model is and how it was made.

The serving code reads it; training writes it (``paralab.training.manifest``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

MANIFEST_FILE = "manifest.json"
Task = Literal["classification", "segmentation"]


class Preprocessing(msgspec.Struct, frozen=True, kw_only=True):
    """What the caller must do to an image before the forward pass."""

    color: str = "RGB"
    dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 255.0)
    resize: str = "bilinear, squash (no crop or padding) to input_size"
    normalisation: str = "inside the model; pass raw 0..255 pixel values"


class Output(msgspec.Struct, frozen=True, kw_only=True):
    shape: list[int]  # without the batch dimension
    description: str


class TrainingData(msgspec.Struct, frozen=True, kw_only=True):
    dataset: str
    source: str
    layout: str
    split: str
    train_images: int
    eval_images: int
    augmentation: str


class Architecture(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    params: int
    description: str = ""


class ModelFile(msgspec.Struct, frozen=True, kw_only=True):
    """One shipped variant of the model; metrics are on the held-out split."""

    file: str
    sha256: str
    bytes: int
    runtime: str
    latency_ms: float | None = None
    metrics: dict[str, float] = msgspec.field(default_factory=dict)


class Baseline(msgspec.Struct, frozen=True, kw_only=True):
    architecture: Architecture
    epochs: float
    training_seconds: float
    metrics: dict[str, float]
    notes: str = ""


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str
    task: Task
    classes: list[str]
    input_size: tuple[int, int, int]  # (h, w, 3)
    preprocessing: Preprocessing
    output: Output
    architecture: Architecture
    training_data: TrainingData
    epochs: float
    training_seconds: float
    seed: int
    metrics: dict[str, float]
    files: dict[str, ModelFile]
    latency_note: str = ""
    baseline: Baseline | None = None
    trained_with: dict[str, str] = msgspec.field(default_factory=dict)
    notes: str = ""
    schema_version: int = 1


def read_manifest(model_dir: Path) -> Manifest:
    return msgspec.json.decode((model_dir / MANIFEST_FILE).read_bytes(), type=Manifest)

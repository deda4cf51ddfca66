from __future__ import annotations

from pathlib import Path

import numpy as np

from paralab.inference.manifest import (
    Architecture,
    Baseline,
    Manifest,
    ModelFile,
    Output,
    Preprocessing,
    TrainingData,
    read_manifest,
)
from paralab.training.evaluate import confusion_matrix, segmentation_metrics
from paralab.training.manifest import sha256_of, write_manifest


def a_manifest() -> Manifest:
    return Manifest(
        name="tiny",
        version="0.1.0",
        task="classification",
        classes=["cat", "ship"],
        input_size=(32, 32, 3),
        preprocessing=Preprocessing(),
        output=Output(shape=[2], description="softmax"),
        architecture=Architecture(name="net", params=10),
        training_data=TrainingData(
            dataset="d",
            source="s",
            layout="l",
            split="x",
            train_images=4,
            eval_images=2,
            augmentation="flip",
        ),
        epochs=1.0,
        training_seconds=2.5,
        seed=0,
        metrics={"accuracy": 0.5},
        files={
            "keras": ModelFile(file="model.keras", sha256="ab", bytes=3, runtime="keras"),
            "tflite-int8": ModelFile(
                file="model-int8.tflite",
                sha256="cd",
                bytes=2,
                runtime="litert",
                latency_ms=0.2,
                metrics={"accuracy": 0.5},
            ),
        },
        baseline=Baseline(
            architecture=Architecture(name="seed", params=5),
            epochs=2.0,
            training_seconds=1.0,
            metrics={"accuracy": 0.4},
        ),
    )


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    manifest = a_manifest()

    write_manifest(manifest, tmp_path)

    assert read_manifest(tmp_path) == manifest


def test_sha256_of_matches_a_known_digest(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")

    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_of(path) == expected


def test_segmentation_metrics_from_a_known_confusion() -> None:
    truth = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])

    metrics = segmentation_metrics(confusion_matrix(predicted, truth, 3), ["a", "b", "c"])

    assert metrics["iou_a"] == 1 / 3  # tp 1, union 3
    assert metrics["iou_b"] == 2 / 3
    assert metrics["iou_c"] == 1 / 2
    assert abs(metrics["mean_iou"] - (1 / 3 + 2 / 3 + 1 / 2) / 3) < 1e-12
    assert metrics["pixel_accuracy"] == 4 / 6

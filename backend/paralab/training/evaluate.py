"""Held-out metrics from predictions (numpy only): accuracy, per-class IoU, pixel accuracy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

Predict = Callable[[NDArray[np.float32]], NDArray[np.float32]]


def predict_in_batches(
    predict: Predict, images: NDArray[np.uint8], batch: int
) -> NDArray[np.float32]:
    """Concatenated ``predict`` outputs over ``images`` in chunks of ``batch``."""
    outputs = [
        np.asarray(predict(images[i : i + batch].astype(np.float32)), dtype=np.float32)
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(outputs)


def classification_metrics(
    probabilities: NDArray[np.float32], labels: NDArray[np.int64]
) -> dict[str, float]:
    return {"accuracy": float(np.mean(np.argmax(probabilities, axis=-1) == labels))}


def confusion_matrix(
    predicted: NDArray[np.integer], truth: NDArray[np.integer], num_classes: int
) -> NDArray[np.int64]:
    """counts[t, p]: pixels of true class t predicted as p."""
    flat = truth.astype(np.int64).ravel() * num_classes + predicted.astype(np.int64).ravel()
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def segmentation_metrics(counts: NDArray[np.int64], classes: Sequence[str]) -> dict[str, float]:
    """Per-class IoU, their mean over all classes, and pixel accuracy."""
    true_positive = np.diag(counts).astype(np.float64)
    union = counts.sum(axis=0) + counts.sum(axis=1) - true_positive
    iou = np.divide(true_positive, union, out=np.zeros_like(true_positive), where=union > 0)
    metrics = {f"iou_{name}": float(value) for name, value in zip(classes, iou, strict=True)}
    metrics["mean_iou"] = float(iou.mean())
    metrics["pixel_accuracy"] = float(true_positive.sum() / max(1, counts.sum()))
    return metrics


def evaluate_classifier(
    predict: Predict, images: NDArray[np.uint8], labels: NDArray[np.int64], batch: int = 500
) -> dict[str, float]:
    return classification_metrics(predict_in_batches(predict, images, batch), labels)


def evaluate_segmenter(
    predict: Predict,
    images: NDArray[np.uint8],
    masks: NDArray[np.uint8],
    classes: Sequence[str],
    batch: int = 16,
) -> dict[str, float]:
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for i in range(0, len(images), batch):
        probabilities = predict(images[i : i + batch].astype(np.float32))
        predicted = np.argmax(probabilities, axis=-1)
        counts += confusion_matrix(predicted, masks[i : i + batch], len(classes))
    return segmentation_metrics(counts, classes)

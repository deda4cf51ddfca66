"""One-epoch runs of the real CLI on tiny generated data: files, checksums, manifests."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from paralab.inference.manifest import read_manifest
from paralab.training.cli import main
from paralab.training.manifest import sha256_of

VARIANTS = {"keras", "tflite-fp16", "tflite-int8"}


def assert_files_match_manifest(model_dir: Path) -> None:
    manifest = read_manifest(model_dir)
    assert set(manifest.files) == VARIANTS
    for entry in manifest.files.values():
        path = model_dir / entry.file
        assert entry.sha256 == sha256_of(path)
        assert entry.bytes == path.stat().st_size
        assert entry.latency_ms is not None


@pytest.mark.filterwarnings("ignore")
def test_cnn_and_baseline_runs_ship_a_loadable_model_and_manifest(
    cifar_tar: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models"
    common = ["--data", str(cifar_tar), "--out", str(out), "--epochs", "1", "--quiet"]

    assert main(["baseline-cnn", *common, "--batch-size", "4"]) == 0
    assert main(["cnn", *common, "--widths", "4,8,8", "--batch-size", "4"]) == 0

    model_dir = out / "cifar10-cnn"
    assert_files_match_manifest(model_dir)
    manifest = read_manifest(model_dir)
    assert manifest.task == "classification"
    assert manifest.classes == ["cat", "ship"]
    assert manifest.training_data.train_images == 12
    assert manifest.baseline is not None
    assert 0.0 <= manifest.baseline.metrics["accuracy"] <= 1.0
    assert not (model_dir / "baseline.json").exists()

    model = keras.models.load_model(model_dir / "model.keras", compile=False)
    probabilities = np.asarray(model(np.full((1, 32, 32, 3), 128.0, np.float32)))
    assert probabilities.shape == (1, 2)
    assert abs(float(probabilities.sum()) - 1.0) < 1e-5


@pytest.mark.filterwarnings("ignore")
def test_fcn_run_ships_a_per_pixel_segmenter(pets_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    args = ["fcn", "--data", str(pets_root), "--out", str(out), "--epochs", "1", "--quiet"]

    assert main([*args, "--size", "32", "--widths", "4,8", "--batch-size", "2"]) == 0

    model_dir = out / "oxford-pets-fcn"
    assert_files_match_manifest(model_dir)
    manifest = read_manifest(model_dir)
    assert manifest.task == "segmentation"
    assert manifest.classes == ["pet", "background", "border"]
    assert manifest.training_data.eval_images == 2
    assert {"iou_pet", "iou_background", "iou_border", "mean_iou"} <= set(manifest.metrics)
    model = keras.models.load_model(model_dir / "model.keras", compile=False)
    assert model(np.zeros((1, 32, 32, 3), np.float32)).shape == (1, 32, 32, 3)

"""Build two tiny real Keras models whose answers are known, with their TFLite variants.

``colour-cnn`` classifies an image by its dominant channel (red / green / blue);
``colour-fcn`` labels each pixel by its dominant channel (R -> pet, G -> background,
B -> border). Run as a script (``python tiny_models.py OUT_DIR``) so the test process
itself never imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from paralab.inference.manifest import (
    Architecture,
    Manifest,
    ModelFile,
    Output,
    Preprocessing,
    TrainingData,
)
from paralab.training.manifest import sha256_of, write_manifest
from paralab.training.quantize import VARIANT_FILES, convert, save_weights_only

SIZE = 16
SHARPNESS = 20.0


def colour_cnn() -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(3, activation="softmax")
    outputs = dense(x)
    model = keras.Model(inputs, outputs)
    dense.set_weights([np.eye(3, dtype="float32") * SHARPNESS, np.zeros(3, dtype="float32")])
    return model


def colour_fcn() -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(3, 1, activation="softmax")
    outputs = conv(x)
    model = keras.Model(inputs, outputs)
    kernel = (np.eye(3, dtype="float32") * SHARPNESS).reshape(1, 1, 3, 3)
    conv.set_weights([kernel, np.zeros(3, dtype="float32")])
    return model


def ship(model: keras.Model, out: Path, name: str, task: str, classes: list[str]) -> None:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    model = save_weights_only(model, folder / VARIANT_FILES["keras"])
    for variant in ("tflite-fp16", "tflite-int8"):
        (folder / VARIANT_FILES[variant]).write_bytes(convert(model, variant))  # type: ignore[arg-type]
    files = {
        variant: ModelFile(
            file=VARIANT_FILES[variant],
            sha256=sha256_of(folder / VARIANT_FILES[variant]),
            bytes=(folder / VARIANT_FILES[variant]).stat().st_size,
            runtime="keras" if variant == "keras" else "litert",
        )
        for variant in VARIANT_FILES
    }
    shape = [SIZE, SIZE, 3] if task == "segmentation" else [len(classes)]
    manifest = Manifest(
        name=name,
        version="1",
        task=task,  # type: ignore[arg-type]
        classes=classes,
        input_size=(SIZE, SIZE, 3),
        preprocessing=Preprocessing(),
        output=Output(shape=shape, description="softmax"),
        architecture=Architecture(name=name, params=model.count_params()),
        training_data=TrainingData(
            dataset="none (weights set by hand)",
            source="tests/inference/tiny_models.py",
            layout="-",
            split="-",
            train_images=0,
            eval_images=0,
            augmentation="-",
        ),
        epochs=0,
        training_seconds=0,
        seed=0,
        metrics={},
        files=files,
    )
    write_manifest(manifest, folder)


def main(out: Path) -> None:
    started = time.perf_counter()
    ship(colour_cnn(), out, "colour-cnn", "classification", ["red", "green", "blue"])
    ship(colour_fcn(), out, "colour-fcn", "segmentation", ["pet", "background", "border"])
    print(f"built tiny models in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

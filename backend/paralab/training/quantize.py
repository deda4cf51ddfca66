"""Export a serving model as .keras, float16 and dynamic-range int8 TFLite; measure each variant.

Size is bytes on disk; latency is the median of single-image calls (LiteRT interpreter for
.tflite, a ``tf.function`` with a fixed input shape for Keras); metrics are recomputed
from each variant's own predictions on the held-out split.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from numpy.typing import NDArray

from paralab.inference.manifest import ModelFile
from paralab.training.evaluate import Predict
from paralab.training.manifest import sha256_of

QuantizedVariant = Literal["tflite-fp16", "tflite-int8"]
VARIANT_FILES: dict[str, str] = {
    "keras": "model.keras",
    "tflite-fp16": "model-fp16.tflite",
    "tflite-int8": "model-int8.tflite",
}
THREADS = 2
Evaluate = Callable[[Predict], dict[str, float]]


def save_weights_only(model: Any, path: Path) -> Any:
    """Save, reload with compile=False and save again, so no optimizer state ships."""
    model.save(path)
    reloaded = keras.models.load_model(path, compile=False)
    reloaded.save(path)
    return reloaded


def convert(model: Any, variant: QuantizedVariant) -> bytes:
    """Post-training quantisation: float16 weights, or int8 weights with float activations."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "tflite-fp16":
        converter.target_spec.supported_types = [tf.float16]
    result: bytes = converter.convert()
    return result


class LiteRTModel:
    """A LiteRT interpreter that predicts one image at a time, as a server would."""

    def __init__(self, path: Path, threads: int = THREADS) -> None:
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]

    def predict_one(self, image: NDArray[np.float32]) -> NDArray[np.float32]:
        self.interpreter.set_tensor(self.input, image[np.newaxis])
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output)[0], dtype=np.float32)

    def predict(self, images: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.stack([self.predict_one(image) for image in images])


def keras_predict(model: Any) -> Predict:
    compiled = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def predict(images: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray(compiled(tf.constant(images)), dtype=np.float32)

    return predict


def median_ms(predict: Predict, image: NDArray[np.float32], runs: int = 50) -> float:
    """Median wall time of ``predict`` on a batch of one, after a few warm-up calls."""
    batch = image[np.newaxis]
    for _ in range(5):
        predict(batch)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        predict(batch)
        times.append((time.perf_counter() - started) * 1000.0)
    return round(statistics.median(times), 3)


def _file_entry(path: Path, runtime: str, latency: float, metrics: dict[str, float]) -> ModelFile:
    return ModelFile(
        file=path.name,
        sha256=sha256_of(path),
        bytes=path.stat().st_size,
        runtime=runtime,
        latency_ms=latency,
        metrics={k: round(v, 5) for k, v in metrics.items()},
    )


def export_variants(
    model: Any, out_dir: Path, evaluate: Evaluate, sample: NDArray[np.float32]
) -> dict[str, ModelFile]:
    """Write model.keras and both TFLite files to ``out_dir``; measure size, latency, metrics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keras_path = out_dir / VARIANT_FILES["keras"]
    shipped = save_weights_only(model, keras_path)
    predict = keras_predict(shipped)
    files = {
        "keras": _file_entry(
            keras_path,
            f"keras {keras.__version__} (tf.function)",
            median_ms(predict, sample),
            evaluate(predict),
        )
    }
    variants: tuple[QuantizedVariant, ...] = ("tflite-fp16", "tflite-int8")
    for variant in variants:
        path = out_dir / VARIANT_FILES[variant]
        path.write_bytes(convert(shipped, variant))
        lite = LiteRTModel(path)
        files[variant] = _file_entry(
            path,
            "ai-edge-litert Interpreter",
            median_ms(lite.predict, sample),
            evaluate(lite.predict),
        )
    return files

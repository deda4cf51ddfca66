"""The pool worker: loads every model once, then serves whole batches.

Runs only in pool processes (spawned or forked from a forkserver that preloaded
TensorFlow), never in the web process. Keras models run through one ``tf.function``
with a fixed input signature, so no call retraces and ``predict()`` is never used.
"""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from paralab.inference.images import ImageError, decode_rgb, to_model_input
from paralab.inference.manifest import Manifest
from paralab.inference.registry import load_manifests
from paralab.inference.schemas import (
    Classification,
    ImageFailure,
    Prediction,
    Score,
    Segmentation,
    Variant,
)

TOP_K = 5
PALETTE = np.array([[255, 64, 64], [40, 90, 200], [255, 210, 0]], dtype=np.float32)
"""pet: red, background: blue, border: yellow."""
OVERLAY_ALPHA = 0.45
OVERLAY_MAX_SIDE = 1024
SERVER_CHECK_S = 1.0

Forward = Callable[[NDArray[np.float32]], NDArray[np.float32]]


@dataclass
class LoadedModel:
    manifest: Manifest
    forwards: dict[str, Forward]


_models: dict[str, LoadedModel] = {}


def initialize(
    models_dir: str, names: Sequence[str], intra_op_threads: int, server_pid: int | None = None
) -> None:
    """Pool initializer: set TF threads before any op, load and warm every model."""
    if server_pid is not None:
        _exit_with_the_server(server_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    for folder, manifest in load_manifests(Path(models_dir), names):
        forwards = {variant: _load_variant(folder, manifest, variant) for variant in manifest.files}
        loaded = LoadedModel(manifest=manifest, forwards=forwards)
        height, width, _ = manifest.input_size
        for forward in forwards.values():
            forward(np.zeros((1, height, width, 3), dtype=np.float32))
        _models[manifest.name] = loaded


def _exit_with_the_server(server_pid: int) -> None:
    """Workers are children of the forkserver, not of the server, and block reading the
    call queue: if the server is killed they would live on. Watch it and leave with it."""

    def watch() -> None:
        while True:
            time.sleep(SERVER_CHECK_S)
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # the pid was reused by someone else's process
                os._exit(0)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()


def loaded_models(linger_s: float = 0.0) -> tuple[int, list[str]]:
    """(pid, model names) of this worker: the service's proof that a worker is ready.

    ``linger_s`` keeps the worker busy briefly so a warm-up reaches every worker."""
    time.sleep(linger_s)
    return os.getpid(), sorted(_models)


def _load_variant(folder: Path, manifest: Manifest, variant: str) -> Forward:
    path = folder / manifest.files[variant].file
    if variant == "keras":
        return _keras_forward(path, manifest)
    return _litert_forward(path)


def _keras_forward(path: Path, manifest: Manifest) -> Forward:
    import keras
    import tensorflow as tf

    model = keras.models.load_model(path, compile=False)
    height, width, channels = manifest.input_size
    signature = [tf.TensorSpec([None, height, width, channels], tf.float32)]
    compiled = tf.function(lambda x: model(x, training=False), input_signature=signature)

    def forward(batch: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray(compiled(tf.constant(batch)))

    return forward


def _litert_forward(path: Path) -> Forward:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def forward(batch: NDArray[np.float32]) -> NDArray[np.float32]:
        # The converted graphs have batch size 1: run the images one after another.
        outputs = []
        for image in batch:
            interpreter.set_tensor(input_index, image[np.newaxis])
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(output_index)[0])
        return np.stack(outputs)

    return forward


def predict_batch(
    model_name: str, variant: Variant, payloads: Sequence[bytes], max_pixels: int
) -> list[Prediction | ImageFailure]:
    """Decode, resize, run one forward pass over the batch, post-process each image."""
    loaded = _models[model_name]
    manifest = loaded.manifest
    height, width, _ = manifest.input_size
    results: list[Prediction | ImageFailure | None] = [None] * len(payloads)
    images: list[Image.Image] = []
    slots: list[int] = []
    for index, payload in enumerate(payloads):
        try:
            image = decode_rgb(payload, max_pixels)
        except ImageError as exc:
            results[index] = ImageFailure(exc.status_code, exc.error, exc.detail)
            continue
        except Exception as exc:  # one odd image must not fail its whole batch
            results[index] = ImageFailure(422, "corrupt_image", f"Unreadable image: {exc!r}.")
            continue
        images.append(image)
        slots.append(index)
    if images:
        batch = np.stack([to_model_input(image, height, width) for image in images])
        outputs = loaded.forwards[variant](batch)
        for slot, image, output in zip(slots, images, outputs, strict=True):
            try:
                results[slot] = _postprocess(manifest, variant, image, output)
            except Exception as exc:
                results[slot] = ImageFailure(422, "corrupt_image", f"Unusable image: {exc!r}.")
    return [r for r in results if r is not None]


def _postprocess(
    manifest: Manifest, variant: Variant, image: Image.Image, output: NDArray[np.float32]
) -> Prediction:
    if manifest.task == "classification":
        return _classification(manifest, variant, output)
    return _segmentation(manifest, variant, image, output)


def _classification(
    manifest: Manifest, variant: Variant, probabilities: NDArray[np.float32]
) -> Classification:
    order = np.argsort(probabilities)[::-1][:TOP_K]
    scores = [Score(manifest.classes[i], round(float(probabilities[i]), 6)) for i in order]
    return Classification(
        model=manifest.name, variant=variant, label=scores[0].label, scores=scores
    )


def _segmentation(
    manifest: Manifest, variant: Variant, image: Image.Image, probabilities: NDArray[np.float32]
) -> Segmentation:
    small_mask = Image.fromarray(np.argmax(probabilities, axis=-1).astype(np.uint8))
    mask = small_mask.resize(image.size, Image.Resampling.NEAREST)
    indices = np.asarray(mask)
    counts = np.bincount(indices.ravel(), minlength=len(manifest.classes))
    fractions = {
        c: round(float(n) / indices.size, 6) for c, n in zip(manifest.classes, counts, strict=True)
    }
    overlay = _overlay(image, mask)
    return Segmentation(
        model=manifest.name,
        variant=variant,
        classes=list(manifest.classes),
        width=image.width,
        height=image.height,
        class_fractions=fractions,
        mask_png=_png_base64(mask),
        overlay_png=_png_base64(overlay),
        palette={c: [int(v) for v in PALETTE[i]] for i, c in enumerate(manifest.classes)},
    )


def _overlay(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The photo with the classes in colour, at most OVERLAY_MAX_SIDE px on a side (it is
    for display; the mask keeps the full size)."""
    if max(image.size) > OVERLAY_MAX_SIDE:
        scale = OVERLAY_MAX_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        mask = mask.resize(size, Image.Resampling.NEAREST)
    colours = Image.fromarray(PALETTE.astype(np.uint8)[np.asarray(mask)])
    return Image.blend(image, colours, OVERLAY_ALPHA)


def _png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=3)
    return base64.b64encode(buffer.getvalue()).decode("ascii")

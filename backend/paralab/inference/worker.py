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
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from paralab.inference.images import ImageError, decode, to_model_input
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
REDUCE_GAP = 8
"""Images are decoded reduced only down to this many times the model input (per axis),
so the resize to the input still averages many pixels: predictions do not change."""
RING = 4096
"""Slots of the started-batches array: more than the batches ever in flight at once."""

Forward = Callable[[NDArray[np.float32]], NDArray[np.float32]]


@dataclass
class LoadedModel:
    manifest: Manifest
    forwards: dict[str, Forward]


@dataclass
class Prepared:
    """One decoded image, reduced to what post-processing needs."""

    size: tuple[int, int]
    display: Image.Image | None
    """The photo at overlay size (segmentation only)."""


_models: dict[str, LoadedModel] = {}
_started: Any = None
"""Shared with the server: slot ``token % RING`` holds the pid running batch ``token``,
so after a crash the server knows which batch was in the worker that died."""


def initialize(
    models_dir: str,
    names: Sequence[str],
    intra_op_threads: int,
    server_pid: int | None = None,
    started: Any = None,
) -> None:
    """Pool initializer: set TF threads before any op, load and warm every model."""
    global _started
    _started = started
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


def keep_size(manifest: Manifest) -> tuple[int, int]:
    """The smallest (width, height) a decoded image is reduced to for this model."""
    height, width, _ = manifest.input_size
    keep = (REDUCE_GAP * width, REDUCE_GAP * height)
    if manifest.task == "segmentation":  # the overlay is drawn from the decoded photo
        keep = (max(keep[0], OVERLAY_MAX_SIDE), max(keep[1], OVERLAY_MAX_SIDE))
    return keep


def predict_batch(
    model_name: str,
    variant: Variant,
    payloads: Sequence[bytes],
    max_pixels: int,
    token: int = 0,
) -> list[Prediction | ImageFailure]:
    """Decode, resize, run one forward pass over the batch, post-process each image."""
    if _started is not None:
        _started[token % RING] = os.getpid()
    try:
        return _predict_batch(_models[model_name], variant, payloads, max_pixels)
    finally:
        if _started is not None:
            _started[token % RING] = 0


def _predict_batch(
    loaded: LoadedModel, variant: Variant, payloads: Sequence[bytes], max_pixels: int
) -> list[Prediction | ImageFailure]:
    manifest = loaded.manifest
    results: list[Prediction | ImageFailure | None] = [None] * len(payloads)
    inputs: list[NDArray[np.float32]] = []
    prepared: list[tuple[int, Prepared]] = []
    for index, payload in enumerate(payloads):
        # One image at a time, reduced before the next is decoded: the worker holds at
        # most one full-size image whatever the batch.
        try:
            decoded = decode(payload, max_pixels, keep_size(manifest))
            inputs.append(_model_input(manifest, decoded.image))
        except ImageError as exc:
            results[index] = ImageFailure(exc.status_code, exc.error, exc.detail)
            continue
        except Exception as exc:  # one odd image must not fail its whole batch
            results[index] = ImageFailure(422, "corrupt_image", f"Unreadable image: {exc!r}.")
            continue
        display = _display(decoded.image, decoded.size) if manifest.task == "segmentation" else None
        prepared.append((index, Prepared(decoded.size, display)))
        del decoded
    if inputs:
        outputs = loaded.forwards[variant](np.stack(inputs))
        for (index, image), output in zip(prepared, outputs, strict=True):
            try:
                results[index] = _postprocess(manifest, variant, image, output)
            except Exception as exc:
                results[index] = ImageFailure(422, "corrupt_image", f"Unusable image: {exc!r}.")
    return [r for r in results if r is not None]


def _model_input(manifest: Manifest, image: Image.Image) -> NDArray[np.float32]:
    height, width, _ = manifest.input_size
    return to_model_input(image, height, width)


def _postprocess(
    manifest: Manifest, variant: Variant, image: Prepared, output: NDArray[np.float32]
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
    manifest: Manifest, variant: Variant, image: Prepared, probabilities: NDArray[np.float32]
) -> Segmentation:
    small_mask = Image.fromarray(np.argmax(probabilities, axis=-1).astype(np.uint8))
    mask = small_mask.resize(image.size, Image.Resampling.NEAREST)
    counts = mask.histogram()  # counted in place: a numpy copy of a 40 MP mask is 40 MB more
    total = image.size[0] * image.size[1]
    fractions = {c: round(counts[i] / total, 6) for i, c in enumerate(manifest.classes)}
    assert image.display is not None
    overlay = _overlay(image.display, mask)
    return Segmentation(
        model=manifest.name,
        variant=variant,
        classes=list(manifest.classes),
        width=image.size[0],
        height=image.size[1],
        class_fractions=fractions,
        mask_png=_png_base64(mask),
        overlay_png=_png_base64(overlay),
        palette={c: [int(v) for v in PALETTE[i]] for i, c in enumerate(manifest.classes)},
    )


def _display(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The photo (uploaded at ``size``, maybe decoded reduced) at most OVERLAY_MAX_SIDE px
    on a side: the overlay is for display; the mask keeps the full size."""
    scale = min(1.0, OVERLAY_MAX_SIDE / max(size))
    target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    return image if image.size == target else image.resize(target, Image.Resampling.BILINEAR)


def _overlay(display: Image.Image, mask: Image.Image) -> Image.Image:
    """The photo with the classes in colour."""
    if mask.size != display.size:
        mask = mask.resize(display.size, Image.Resampling.NEAREST)
    colours = Image.fromarray(PALETTE.astype(np.uint8)[np.asarray(mask)])
    return Image.blend(display, colours, OVERLAY_ALPHA)


def _png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=3)
    return base64.b64encode(buffer.getvalue()).decode("ascii")

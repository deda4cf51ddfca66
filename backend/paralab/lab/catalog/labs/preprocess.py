"""L4: decode, resize and normalise a folder of images into one batch array in shared
memory, the way a model's input pipeline does, then (if asked) classify the batch with the
shipped CNN, its int8 LiteRT model.

The work is dealt out in chunks of images. Each task gets the batch's handle, where its
rows start and its files' paths; it decodes its files and writes its rows of the batch in
place, so no pixels travel back. With ``classify``, the same task then runs the CNN over
the rows it wrote and returns their labels (a few bytes). The images are the sample
photos, repeated to ``images``, or a folder's if ``PARALAB_LAB_IMAGES_DIR`` names one.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from paralab.errors import InvalidInput
from paralab.lab import shm
from paralab.lab.catalog.labs.common import LabParams, Mode, check_array_size, run_lab
from paralab.lab.catalog.labs.images import open_rgb, sample_photos
from paralab.lab.scenario import Lab, Scenario

IMAGES_DIR_ENV = "PARALAB_LAB_IMAGES_DIR"
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
MODEL_DIR = Path(__file__).resolve().parents[5] / "models" / "cifar10-cnn"
MODEL_VARIANT = "tflite-int8"
CHUNK = 32
"""Images per task: enough that sending a task costs nothing next to decoding its files."""
SHEET_SIDE = 8
"""The contact sheet shows the first 8 x 8 images of the batch."""

Batch = NDArray[np.float32]
"""images x height x width x 3, in the model's value range."""


class PreprocessParams(LabParams, frozen=True, kw_only=True):
    """``images`` files (the sample photos, or the folder's) into one batch, maybe classified."""

    images: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=20_000,
            description="images in the batch (the files in name order, repeated if fewer)",
        ),
    ] = 1000
    classify: Annotated[
        bool, msgspec.Meta(description="also classify the batch with the CNN (int8 LiteRT)")
    ] = False


@dataclass(frozen=True)
class Model:
    """What the CNN wants, from its manifest: the input size and value range, its classes."""

    path: str
    classes: tuple[str, ...]
    height: int
    width: int
    low: float
    high: float


@dataclass(frozen=True)
class Chunk:
    """One task: preprocess ``paths`` into the batch's rows from ``start`` on."""

    batch: shm.Handle
    start: int
    paths: tuple[str, ...]
    model: Model
    classify: bool


@dataclass(frozen=True, eq=False)
class Result:
    batch: Batch
    labels: list[int]
    """class indices, one per image (empty without ``classify``)"""


def read_model(folder: Path = MODEL_DIR) -> Model:
    manifest = json.loads((folder / "manifest.json").read_text())
    height, width, _ = manifest["input_size"]
    low, high = manifest["preprocessing"]["value_range"]
    path = folder / manifest["files"][MODEL_VARIANT]["file"]
    return Model(str(path), tuple(manifest["classes"]), height, width, float(low), float(high))


def image_files(count: int) -> list[Path]:
    """``count`` files: the folder's (or the sample photos), in name order, repeated."""
    folder = os.environ.get(IMAGES_DIR_ENV)
    if folder:
        found = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise InvalidInput(f"{IMAGES_DIR_ENV}={folder} holds no {'/'.join(IMAGE_SUFFIXES)}")
    else:
        found = sample_photos()
    return [found[i % len(found)] for i in range(count)]


def preprocess(path: str, model: Model) -> NDArray[np.float32]:
    """Decode; resize (bilinear, squashed to the model's input, no crop); normalise into
    the model's value range."""
    image = open_rgb(path).resize((model.width, model.height), Image.Resampling.BILINEAR)
    scale = (model.high - model.low) / 255
    return np.asarray(image, dtype=np.float32) * np.float32(scale) + np.float32(model.low)


_loaded = threading.local()


def interpreter(model: Model) -> Any:
    """This thread's LiteRT interpreter, loaded on first use: an interpreter must not be
    shared by threads, nor used in a fork of the process that loaded it."""
    key = (os.getpid(), model.path)
    if getattr(_loaded, "key", None) != key:
        from ai_edge_litert.interpreter import Interpreter  # only when classifying

        loaded = Interpreter(model_path=model.path, num_threads=1)
        loaded.allocate_tensors()
        _loaded.key, _loaded.interpreter = key, loaded
    return _loaded.interpreter


def labels_of(images: Batch, model: Model) -> list[int]:
    """The class index of each image: the converted graph takes one image at a time."""
    cnn = interpreter(model)
    input_index = cnn.get_input_details()[0]["index"]
    output_index = cnn.get_output_details()[0]["index"]
    labels = []
    for image in images:
        cnn.set_tensor(input_index, image[np.newaxis])
        cnn.invoke()
        labels.append(int(np.argmax(cnn.get_tensor(output_index)[0])))
    return labels


def preprocess_chunk(chunk: Chunk) -> list[int]:
    """Write this chunk's images into their rows of the shared batch (and classify them)."""
    with shm.attach(chunk.batch) as batch:
        rows = batch.array[chunk.start : chunk.start + len(chunk.paths)]
        for row, path in zip(rows, chunk.paths, strict=True):
            row[...] = preprocess(path, chunk.model)
        return labels_of(rows, chunk.model) if chunk.classify else []


def preprocess_all(
    lab: Lab, paths: list[Path], model: Model, classify: bool, mode: Mode, workers: int
) -> Result:
    """The whole batch by ``workers`` threads or processes: a copy of it, and the labels."""
    shape = (len(paths), model.height, model.width, 3)
    names = [str(path) for path in paths]
    with shm.create(shape, np.float32, "batch") as batch:
        tasks = [
            Chunk(batch.handle, start, tuple(names[start : start + CHUNK]), model, classify)
            for start in range(0, len(names), CHUNK)
        ]
        if mode == "sequential":
            labels = [preprocess_chunk(task) for task in tasks]
        elif mode == "threads":
            with lab.ThreadPoolExecutor(workers, name=f"threads x{workers}") as threads:
                labels = list(threads.map(preprocess_chunk, tasks))
        else:
            with lab.mp.ProcessPoolExecutor(workers, name=f"processes x{workers}") as processes:
                labels = list(processes.map(preprocess_chunk, tasks))
        return Result(batch.array.copy(), [label for chunk in labels for label in chunk])


def same_result(a: Result, b: Result) -> bool:
    return np.array_equal(a.batch, b.batch) and a.labels == b.labels


def contact_sheet(batch: Batch, model: Model) -> bytes:
    """The first images of the batch as the model sees them, tiled into one PNG."""
    tiles = batch[: SHEET_SIDE * SHEET_SIDE]
    pixels = np.round((tiles - model.low) * (255 / (model.high - model.low))).astype(np.uint8)
    columns = min(SHEET_SIDE, len(pixels))
    rows = -(-len(pixels) // columns)
    sheet = np.zeros((rows * model.height, columns * model.width, 3), dtype=np.uint8)
    for index, tile in enumerate(pixels):
        top, left = index // columns * model.height, index % columns * model.width
        sheet[top : top + model.height, left : left + model.width] = tile
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG")
    return buffer.getvalue()


def report_labels(lab: Lab, labels: list[int], paths: list[Path], model: Model) -> None:
    counts = collections.Counter(model.classes[label] for label in labels)
    for name, count in counts.most_common():
        lab.metric("label_count", count, "images", label=name)
    print("labels: " + ", ".join(f"{name} {count}" for name, count in counts.most_common()))
    table = [
        {"file": path.name, "label": model.classes[label]}
        for path, label in zip(paths, labels, strict=True)
    ]
    lab.save_artifact(
        "l4-labels.json",
        json.dumps({"classes": model.classes, "images": table}).encode(),
        "application/json",
        "the label of every image of the batch, in batch order",
    )
    print("every image's label: l4-labels.json")


def l4_preprocess(p: PreprocessParams, lab: Lab) -> None:
    model = read_model()
    paths = image_files(p.images)
    check_array_size(p.images * model.height * model.width * 3 * 4, f"images={p.images}")
    distinct = len(set(paths))
    print(
        f"{p.images} images ({distinct} distinct files) into a float32 batch of "
        f"{model.height}x{model.width}x3 each{', then classified' if p.classify else ''}"
    )
    result, points = run_lab(
        p,
        lab,
        lambda p, lab, mode, workers: preprocess_all(lab, paths, model, p.classify, mode, workers),
        same=same_result,
    )
    for point in points:
        rate = p.images / point.wall_s
        lab.metric("images_per_s", rate, "images/s", mode=point.mode, workers=point.workers)
        print(f"  {point.mode:>10} x{point.workers:<2} {rate:8.0f} images/s")
    digest = hashlib.sha256(result.batch.tobytes()).hexdigest()
    print(f"batch: float32{list(result.batch.shape)}, sha256 {digest}")
    lab.save_artifact(
        "l4-batch.png",
        contact_sheet(result.batch, model),
        "image/png",
        "the first images of the batch, as the model sees them",
    )
    print("the first images of the batch, as the model sees them: l4-batch.png")
    if p.classify:
        report_labels(lab, result.labels, paths, model)


SCENARIOS = [
    Scenario(
        id="L4.1",
        section_title="Parallel preprocessing",
        title="Parallel preprocessing into a shared batch",
        observe="Each task decodes its files and writes its rows of the one shared batch in "
        "place: compare images/s and the pool's speed-up over the sequential loop. Threads do "
        "as well (Pillow lets go of the GIL to decode and resize). classify=true runs the CNN "
        "in the same tasks (try images=300).",
        params=PreprocessParams,
        run=l4_preprocess,
    ),
]

"""L2 (image filters) and L4 (parallel preprocessing): pixels, pictures, batch and labels
against references computed here, in every mode and with spawn; every run's shared memory
unlinked by its owner and nothing of it left in /dev/shm. No timing is asserted."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from paralab.lab import shm
from paralab.lab.catalog import SCENARIOS
from paralab.lab.catalog.labs import images, preprocess
from paralab.lab.events import (
    ActorStart,
    Artifact,
    Event,
    Metric,
    Output,
    SharedMemoryOp,
    TaskStart,
)
from paralab.lab.runner import run_child

pytestmark = pytest.mark.skipif(not os.path.isdir(shm.SHM_DIR), reason="needs /dev/shm")

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "frontend" / "samples"
MODEL_DIR = REPO / "models" / "cifar10-cnn"
FILTERS = ("grey", "red", "green", "blue")
MODES = [
    pytest.param({"mode": "sequential"}, id="sequential"),
    pytest.param({"mode": "threads", "workers": 2}, id="threads"),
    pytest.param({"mode": "processes", "workers": 2}, id="processes"),
    pytest.param({"mode": "processes", "workers": 2, "start_method": "spawn"}, id="spawn"),
]


@dataclass
class Run:
    events: list[Event]
    artifacts_dir: Path

    def printed(self) -> list[str]:
        return [e.line for e in self.events if isinstance(e, Output) and e.stream == "stdout"]

    def artifacts(self) -> dict[str, Artifact]:
        return {e.name: e for e in self.events if isinstance(e, Artifact)}

    def metrics(self, name: str) -> list[Metric]:
        return [e for e in self.events if isinstance(e, Metric) and e.name == name]

    def picture(self, name: str) -> Image.Image:
        image = Image.open(self.artifacts_dir / name)
        image.load()
        return image


def run(
    scenario_id: str, artifacts_dir: Path, env: dict[str, str] | None = None, **params: Any
) -> Run:
    run_id = "t" + uuid.uuid4().hex[:10]
    events: list[Event] = []
    outcome = asyncio.run(
        run_child(
            scenario_id,
            params,
            events.extend,
            time_limit_s=180.0,
            run_id=run_id,
            artifacts_dir=artifacts_dir,
            env=env,
        )
    )
    assert outcome.status == "succeeded", outcome.error
    check_shared_memory(events, run_id)
    return Run(sorted(events, key=lambda e: e.t_ns), artifacts_dir)


def check_shared_memory(events: list[Event], run_id: str) -> None:
    """Each segment unlinked by the process that created it; each attach closed by the
    process that attached; nothing of the run left (the runner's sweep found nothing)."""
    ops = [e for e in events if isinstance(e, SharedMemoryOp)]
    created = {e.segment: e.pid for e in ops if e.op == "create"}
    unlinked = {e.segment: e.pid for e in ops if e.op == "unlink"}
    assert unlinked == created
    attached = Counter((e.segment, e.pid) for e in ops if e.op == "attach")
    closed = Counter((e.segment, e.pid) for e in ops if e.op == "close")
    for key, count in attached.items():
        assert closed[key] >= count, f"{key} attached {count} times, closed {closed[key]}"
    assert [n for n in os.listdir(shm.SHM_DIR) if n.startswith(shm.prefix(run_id))] == []


def photos() -> list[Path]:
    return sorted(SAMPLES.glob("*.jpg"))


def decode(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def scaled(path: Path, width: int) -> Image.Image:
    image = decode(path)
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.BILINEAR)


def expected_filter(image: Image.Image, filter_name: str) -> NDArray[np.uint8]:
    """Grey by Pillow's own conversion; a colour version keeps its channel, zeroes the rest."""
    if filter_name == "grey":
        return np.asarray(image.convert("L"))
    rgb = np.asarray(image).copy()
    keep = FILTERS.index(filter_name) - 1
    rgb[..., [c for c in range(3) if c != keep]] = 0
    return rgb


def test_the_catalog_has_the_image_and_preprocessing_labs() -> None:
    assert {"L2.1", "L2.2", "L4.1"} <= set(SCENARIOS)
    assert SCENARIOS["L1.1"].title  # the labs before them are still there


# L2: the filters themselves --------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (300, 1000, 3), (40, 320, 3)])
def test_the_loop_and_numpy_give_identical_planes(shape: tuple[int, int, int]) -> None:
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    looped = images.filter_loop(rgb[:50, :60])
    assert np.array_equal(looped, images.filter_numpy(rgb[:50, :60]))
    planes = images.filter_numpy(rgb)  # (300, 1000) spans several blocks of rows
    assert planes.shape == (4, *shape[:2])
    assert np.array_equal(planes[0], np.asarray(Image.fromarray(rgb).convert("L")))
    assert np.array_equal(planes[1:], np.moveaxis(rgb, 2, 0))


def test_the_loop_and_numpy_agree_on_a_sample_photo() -> None:
    rgb = np.asarray(scaled(photos()[0], 320))[100:164, 50:130]
    assert np.array_equal(images.filter_loop(rgb), images.filter_numpy(rgb))


# L2.1: loop against numpy ------------------------------------------------------------------


@pytest.mark.parametrize("params", MODES)
def test_loop_against_numpy_reports_per_pixel_times_and_their_ratio(
    tmp_path: Path, params: dict[str, Any]
) -> None:
    result = run("L2.1", tmp_path, width=320, crop=16, **params)
    lines = result.printed()
    assert "the loop and numpy give identical pixels on the crops" in lines
    assert lines[0].startswith(f"{len(photos())} photos at 320 px wide")
    for name in ("loop_ns_per_pixel", "numpy_ns_per_pixel", "loop_vs_numpy", "loop_projected_s"):
        [metric] = result.metrics(name)
        assert metric.value > 0
        assert metric.labels == {"width": "320"}
    [loop] = result.metrics("loop_ns_per_pixel")
    [vectorised] = result.metrics("numpy_ns_per_pixel")
    [ratio] = result.metrics("loop_vs_numpy")
    assert ratio.value == pytest.approx(loop.value / vectorised.value)
    # The loop itself timed in the asked mode against its own sequential baseline.
    mode = params["mode"]
    points = {(m.labels["mode"], m.labels["workers"]) for m in result.metrics("wall_s")}
    expected_points = {("sequential", "1")} | (
        set() if mode == "sequential" else {(mode, str(params["workers"]))}
    )
    assert points == expected_points
    parallel = result.metrics("parallel_loop_vs_numpy")
    assert all(m.labels["mode"] == mode and m.value > 0 for m in parallel)
    assert len(parallel) <= (0 if mode == "sequential" else 1)


def test_loop_in_processes_runs_its_bands_in_the_worker_processes(tmp_path: Path) -> None:
    result = run("L2.1", tmp_path, width=320, crop=16, mode="processes", workers=2)
    starts = [e for e in result.events if isinstance(e, TaskStart)]
    main_pid = next(e.pid for e in result.events if isinstance(e, ActorStart) and e.kind == "main")
    assert len(starts) == len(photos()) * images.LOOP_BANDS
    assert main_pid not in {e.pid for e in starts}


# L2.2: threads against processes, pictures -------------------------------------------------


@pytest.mark.parametrize("params", MODES)
def test_filtered_pictures_equal_references_in_every_mode(
    tmp_path: Path, params: dict[str, Any]
) -> None:
    result = run("L2.2", tmp_path, width=320, **params)
    expected_names = {f"l2-{p.stem}-{f}.png" for p in photos() for f in FILTERS}
    artifacts = result.artifacts()
    assert set(artifacts) == expected_names
    printed = "\n".join(result.printed())
    for name, artifact in artifacts.items():
        assert artifact.media_type == "image/png"
        assert (tmp_path / name).stat().st_size == artifact.size
        assert name in printed
    for path in photos():
        image = scaled(path, 320)  # at most 640 px wide: the pictures are full size
        for filter_name in FILTERS:
            picture = result.picture(f"l2-{path.stem}-{filter_name}.png")
            got = np.asarray(picture if filter_name == "grey" else picture.convert("RGB"))
            assert np.array_equal(got, expected_filter(image, filter_name)), (path, filter_name)
    wall = {m.labels["mode"] for m in result.metrics("wall_s")}
    assert wall == {"sequential", params["mode"]}


def test_the_workers_attach_the_shared_images_and_write_into_shared_planes(
    tmp_path: Path,
) -> None:
    result = run("L2.2", tmp_path, width=320, mode="processes", workers=2)
    ops = [e for e in result.events if isinstance(e, SharedMemoryOp)]
    main_pid = next(e.pid for e in ops if e.op == "create")
    hints = {e.segment.rsplit("-", 2)[-2] for e in ops if e.op == "create"}
    assert hints == {"images", "planes"}
    attached = {(e.pid, e.segment.rsplit("-", 2)[-2]) for e in ops if e.op == "attach"}
    workers = {pid for pid, _ in attached} - {main_pid}
    assert workers  # (one worker may have taken every task)
    assert all({(pid, "images"), (pid, "planes")} <= attached for pid in workers)
    assert all(e.pid == main_pid for e in ops if e.op in ("create", "unlink"))


def test_pictures_of_wide_images_are_scaled_down_to_640(tmp_path: Path) -> None:
    result = run("L2.2", tmp_path, width=1000, mode="sequential")
    for path in photos():
        image = scaled(path, 1000)
        for filter_name in FILTERS:
            picture = result.picture(f"l2-{path.stem}-{filter_name}.png")
            assert picture.width == 640
            assert picture.height == max(1, round(image.height * 640 / 1000))


# L4: preprocessing ---------------------------------------------------------------------


def reference_batch(files: list[Path]) -> NDArray[np.float32]:
    """Decoded, squashed to 32x32 (bilinear), raw 0..255 float32: the model's manifest."""
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    assert manifest["input_size"] == [32, 32, 3]
    assert manifest["preprocessing"]["value_range"] == [0.0, 255.0]
    return np.stack(
        [
            np.asarray(decode(f).resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)
            for f in files
        ]
    )


def reference_labels(batch: NDArray[np.float32]) -> list[str]:
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    interpreter = Interpreter(
        model_path=str(MODEL_DIR / manifest["files"]["tflite-int8"]["file"]), num_threads=1
    )
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    labels = []
    for image in batch:
        interpreter.set_tensor(input_index, image[np.newaxis])
        interpreter.invoke()
        labels.append(manifest["classes"][int(np.argmax(interpreter.get_tensor(output_index)))])
    return labels


def repeated(files: list[Path], count: int) -> list[Path]:
    return [files[i % len(files)] for i in range(count)]


def printed_digest(result: Run) -> str:
    [line] = [line for line in result.printed() if line.startswith("batch: ")]
    return line.rsplit(" ", 1)[-1]


def check_batch(result: Run, expected: NDArray[np.float32]) -> None:
    assert printed_digest(result) == hashlib.sha256(expected.tobytes()).hexdigest()
    sheet = np.asarray(result.picture("l4-batch.png"))
    columns = min(8, len(expected))
    for index, image in enumerate(expected[:64]):
        top, left = index // columns * 32, index % columns * 32
        assert np.array_equal(sheet[top : top + 32, left : left + 32], image.astype(np.uint8))


@pytest.mark.parametrize("params", MODES)
def test_the_batch_equals_a_sequential_reference_in_every_mode(
    tmp_path: Path, params: dict[str, Any]
) -> None:
    result = run("L4.1", tmp_path, images=70, **params)
    check_batch(result, reference_batch(repeated(photos(), 70)))
    rates = {m.labels["mode"]: m for m in result.metrics("images_per_s")}
    assert set(rates) == {"sequential", params["mode"]}
    assert all(m.value > 0 and m.unit == "images/s" for m in rates.values())
    assert "l4-labels.json" not in result.artifacts()  # no classify, no labels
    assert result.metrics("label_count") == []


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"mode": "threads", "workers": 2}, id="threads"),
        pytest.param({"mode": "processes", "workers": 2}, id="processes"),
        pytest.param({"mode": "processes", "workers": 2, "start_method": "spawn"}, id="spawn"),
    ],
)
def test_labels_equal_the_same_litert_model_run_here(
    tmp_path: Path, params: dict[str, Any]
) -> None:
    files = repeated(photos(), 40)  # two tasks of 32 and 8 images
    result = run("L4.1", tmp_path, images=40, classify=True, **params)
    expected = reference_batch(files)
    check_batch(result, expected)
    labels = reference_labels(expected)
    table = json.loads((tmp_path / "l4-labels.json").read_text())
    assert [row["file"] for row in table["images"]] == [f.name for f in files]
    assert [row["label"] for row in table["images"]] == labels
    counts = {m.labels["label"]: m.value for m in result.metrics("label_count")}
    assert counts == Counter(labels)


def test_the_cifar_samples_get_their_expected_labels(tmp_path: Path) -> None:
    """The preprocessing is what the model was trained on: the CIFAR-10 test images that
    ship as samples come out as their classes."""
    samples = json.loads((SAMPLES / "samples.json").read_text())["samples"]
    expected = {s["file"]: s["expected"] for s in samples if "expected" in s}
    run("L4.1", tmp_path, images=len(photos()), classify=True, mode="sequential")
    table = json.loads((tmp_path / "l4-labels.json").read_text())
    got = {row["file"]: row["label"] for row in table["images"]}
    assert expected
    assert {name: got[name] for name in expected} == expected


def test_a_folder_named_by_the_environment_replaces_the_samples(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "nested").mkdir(parents=True)
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (90, 60, 4), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").save(folder / "b-alpha.png")
    Image.fromarray(pixels[..., 0], "L").save(folder / "a-grey.jpg")
    Image.fromarray(pixels[:40, :50, :3], "RGB").convert("P").save(folder / "nested" / "c.gif")
    (folder / "notes.txt").write_text("not an image")
    files = sorted([folder / "a-grey.jpg", folder / "b-alpha.png", folder / "nested" / "c.gif"])
    artifacts = tmp_path / "artifacts"
    result = run(
        "L4.1",
        artifacts,
        env={preprocess.IMAGES_DIR_ENV: str(folder)},
        images=5,
        classify=True,
        mode="processes",
        workers=2,
    )
    check_batch(result, reference_batch(repeated(files, 5)))
    table = json.loads((artifacts / "l4-labels.json").read_text())
    assert [row["file"] for row in table["images"]] == [f.name for f in repeated(files, 5)]
    assert any("(3 distinct files)" in line for line in result.printed())


def test_a_folder_without_images_fails_the_run_saying_so(tmp_path: Path) -> None:
    events: list[Event] = []
    outcome = asyncio.run(
        run_child(
            "L4.1",
            {"images": 3, "mode": "sequential"},
            events.extend,
            time_limit_s=60.0,
            artifacts_dir=tmp_path,
            env={preprocess.IMAGES_DIR_ENV: str(tmp_path)},
        )
    )
    assert outcome.status == "failed"
    assert "holds no" in outcome.error


@pytest.mark.parametrize(
    ("scenario_id", "params"),
    [("L2.2", {"width": 320, "mode": "sequential"}), ("L4.1", {"images": 200})],
)
def test_arrays_above_the_machines_limit_are_refused(
    tmp_path: Path, scenario_id: str, params: dict[str, Any]
) -> None:
    events: list[Event] = []
    outcome = asyncio.run(
        run_child(
            scenario_id,
            params,
            events.extend,
            time_limit_s=60.0,
            artifacts_dir=tmp_path,
            env={"PARALAB_MAX_ARRAY_MIB": "1"},
        )
    )
    assert outcome.status == "failed"
    assert "limit of 1 MiB (PARALAB_MAX_ARRAY_MIB)" in outcome.error
    assert not any(isinstance(e, SharedMemoryOp) for e in events)

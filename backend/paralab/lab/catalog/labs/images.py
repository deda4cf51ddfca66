"""L2: grey, red, green and blue versions of the sample photos, every one scaled to the same
width. L2.1 filters them with a per-pixel Python loop and with vectorised numpy. L2.2 runs
the numpy filters in threads or in processes over images and planes in shared memory
(threads use the arrays; processes are handed handles and attach), and keeps the pictures
with the run.

A colour version keeps one channel and drops the other two: it is stored as that one plane
and shown in its colour. The grey version is ITU-R 601 luma in integers, as Pillow's
``convert("L")`` computes it, so the loop and numpy agree to the last pixel.
"""

from __future__ import annotations

import io
import itertools
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from paralab.lab import shm
from paralab.lab.catalog.labs.common import (
    LabParams,
    Mode,
    check_array_size,
    map_in_mode,
    run_lab,
    timed,
)
from paralab.lab.scenario import Lab, Scenario

SAMPLES_DIR = Path(__file__).resolve().parents[5] / "frontend" / "samples"
FILTERS = ("grey", "red", "green", "blue")
GREY_WEIGHTS = (19595, 38470, 7471)
"""0.299, 0.587 and 0.114 times 65536: luma in 16-bit fixed point."""
BANDS = 32
"""Tasks per pass, whatever the mode: enough to keep 16 workers busy to the end."""
LOOP_BANDS = 4
"""The loop's tasks: each crop in this many bands of rows."""
BLOCK_PIXELS = 1 << 17
"""numpy filters this many pixels at a time (see ``filter_numpy``)."""
ARTIFACT_WIDTH = 640

Pixels = NDArray[np.uint8]
"""An RGB image, rows x columns x 3."""
Planes = NDArray[np.uint8]
"""The four filtered versions, 4 x rows x columns: grey, red, green, blue."""

Width = Annotated[
    int, msgspec.Meta(ge=320, le=4096, description="every image is scaled to this width (px)")
]


class LoopParams(LabParams, frozen=True, kw_only=True):
    """The photos at ``width``; the loop only gets a ``crop`` x ``crop`` square of each,
    run sequentially, then by the mode's threads or processes; numpy runs in one thread."""

    width: Width = 1024
    crop: Annotated[
        int,
        msgspec.Meta(ge=8, le=512, description="side of the square the loop filters per image"),
    ] = 384


class FilterParams(LabParams, frozen=True, kw_only=True):
    """The photos at ``width``, filtered by the mode's threads or processes."""

    width: Width = 2048


# --- the images ---------------------------------------------------------------------------


def sample_photos() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.jpg"))


def open_rgb(path: Path | str) -> Image.Image:
    """Decode the file into an RGB image (whatever its mode: grey, palette, alpha...)."""
    with Image.open(path) as image:
        return image.convert("RGB")


def scaled(path: Path, width: int) -> Pixels:
    """The photo scaled (up or down) to ``width``, keeping its proportions."""
    image = open_rgb(path)
    height = max(1, round(image.height * width / image.width))
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))


# --- the filters --------------------------------------------------------------------------


def filter_loop(rgb: Pixels) -> Planes:
    """The four versions, one pixel at a time: every pixel goes through the interpreter."""
    red_weight, green_weight, blue_weight = GREY_WEIGHTS
    grey: list[list[int]] = []
    red: list[list[int]] = []
    green: list[list[int]] = []
    blue: list[list[int]] = []
    for row in rgb.tolist():
        grey_row, red_row, green_row, blue_row = [], [], [], []
        for r, g, b in row:
            grey_row.append((red_weight * r + green_weight * g + blue_weight * b + 0x8000) >> 16)
            red_row.append(r)
            green_row.append(g)
            blue_row.append(b)
        grey.append(grey_row)
        red.append(red_row)
        green.append(green_row)
        blue.append(blue_row)
    return np.array([grey, red, green, blue], dtype=np.uint8)


def filter_numpy(rgb: Pixels, out: Planes | None = None) -> Planes:
    """The same four versions, computed by numpy over whole blocks of rows at once."""
    if out is None:
        out = np.empty((len(FILTERS), *rgb.shape[:2]), dtype=np.uint8)
    red_weight, green_weight, blue_weight = (np.uint32(w) for w in GREY_WEIGHTS)
    # Blocks that fit in the cache: temporaries the size of the image would go out to
    # memory and back at every step, and take several times longer.
    step = max(1, BLOCK_PIXELS // rgb.shape[1])
    for start in range(0, rgb.shape[0], step):
        block, planes = rgb[start : start + step], out[:, start : start + step]
        grey = block[..., 0] * red_weight  # uint32: 255 * 65536 does not fit in 16 bits
        grey += block[..., 1] * green_weight
        grey += block[..., 2] * blue_weight
        grey += 0x8000
        grey >>= 16
        planes[0] = grey
        planes[1:] = np.moveaxis(block, 2, 0)
    return out


# --- L2.1: the loop against numpy ---------------------------------------------------------


def centre_crop(rgb: Pixels, side: int) -> Pixels:
    height, width, _ = rgb.shape
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return rgb[top : top + side, left : left + side]


def pixels(images: list[Pixels]) -> int:
    return sum(image.shape[0] * image.shape[1] for image in images)


def loop_bands(crops: list[Pixels]) -> list[Pixels]:
    """The crops cut into bands of rows: tasks small enough to keep every worker busy."""
    return [crop[start:stop] for crop in crops for start, stop in bands(crop.shape[0], LOOP_BANDS)]


def loop_all(crop_bands: list[Pixels], lab: Lab, mode: Mode, workers: int) -> list[Planes]:
    """The per-pixel loop over every band, by ``workers`` threads or processes. The bands
    are a few KiB each, so processes get them pickled: no shared memory needed here."""
    return map_in_mode(lab, mode, workers, filter_loop, crop_bands)


def same_planes(a: list[Planes], b: list[Planes]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def l2_loop_vs_numpy(p: LoopParams, lab: Lab) -> None:
    photos = [scaled(path, p.width) for path in sample_photos()]
    crops = [centre_crop(rgb, p.crop) for rgb in photos]
    crop_bands = loop_bands(crops)
    print(
        f"{len(photos)} photos at {p.width} px wide: {pixels(photos):,} pixels; the loop "
        f"gets a {p.crop} x {p.crop} crop of each: {pixels(crops):,} pixels"
    )
    print("the per-pixel loop:")
    looped, points = run_lab(
        p, lab, lambda p, lab, mode, workers: loop_all(crop_bands, lab, mode, workers), same_planes
    )
    vectorised, numpy_crops_s = timed(lambda: [filter_numpy(band) for band in crop_bands])
    if not same_planes(looped, vectorised):
        raise AssertionError("the loop and numpy gave different pixels")
    print("the loop and numpy give identical pixels on the crops")
    # The best of three: other work on the machine only ever makes a pass slower.
    numpy_s = min(timed(lambda: [filter_numpy(rgb) for rgb in photos])[1] for _ in range(3))

    loop_ns = points[0].wall_s / pixels(crops) * 1e9
    fastest_loop = min(points, key=lambda point: point.wall_s)
    fastest_loop_ns = fastest_loop.wall_s / pixels(crops) * 1e9
    numpy_ns = numpy_s / pixels(photos) * 1e9
    numpy_crops_ns = numpy_crops_s / pixels(crops) * 1e9
    ratio = loop_ns / numpy_ns
    lab.metric("loop_ns_per_pixel", loop_ns, "ns", width=p.width)
    lab.metric("numpy_ns_per_pixel", numpy_ns, "ns", width=p.width)
    lab.metric("numpy_crops_ns_per_pixel", numpy_crops_ns, "ns", width=p.width)
    lab.metric("loop_vs_numpy", ratio, "x", width=p.width)
    lab.metric("loop_projected_s", loop_ns * pixels(photos) / 1e9, "s", width=p.width)
    print(f"Python loop  {loop_ns:9.1f} ns a pixel (one thread, {points[0].wall_s:.3f} s)")
    print(f"numpy        {numpy_ns:9.1f} ns a pixel ({numpy_s:.3f} s for the whole photos)")
    print(f"numpy, crops {numpy_crops_ns:9.1f} ns a pixel (small arrays: the calls' overhead)")
    print(
        f"the loop is {ratio:,.0f}x slower: on the whole photos it would take "
        f"{loop_ns * pixels(photos) / 1e9:.1f} s"
    )
    if fastest_loop.mode != "sequential":
        parallel_ratio = fastest_loop_ns / numpy_ns
        labels = {"width": p.width, "mode": fastest_loop.mode, "workers": fastest_loop.workers}
        lab.metric("parallel_loop_vs_numpy", parallel_ratio, "x", **labels)
        print(
            f"the fastest loop, {fastest_loop.mode} x{fastest_loop.workers}, is still "
            f"{parallel_ratio:,.0f}x slower than numpy in one thread"
        )


# --- L2.2: threads against processes ------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """Where one photo sits in the strip of all photos (same width, stacked row-wise)."""

    name: str
    start: int
    stop: int


@dataclass(frozen=True)
class Band:
    """One task: filter rows ``start:stop`` of the strip into the planes."""

    images: shm.Handle
    planes: shm.Handle
    start: int
    stop: int


def bands(rows: int, parts: int) -> list[tuple[int, int]]:
    edges = [rows * i // parts for i in range(parts + 1)]
    return [(start, stop) for start, stop in itertools.pairwise(edges) if stop > start]


def filter_rows(images: Pixels, planes: Planes, start: int, stop: int) -> list[int]:
    """Filter rows ``start:stop`` of the strip into the planes; returns a checksum of the
    band in each plane, computed where it was written (what the modes are compared by)."""
    rows = slice(start, stop)
    filter_numpy(images[rows], out=planes[:, rows])
    return [zlib.crc32(plane[rows]) for plane in planes]


def filter_band(band: Band) -> list[int]:
    """A worker process's task: it is handed handles, never pixels; it attaches the strip
    and the planes and filters its band in place."""
    with shm.attach(band.images) as images, shm.attach(band.planes) as planes:
        return filter_rows(images.array, planes.array, band.start, band.stop)


def filter_all(
    lab: Lab, strip: shm.Segment, planes: shm.Segment, mode: Mode, workers: int
) -> list[list[int]]:
    """Every band filtered by ``workers`` threads or processes (the same bands in every
    mode); returns their checksums."""
    edges = bands(strip.handle.shape[0], BANDS)
    if mode == "sequential":
        return [filter_rows(strip.array, planes.array, start, stop) for start, stop in edges]
    if mode == "threads":  # threads share this process's memory: the arrays themselves
        with lab.ThreadPoolExecutor(workers, name=f"threads x{workers}") as threads:
            return list(
                threads.map(lambda edge: filter_rows(strip.array, planes.array, *edge), edges)
            )
    tasks = [Band(strip.handle, planes.handle, start, stop) for start, stop in edges]
    with lab.mp.ProcessPoolExecutor(workers, name=f"processes x{workers}") as processes:
        return list(processes.map(filter_band, tasks))


def stack(photos: dict[str, Pixels], strip: Pixels) -> list[Placed]:
    """Copy the photos (all of one width) one under the other into ``strip``."""
    placed, start = [], 0
    for name, rgb in photos.items():
        strip[start : start + rgb.shape[0]] = rgb
        placed.append(Placed(name, start, start + rgb.shape[0]))
        start += rgb.shape[0]
    return placed


def picture(plane: NDArray[np.uint8], filter_name: str, max_width: int) -> bytes:
    """One filtered plane as a PNG at most ``max_width`` wide."""
    image = Image.fromarray(plane)
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.BILINEAR)
    if filter_name != "grey":
        # Still one channel (a third of the bytes to compress): a palette maps each value
        # to that shade of the plane's colour.
        shades = np.zeros((256, 3), dtype=np.uint8)
        shades[:, FILTERS.index(filter_name) - 1] = np.arange(256)
        image.putpalette(shades.tobytes())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def save_pictures(lab: Lab, planes: Planes, placed: list[Placed]) -> None:
    print(f"the pictures (at most {ARTIFACT_WIDTH} px wide), kept with the run:")
    for photo in placed:
        names = []
        for index, filter_name in enumerate(FILTERS):
            name = f"l2-{photo.name}-{filter_name}.png"
            plane = planes[index, photo.start : photo.stop]
            data = picture(plane, filter_name, ARTIFACT_WIDTH)
            lab.save_artifact(name, data, "image/png", f"{photo.name}, {filter_name}")
            names.append(name)
        print(f"  {photo.name}: {', '.join(names)}")


def l2_filters(p: FilterParams, lab: Lab) -> None:
    photos = {path.stem: scaled(path, p.width) for path in sample_photos()}
    rows = sum(rgb.shape[0] for rgb in photos.values())
    shape = (len(FILTERS), rows, p.width)
    check_array_size(math.prod(shape), f"width={p.width}")
    with (
        shm.create((rows, p.width, 3), np.uint8, "images") as strip,
        shm.create(shape, np.uint8, "planes") as planes,
    ):
        placed = stack(photos, strip.array)
        # Touch every page now: the first pass would pay for the memory, and the first
        # pass is always the sequential baseline.
        planes.array.fill(0)
        print(f"{len(photos)} photos at {p.width} px wide in shared memory: {strip.handle.label}")
        run_lab(
            p,
            lab,
            lambda p, lab, mode, workers: filter_all(lab, strip, planes, mode, workers),
        )
        save_pictures(lab, planes.array, placed)


SCENARIOS = [
    Scenario(
        id="L2.1",
        section_title="Image filters",
        title="Image filters: a Python loop against numpy",
        observe="The same pixels either way, but the loop pays the interpreter for every "
        "pixel: compare the ns a pixel and loop_vs_numpy (a hundred times or more). "
        "Processes speed the loop up (at most by the number of cores, less their start-up), "
        "threads do not (the GIL), and even the fastest loop stays far behind numpy in one "
        "thread. On the small crops numpy's "
        "per-call overhead shows.",
        params=LoopParams,
        run=l2_loop_vs_numpy,
    ),
    Scenario(
        id="L2.2",
        section_title="Image filters",
        title="Image filters: threads against processes",
        observe="Threads win: numpy lets go of the GIL inside its loops, and threads share "
        "this process's memory. Processes get handles, not pixels, but each must map the "
        "shared arrays and fault their pages in (and start up): with so little work a byte, "
        "that is much of their time. Try mode=threads, a larger width, sweep=true.",
        params=FilterParams,
        run=l2_filters,
    ),
]

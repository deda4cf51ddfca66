"""Large images decode reduced (JPEG draft, or reduce right after a full decode), never
below what the model needs, and normal images decode exactly as before."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.app import create_app
from paralab.inference.images import decode, decode_rgb, decoded_pixels
from paralab.inference.service import InferenceService
from paralab.settings import REPO_ROOT, Settings
from tests.clients import local_client
from tests.inference.test_bad_images import mask_of, noisy, palette_red, sixteen_bit_grey
from tests.inference.uploads import encode, halves, solid, wait_ready

RED, GREEN = (230, 20, 20), (20, 230, 20)
KEEP = (256, 256)


def rotated_jpeg(size: tuple[int, int], orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(halves(RED, GREEN, size), "JPEG", quality=95, exif=exif)


@pytest.mark.parametrize(
    "data",
    [
        encode(noisy((500, 375))),
        encode(noisy((511, 300)), "JPEG", quality=90),
        rotated_jpeg((500, 300), 6),
        palette_red(),
        sixteen_bit_grey(),
        encode(noisy((300, 200)), "WEBP"),
    ],
    ids=["png", "jpeg", "rotated-jpeg", "palette", "16-bit", "webp"],
)
def test_images_under_twice_keep_decode_exactly_as_at_full_size(data: bytes) -> None:
    full = decode_rgb(data, 10_000_000)
    decoded = decode(data, 10_000_000, KEEP)
    assert decoded.size == full.size
    assert np.array_equal(np.asarray(decoded.image), np.asarray(full))


@pytest.mark.parametrize(
    ("data", "upright"),
    [
        (encode(halves(RED, GREEN, (20000, 2000))), (20000, 2000)),
        (encode(halves(RED, GREEN, (20000, 2000)), "JPEG", quality=90), (20000, 2000)),
        (rotated_jpeg((4000, 1000), 6), (1000, 4000)),
        (encode(halves(RED, GREEN, (3000, 600)).convert("P")), (3000, 600)),
        (encode(Image.fromarray(np.full((600, 3000), 40000, dtype=np.uint16))), (3000, 600)),
    ],
    ids=["png", "jpeg", "rotated-jpeg", "palette", "16-bit"],
)
def test_large_images_decode_reduced_but_never_below_keep(
    data: bytes, upright: tuple[int, int]
) -> None:
    decoded = decode(data, 40_000_000, KEEP)
    width, height = decoded.image.size
    assert decoded.size == upright
    assert decoded.image.mode == "RGB"
    assert KEEP[0] <= width < 2 * KEEP[0] or width == upright[0]
    assert KEEP[1] <= height < 2 * KEEP[1] or height == upright[1]
    assert width * height < upright[0] * upright[1] / 4
    pixels = np.asarray(decoded.image, dtype=np.int16)
    if upright == (20000, 2000):  # still red on the left, green on the right
        assert np.abs(pixels[5, 5] - RED).max() <= 8
        assert np.abs(pixels[5, -5] - GREEN).max() <= 8


def test_decoded_pixels_reads_the_header_and_counts_the_jpeg_draft() -> None:
    png = encode(halves(RED, GREEN, (20000, 2000)))
    jpeg = encode(halves(RED, GREEN, (20000, 2000)), "JPEG")
    assert decoded_pixels(png, KEEP) == 20000 * 2000
    assert decoded_pixels(jpeg, KEEP) == 5000 * 500  # DCT-scaled by 1/4 (2000 // 256 = 7)
    assert decoded_pixels(rotated_jpeg((4000, 1000), 6), KEEP) == 2000 * 500  # 1/2
    assert decoded_pixels(b"not an image", KEEP) == 0


PEAK_OF_ONE_DECODE = """
import sys
from pathlib import Path
from paralab.inference.images import decode

def peak_kib():  # VmHWM, not ru_maxrss: that one starts at the forking parent's peak
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])

data = Path(sys.argv[1]).read_bytes()
before = peak_kib()
decoded = decode(data, 40_000_000, (256, 256))
print((peak_kib() - before) // 1024, *decoded.image.size)
"""


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decoding_a_20000x2000_image_holds_at_most_one_full_size_buffer(
    fmt: str, tmp_path: Path
) -> None:
    # Decoded in a fresh interpreter, so its peak RSS is this decode's.
    path = tmp_path / "large"
    path.write_bytes(encode(halves(RED, GREEN, (20000, 2000)), fmt))
    result = subprocess.run(
        [sys.executable, "-c", PEAK_OF_ONE_DECODE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=True,
    )
    grown_mib, width, height = map(int, result.stdout.split())
    full_mib = 20000 * 2000 * 4 // 2**20  # Pillow holds RGB in 4 bytes a pixel
    print(f"{fmt} 20000x2000 -> {width}x{height}: peak RSS grew {grown_mib} MiB ({full_mib} full)")
    assert 256 <= width < 512
    assert 256 <= height < 512
    if fmt == "JPEG":
        assert grown_mib < full_mib // 4  # decoded at 1/4 scale: the full image never exists
    else:
        assert grown_mib < full_mib * 3 // 2  # one full image, reduced right away


def test_large_images_are_still_classified_and_segmented_right(
    model_client: TestClient[Litestar],
) -> None:
    # 4000x1000 is 31 x 7 times the tiny CNN's keep size: decoded reduced.
    image = halves(RED, GREEN, (4000, 1000))
    mostly_red = np.asarray(image).copy()
    mostly_red[:, 3000:] = RED
    cnn = model_client.post(
        "/api/models/colour-cnn/predict", content=encode(Image.fromarray(mostly_red))
    )
    assert cnn.status_code == 200, cnn.text
    assert cnn.json()["label"] == "red"
    fcn = model_client.post("/api/models/colour-fcn/predict", content=encode(image))
    assert fcn.status_code == 200, fcn.text
    body = fcn.json()
    assert (body["width"], body["height"]) == (4000, 1000)
    mask = mask_of(body)
    assert mask.shape == (1000, 4000)
    assert (mask[:, :1900] == 0).all()  # red half -> pet
    assert (mask[:, 2100:] == 1).all()  # green half -> background
    assert body["class_fractions"]["pet"] == pytest.approx(0.5, abs=0.02)
    overlay = Image.open(io.BytesIO(base64.b64decode(body["overlay_png"])))
    assert overlay.size == (1024, 256)


def test_the_pixel_budgets_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"PARALAB_MAX_BATCH_PIXELS": "1000000", "PARALAB_LARGE_IMAGE_PIXELS": "5000"}
    )
    assert settings.inference.max_batch_pixels == 1_000_000
    assert settings.inference.large_image_pixels == 5000
    with pytest.raises(ValueError, match="PARALAB_MAX_BATCH_PIXELS"):
        Settings.from_env({"PARALAB_MAX_BATCH_PIXELS": "0"})


def peak_rss_mib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in MiB: now, and the highest since it started."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def test_32_large_uploads_keep_worker_memory_bounded_and_small_images_flowing(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    # The reported case: 32 concurrent 20000x2000 PNGs (~120 kB each, 40 MP: allowed),
    # and a small image sent meanwhile.
    array = np.empty((2000, 20000, 3), dtype=np.uint8)
    array[..., 0] = 230
    array[..., 1] = np.linspace(0, 60, 20000, dtype=np.uint8)
    array[..., 2] = 20
    large = encode(Image.fromarray(array))
    del array
    small = encode(solid(GREEN))
    settings = Settings().replace(
        data_dir=tmp_path,
        models_dir=tiny_models_dir,
        inference_workers=2,
        inference_timeout_s=120,  # room on a busy machine: this test is about memory
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        service: InferenceService = client.app.state.services.inference
        pids = service.worker_pids()
        before = {pid: peak_rss_mib(pid)[0] for pid in pids}
        with concurrent.futures.ThreadPoolExecutor(32) as threads:
            uploads = [
                threads.submit(client.post, "/api/models/colour-cnn/predict", content=large)
                for _ in range(32)
            ]
            smalls: list[tuple[int, str, float]] = []
            while not all(upload.done() for upload in uploads) and len(smalls) < 100:
                started = time.perf_counter()
                answer = client.post("/api/models/colour-cnn/predict", content=small)
                label = answer.json().get("label", answer.text)
                smalls.append((answer.status_code, label, time.perf_counter() - started))
                time.sleep(0.2)
            answers = [upload.result(timeout=300) for upload in uploads]
        after = {pid: peak_rss_mib(pid) for pid in pids}
    for pid in pids:
        print(f"worker {pid}: RSS {before[pid]} MiB before, peak {after[pid][1]} MiB")
    latencies = [round(seconds, 2) for _, _, seconds in smalls]
    print(f"{len(smalls)} small images meanwhile, latency (s): {latencies}")
    assert [(a.status_code, a.json().get("label")) for a in answers] == [(200, "red")] * 32
    assert smalls
    assert all((status, label) == (200, "green") for status, label, _ in smalls)
    for pid in pids:  # one 160 MB decode at a time, where 16 at once took 2.6 GB more
        assert after[pid][1] - before[pid] < 1024

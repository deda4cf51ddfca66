"""Inference benchmark: the served models against their raw speed, measured in one run.

Prints four ratios (see issue #4):
  1. FCN: HTTP throughput at 16 concurrent clients / raw in-process batched throughput
     (the same Keras model through one tf.function with a fixed input shape); goal >= 0.80.
  2. CNN: HTTP throughput at 16 clients / a bare Litestar endpoint taking the same upload
     and answering a fixed JSON; goal >= 0.50. Printed for each variant: on 2 cores the
     Keras CNN (flip TTA, ~2 ms of core time per image) is model-bound, not framework-bound.
  3. CNN: HTTP throughput / the seed's way of serving (start Python, import TensorFlow,
     load the model, predict, per request); goal >= 1000x.
  4. Single-request p50 latency minus the raw compiled single-image latency; goal <= 15 ms.

Usage: python bench/inference.py [--seconds 10] [--models-dir models]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import free_port, running_server

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 16
VARIANTS = ["keras", "tflite-fp16", "tflite-int8"]


def sample_image(size: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    smooth = rng.integers(0, 255, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(smooth).resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def load(
    url: str, model: str, image: bytes, seconds: float, clients: int, variant: str = "keras"
) -> tuple[float, list[float]]:
    """Throughput (requests/s) and per-request latencies of ``clients`` concurrent loops."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.post(
                    f"/api/models/{model}/predict",
                    params={"variant": variant},
                    files={"file": ("x.jpg", image, "image/jpeg")},
                )
                if response.status_code != 200:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    if errors:
        print(f"      ({errors} non-200 answers)")
    return len(latencies) / elapsed, latencies


def raw_reference(models_dir: Path, name: str, batch: int, seconds: float) -> tuple[float, float]:
    """(batched images/s, single-image ms) of the compiled Keras model in this process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from paralab.inference.manifest import read_manifest

    manifest = read_manifest(models_dir / name)
    model = keras.models.load_model(models_dir / name / "model.keras", compile=False)
    h, w, c = manifest.input_size
    compiled = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, h, w, c], tf.float32)],
    )
    batch_input = tf.constant(
        np.random.default_rng(0).uniform(0, 255, (batch, h, w, c)).astype("float32")
    )
    single = batch_input[:1]
    for _ in range(3):
        compiled(batch_input), compiled(single)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        np.asarray(compiled(batch_input))
        count += batch
    throughput = count / (time.perf_counter() - start)
    timings = []
    for _ in range(200):
        t = time.perf_counter()
        np.asarray(compiled(single))
        timings.append(time.perf_counter() - t)
    return throughput, statistics.median(timings) * 1000


def seed_way(models_dir: Path, name: str, image: bytes, repeats: int) -> float:
    """Seconds per request when each request starts Python, imports TF and loads the model."""
    script = (
        "import io,sys,numpy as np,tensorflow as tf,keras;from PIL import Image;"
        f"m=keras.models.load_model({str(models_dir / name / 'model.keras')!r},compile=False);"
        "img=Image.open(io.BytesIO(sys.stdin.buffer.read())).convert('RGB').resize("
        "(m.input_shape[2],m.input_shape[1]));"
        "print(np.argmax(m.predict(np.asarray(img,dtype='float32')[None],verbose=0)))"
    )
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", script],
            input=image,
            capture_output=True,
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bare_throughput(image: bytes, seconds: float) -> float:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "_bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).parent,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        throughput, _ = asyncio.run(load(url, "bare", image, seconds, CLIENTS))
        return throughput
    finally:
        server.terminate()
        server.wait()


def single_p50_ms(url: str, model: str, image: bytes, n: int = 100) -> float:
    with httpx.Client(base_url=url, timeout=60) as client:
        timings = []
        for _ in range(n):
            start = time.perf_counter()
            client.post(
                f"/api/models/{model}/predict", files={"file": ("x.jpg", image, "image/jpeg")}
            )
            timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def row(what: str, value: str, note: str) -> None:
    print(f"  {what:<38}{value:>10}   ({note})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--cnn", default="cifar10-cnn")
    parser.add_argument("--fcn", default="oxford-pets-fcn")
    parser.add_argument("--seed-repeats", type=int, default=2)
    args = parser.parse_args()
    cnn_image = sample_image((32, 32), 1)
    fcn_image = sample_image((128, 128), 2)

    print("[1/5] raw compiled models in this process ...", flush=True)
    fcn_raw, fcn_single_ms = raw_reference(args.models_dir, args.fcn, 16, args.seconds / 2)
    cnn_raw, cnn_single_ms = raw_reference(args.models_dir, args.cnn, 64, args.seconds / 2)
    print(f"      FCN {fcn_raw:,.1f} img/s at batch 16, {fcn_single_ms:.2f} ms single")
    print(f"      CNN {cnn_raw:,.0f} img/s at batch 64, {cnn_single_ms:.2f} ms single")

    print(
        "[2/5] the seed's way: a new Python + TensorFlow + model load per request ...", flush=True
    )
    seed_s = seed_way(args.models_dir, args.cnn, cnn_image, args.seed_repeats)
    print(f"      {seed_s:.2f} s per request")

    print("[3/5] a bare Litestar endpoint with the same upload ...", flush=True)
    bare = bare_throughput(cnn_image, args.seconds)
    print(f"      {bare:,.0f} requests/s at {CLIENTS} clients")

    print("[4/5] ParaLab over HTTP (uvicorn + process pool) ...", flush=True)
    env = {
        "PARALAB_MODELS_DIR": str(args.models_dir),
        "PARALAB_MODEL_NAMES": f"{args.cnn},{args.fcn}",
    }
    with running_server(**env) as url:
        cnn_http: dict[str, float] = {}
        for variant in VARIANTS:
            asyncio.run(load(url, args.cnn, cnn_image, 2, CLIENTS, variant))  # warm up
            cnn_http[variant], _ = asyncio.run(
                load(url, args.cnn, cnn_image, args.seconds, CLIENTS, variant)
            )
            print(f"      CNN {variant}: {cnn_http[variant]:,.0f} req/s at {CLIENTS} clients")
        fcn_http, _ = asyncio.run(load(url, args.fcn, fcn_image, args.seconds, CLIENTS))
        print(f"      FCN keras: {fcn_http:,.1f} req/s at {CLIENTS} clients")
        print("[5/5] single requests, one at a time ...", flush=True)
        cnn_p50 = single_p50_ms(url, args.cnn, cnn_image)
        fcn_p50 = single_p50_ms(url, args.fcn, fcn_image, n=40)

    print("\nresults (measured side by side in this run)")
    row("FCN HTTP / raw batched", f"{fcn_http / fcn_raw:6.2f}", "goal >= 0.80")
    for variant, rate in cnn_http.items():
        row(f"CNN {variant} HTTP / bare Litestar", f"{rate / bare:6.2f}", "goal >= 0.50")
    row("CNN keras HTTP / seed's way", f"{cnn_http['keras'] * seed_s:6.0f}x", "goal >= 1000x")
    row(
        "CNN p50 - raw single",
        f"{cnn_p50 - cnn_single_ms:6.2f} ms",
        f"goal <= 15 ms; p50 {cnn_p50:.2f} ms",
    )
    row("FCN p50 - raw single", f"{fcn_p50 - fcn_single_ms:6.2f} ms", f"p50 {fcn_p50:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

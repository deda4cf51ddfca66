"""Workers that die or hang: readiness tells the truth, the pool comes back, the batches
it lost are resubmitted, and a poison image fails alone."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.app import create_app
from paralab.inference.service import InferenceService
from paralab.settings import REPO_ROOT, Settings
from tests.clients import local_client
from tests.inference.uploads import encode, solid, wait_ready

COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


def metric(client: TestClient[Any], name: str) -> float:
    rows = [row for row in client.get("/metrics").text.splitlines() if row.startswith(name)]
    return float(rows[0].split()[-1]) if rows else 0.0


@pytest.fixture
def fault_client(tiny_models_dir: Path, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings().replace(
        data_dir=tmp_path,
        models_dir=tiny_models_dir,
        inference_workers=1,
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        yield client


def slow_image() -> bytes:
    """A large but highly compressible image (36 MP in 120 kB): seconds of work in the
    worker (decode, resize, a full-size mask), so a test can act while it is busy."""
    gradient = np.tile(np.linspace(0, 255, 6000, dtype=np.uint8), (6000, 1))
    return encode(Image.fromarray(np.stack([gradient] * 3, axis=-1)))


def test_a_request_held_by_a_killed_worker_is_resubmitted_to_the_new_pool(
    fault_client: TestClient[Litestar],
) -> None:
    service: InferenceService = fault_client.app.state.services.inference
    (old_pid,) = service.worker_pids()
    answer: dict[str, object] = {}

    def held_request() -> None:
        response = fault_client.post(
            "/api/models/colour-fcn/predict",
            content=slow_image(),
            headers={"content-type": "image/png"},
        )
        answer["status"] = response.status_code
        answer["body"] = response.json()

    request = threading.Thread(target=held_request)
    request.start()
    while service.pending == 0:
        time.sleep(0.005)
    time.sleep(0.2)  # the batch is in the worker now
    os.kill(old_pid, signal.SIGKILL)
    request.join(timeout=120)

    assert answer["status"] == 200, answer
    body = answer["body"]
    assert isinstance(body, dict)
    assert (body["width"], body["height"]) == (6000, 6000)
    (new_pid,) = service.worker_pids()
    assert new_pid != old_pid
    assert metric(fault_client, "paralab_inference_worker_restarts_total") == 1
    assert metric(fault_client, "paralab_inference_resubmitted_batches_total") >= 1
    response = fault_client.post(
        "/api/models/colour-cnn/predict", content=encode(solid((20, 20, 230)))
    )
    assert response.json()["label"] == "blue"


def test_a_full_queue_is_503_with_retry_after(tiny_models_dir: Path, tmp_path: Path) -> None:
    settings = Settings().replace(
        data_dir=tmp_path, models_dir=tiny_models_dir, inference_workers=1, inference_queue_size=2
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        service: InferenceService = client.app.state.services.inference
        statuses: list[int] = []
        slow = slow_image()

        def post_slow() -> None:
            response = client.post("/api/models/colour-fcn/predict", content=slow)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=post_slow) for _ in range(2)]
        for thread in threads:
            thread.start()
        while service.pending < 2:  # both stay pending for the seconds the images take
            time.sleep(0.005)
        refused = client.post("/api/models/colour-cnn/predict", content=encode(solid((9, 9, 9))))
        for thread in threads:
            thread.join(timeout=60)
    assert refused.status_code == 503
    assert refused.json()["detail"].startswith("The inference queue is full")
    assert refused.headers["retry-after"]
    assert statuses == [200, 200]


def test_a_request_slower_than_the_timeout_is_504(tiny_models_dir: Path, tmp_path: Path) -> None:
    settings = Settings().replace(
        data_dir=tmp_path, models_dir=tiny_models_dir, inference_workers=1, inference_timeout_s=0.3
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        response = client.post("/api/models/colour-fcn/predict", content=slow_image())
    assert response.status_code == 504
    assert response.json()["error"] == "inference_timeout"


def test_an_idle_worker_that_dies_makes_readiness_false_until_replaced_and_requests_wait(
    fault_client: TestClient[Litestar],
) -> None:
    service: InferenceService = fault_client.app.state.services.inference
    (old_pid,) = service.worker_pids()
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while fault_client.get("/health/ready").status_code == 200:
        assert time.monotonic() < deadline, "readiness never noticed the dead worker"
        time.sleep(0.05)
    body = fault_client.get("/health/ready").json()
    assert body["checks"]["models"]["ready"] is False
    # A request that arrives while the pool is rebuilt waits for it, within its time-out.
    waited = fault_client.post(
        "/api/models/colour-cnn/predict", content=encode(solid((20, 20, 230)))
    )
    assert waited.status_code == 200, waited.text
    assert waited.json()["label"] == "blue"
    wait_ready(fault_client)
    assert service.worker_pids() != [old_pid]


def test_a_stuck_worker_is_noticed_and_replaced(tiny_models_dir: Path, tmp_path: Path) -> None:
    settings = Settings().replace(
        data_dir=tmp_path,
        models_dir=tiny_models_dir,
        inference_workers=1,
        inference_timeout_s=0.5,
        inference_stall_s=1.0,
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        service: InferenceService = client.app.state.services.inference
        (stuck_pid,) = service.worker_pids()
        os.kill(stuck_pid, signal.SIGSTOP)  # alive, holding its work, never answering
        try:
            timed_out = client.post(
                "/api/models/colour-cnn/predict", content=encode(solid((230, 20, 20)))
            )
            assert timed_out.status_code == 504
            deadline = time.monotonic() + 10
            while client.get("/health/ready").status_code == 200:
                assert time.monotonic() < deadline, "readiness never noticed the stuck worker"
                time.sleep(0.05)
            assert "stuck" in client.get("/health/ready").json()["checks"]["models"]["detail"]
            wait_ready(client)
            assert service.worker_pids() != [stuck_pid]
            answer = client.post(
                "/api/models/colour-cnn/predict", content=encode(solid((20, 20, 230)))
            )
            assert answer.json()["label"] == "blue"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stuck_pid, signal.SIGKILL)


def test_workers_leave_when_the_server_is_killed(tiny_models_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PARALAB_DATA_DIR": str(tmp_path),
        "PARALAB_MODELS_DIR": str(tiny_models_dir),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "paralab", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    family: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "the server never became ready"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                    break
            time.sleep(0.2)
        family = psutil.Process(server.pid).children(recursive=True)
        assert len(family) >= 2  # at least the forkserver and a worker
    finally:
        server.kill()  # no shutdown hooks run: the children are on their own now
        server.wait()
    _, alive = psutil.wait_procs(family, timeout=15)
    for process in alive:
        process.kill()
    assert not alive, [p.cmdline() for p in alive]


def test_kill_9_of_a_worker_under_load_fails_no_request(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    settings = Settings().replace(
        data_dir=tmp_path,
        models_dir=tiny_models_dir,
        inference_workers=2,
        inference_timeout_s=180,  # room for the rebuild on a busy machine
    )
    slow = slow_image()
    with local_client(create_app(settings)) as client:
        wait_ready(client)
        service: InferenceService = client.app.state.services.inference
        victim = service.worker_pids()[0]

        def call(index: int) -> tuple[str, int, str]:
            if index % 8 == 0:  # seconds in a worker: some batch is always in one
                response = client.post("/api/models/colour-fcn/predict", content=slow)
                return "6000", response.status_code, str(response.json().get("width"))
            label = list(COLOURS)[index % 3]
            response = client.post(
                "/api/models/colour-cnn/predict", content=encode(solid(COLOURS[label]))
            )
            return label, response.status_code, str(response.json().get("label"))

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = [pool.submit(call, index) for index in range(48)]
            while sum(a.done() for a in answers) < 4 or service.pending == 0:
                assert not all(a.done() for a in answers), "the load ended before the kill"
                time.sleep(0.01)
            os.kill(victim, signal.SIGKILL)
            results = [a.result(timeout=300) for a in answers]
        restarts = metric(client, "paralab_inference_worker_restarts_total")
        resubmitted = metric(client, "paralab_inference_resubmitted_batches_total")
    print(f"restarts {restarts}, resubmitted batches {resubmitted}")
    assert [(status, got) for _, status, got in results] == [
        (200, expected) for expected, _, _ in results
    ]
    assert restarts == 1
    assert resubmitted >= 1


POISON_SERVER = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tests.clients import local_client
from PIL.PngImagePlugin import PngInfo
from paralab.app import create_app
from paralab.inference import pool
from paralab.settings import Settings
from tests.inference.uploads import encode, solid, wait_ready

if __name__ == "__main__":
    pool.PRELOAD.append("tests.inference.poison")  # into the workers, through the forkserver
    colours = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}
    marked = PngInfo()
    marked.add_text("paralab", "poison")
    poison = encode(solid(colours["red"]), pnginfo=marked)
    settings = Settings().replace(
        data_dir=Path(sys.argv[1]),
        models_dir=Path(sys.argv[2]),
        inference_workers=2,
        inference_timeout_s=300,  # room for the rebuilds on a busy machine
    )
    with local_client(create_app(settings)) as client:
        wait_ready(client)

        def call(index):
            label = "poison" if index in (9, 10, 30) else list(colours)[index % 3]
            data = poison if label == "poison" else encode(solid(colours[label]))
            response = client.post("/api/models/colour-cnn/predict", content=data)
            body = response.json()
            return [label, response.status_code, body.get("label") or body.get("error")]

        with ThreadPoolExecutor(8) as threads:
            results = list(threads.map(call, range(40)))
        wait_ready(client)
        blue = encode(solid(colours["blue"]))
        after = client.post("/api/models/colour-cnn/predict", content=blue)
        restarts = [r for r in client.get("/metrics").text.splitlines()
                    if r.startswith("paralab_inference_worker_restarts_total")]
        print(json.dumps({"results": results, "after": after.json()["label"],
                          "restarts": float(restarts[0].split()[-1])}))
"""


def test_a_poison_image_fails_alone_and_cannot_crash_the_pool_in_a_loop(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    # Its own server process: the poison is loaded into the workers through the
    # forkserver's preload (tests/inference/poison.py), which this process never imports.
    result = subprocess.run(
        [sys.executable, "-c", POISON_SERVER, str(tmp_path), str(tiny_models_dir)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"poison: {outcome['restarts']:g} pool restarts")
    results = outcome["results"]
    innocent = [(label, status, got) for label, status, got in results if label != "poison"]
    poisoned = [(status, got) for label, status, got in results if label == "poison"]
    assert innocent == [(label, 200, label) for label, _, _ in innocent]
    assert poisoned == [(503, "unavailable")] * 3
    # Each poison request broke the pool twice (once in its batch, once alone), or fewer
    # when poison requests shared a batch: never more.
    assert 2 <= outcome["restarts"] <= 6
    assert outcome["after"] == "blue"

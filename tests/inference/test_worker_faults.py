"""A worker killed with SIGKILL: its requests get 503, readiness tells the truth, it comes back."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image

from paralab.app import create_app
from paralab.inference.service import InferenceService
from paralab.settings import Settings
from tests.inference.uploads import encode, solid, wait_ready


@pytest.fixture
def fault_client(tiny_models_dir: Path, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings().replace(
        data_dir=tmp_path,
        models_dir=tiny_models_dir,
        inference_workers=1,
    )
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def slow_image() -> bytes:
    """A large but highly compressible image (36 MP in 120 kB): seconds of work in the
    worker (decode, resize, a full-size mask), so a test can act while it is busy."""
    gradient = np.tile(np.linspace(0, 255, 6000, dtype=np.uint8), (6000, 1))
    return encode(Image.fromarray(np.stack([gradient] * 3, axis=-1)))


def test_killed_worker_answers_503_reports_not_ready_and_is_replaced(
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
        answer["retry_after"] = response.headers.get("retry-after")
        answer["body"] = response.json()

    request = threading.Thread(target=held_request)
    request.start()
    while service.pending == 0:
        time.sleep(0.005)
    time.sleep(0.2)  # the batch is in the worker now
    os.kill(old_pid, signal.SIGKILL)
    request.join(timeout=60)

    assert answer["status"] == 503, answer
    assert answer["retry_after"]
    wait_ready(fault_client)
    (new_pid,) = service.worker_pids()
    assert new_pid != old_pid
    assert "paralab_inference_worker_restarts_total 1.0" in fault_client.get("/metrics").text
    response = fault_client.post(
        "/api/models/colour-cnn/predict", content=encode(solid((20, 20, 230)))
    )
    assert response.json()["label"] == "blue"


def test_a_full_queue_is_503_with_retry_after(tiny_models_dir: Path, tmp_path: Path) -> None:
    settings = Settings().replace(
        data_dir=tmp_path, models_dir=tiny_models_dir, inference_workers=1, inference_queue_size=2
    )
    with TestClient(create_app(settings)) as client:
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
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        response = client.post("/api/models/colour-fcn/predict", content=slow_image())
    assert response.status_code == 504
    assert response.json()["error"] == "inference_timeout"


def test_an_idle_worker_that_dies_makes_readiness_false_until_replaced(
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
    refused = fault_client.post("/api/models/colour-cnn/predict", content=encode(solid((1, 2, 3))))
    assert refused.status_code == 503
    assert refused.headers["retry-after"]
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
    with TestClient(create_app(settings)) as client:
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

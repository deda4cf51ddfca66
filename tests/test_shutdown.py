"""SIGTERM to a real server under load: it stops accepting, finishes the inference in
flight, cancels the runs with a recorded reason, ends every stream with a going-away
frame and close 1001, leaves no shared memory behind and exits 0."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image

from paralab.lab import shm
from tests.live_server import live_server

TINY_MODELS = Path(__file__).parent / "inference" / "tiny_models.py"


def red_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (230, 20, 20)).save(buffer, format="PNG")
    return buffer.getvalue()


async def follow(url: str, started: threading.Event) -> tuple[list[int], dict[str, Any], int]:
    seqs: list[int] = []
    end: dict[str, Any] = {}
    async with websockets.connect(url, ping_interval=None, max_size=None) as ws:
        try:
            async for message in ws:
                frame = json.loads(message)
                if frame["type"] == "events":
                    seqs.extend(event["seq"] for event in frame["events"])
                    started.set()
                elif frame["type"] == "end":
                    end = frame
        except websockets.ConnectionClosed:
            pass
        return seqs, end, ws.close_code or 0


@pytest.mark.slow
def test_sigterm_under_load_says_goodbye_and_exits_0(tmp_path: Path) -> None:
    models = tmp_path / "models"
    subprocess.run([sys.executable, str(TINY_MODELS), str(models)], check=True)
    with live_server(
        tmp_path,
        models=True,
        models_dir=str(models),
        inference_workers="1",
        max_batch_delay_ms="3000",  # a request waits 3 s for companions: in flight at SIGTERM
        shutdown_grace_s="20",
    ) as server:
        server.wait_ready()
        run = httpx.post(
            f"{server.url}/api/runs",
            json={"scenario_id": "C1.2", "params": {"rate": 20, "seconds": 60}},
        ).json()
        followed = threading.Event()
        stream: dict[str, Any] = {}
        follower = threading.Thread(
            target=lambda: stream.update(
                result=asyncio.run(follow(f"{server.ws_url}/ws/runs/{run['id']}", followed))
            )
        )
        follower.start()
        assert followed.wait(30)
        prediction: dict[str, Any] = {}
        predictor = threading.Thread(
            target=lambda: prediction.update(
                response=httpx.post(
                    f"{server.url}/api/models/colour-cnn/predict",
                    content=red_png(),
                    headers={"Content-Type": "image/png"},
                    timeout=60,
                )
            )
        )
        predictor.start()
        threading.Event().wait(0.5)  # the request is in the batcher now
        server.process.send_signal(signal.SIGTERM)
        exit_code = server.process.wait(timeout=60)
        predictor.join(10)
        follower.join(10)
        log = server.log_text()

    assert exit_code == 0, log
    answer = prediction["response"]
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] == "red"
    seqs, end, close_code = stream["result"]
    assert close_code == 1001
    assert end["going_away"] is True
    assert end["status"] == "cancelled"
    assert seqs == list(range(1, end["last_seq"] + 1))  # every event, once, in order
    assert end["next_seq"] == end["last_seq"] + 1
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert not [name for name in os.listdir(shm.SHM_DIR) if name.startswith(shm.prefix(run["id"]))]

    with live_server(tmp_path) as again:  # the same store, read by the next server
        stored = httpx.get(f"{again.url}/api/runs/{run['id']}").json()
    assert stored["status"] == "cancelled"
    assert "shut" in stored["error"]

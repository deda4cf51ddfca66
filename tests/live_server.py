"""A real ``paralab serve`` process on a free 127.0.0.1 port, for tests that need what
only a real server does (uvicorn's limits, signals, slow sockets, warm-up)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_listening(self, timeout_s: float = 120) -> None:
        """Until ``/health/live`` answers: the app is up, its services may still be starting."""
        self._wait(
            lambda: httpx.get(f"{self.url}/health/live", timeout=2).status_code == 200,
            timeout_s,
            "listening",
        )

    def wait_ready(self, timeout_s: float = 240) -> None:
        """Until ``/health/ready`` is 200 (the models are loaded in every worker)."""
        self._wait(
            lambda: httpx.get(f"{self.url}/health/ready", timeout=5).status_code == 200,
            timeout_s,
            "ready",
        )

    def _wait(self, probe: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the server exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if probe():
                    return
            time.sleep(0.05)
        raise AssertionError(f"the server was not {what} after {timeout_s:g} s:\n{self.log_tail()}")


@contextlib.contextmanager
def live_server(folder: Path, *, models: bool = False, **settings: str) -> Iterator[LiveServer]:
    """Serve with ``PARALAB_<NAME>=value`` for each setting (the shipped models only with
    ``models``), once it answers ``/health/live``; stopped by SIGTERM, then SIGKILL."""
    port = free_port()
    env = {**os.environ, "PARALAB_DATA_DIR": str(folder / "var")}
    if not models:
        env["PARALAB_MODELS_DIR"] = str(folder / "no-models")
    env.update({f"PARALAB_{name.upper()}": value for name, value in settings.items()})
    log = folder / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "paralab", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, log)
    try:
        server.wait_listening()
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

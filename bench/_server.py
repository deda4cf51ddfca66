"""Start a real ParaLab server (uvicorn, own data dir) for a benchmark, and stop it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(**env: str) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        environment = {**os.environ, "PARALAB_DATA_DIR": data_dir, **env}
        server = subprocess.Popen(
            [sys.executable, "-m", "paralab", "serve", "--port", str(port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            else:
                raise RuntimeError("server did not become ready")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)

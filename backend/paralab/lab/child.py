"""Entry point of a scenario's own process: ``python -m paralab.lab.child``.

Reads ``{"scenario_id", "params", "origin_ns"}`` as JSON on stdin, runs the scenario, and
writes framed events to the pipe that was stdout. fd 1 is then pointed at stderr so stray
writes (C code, subprocesses) reach the server as raw output and cannot corrupt frames.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import sys
import threading
import traceback

import msgspec

from paralab.lab import traced
from paralab.lab.catalog import find
from paralab.lab.emitter import Emitter
from paralab.lab.events import ActorEnd, ActorStart, Output, RunLifecycle
from paralab.lab.scenario import Lab

PR_SET_PDEATHSIG = 1


class StartRequest(msgspec.Struct, frozen=True):
    scenario_id: str
    params: dict[str, object]
    origin_ns: int


class _PrintToEvents:
    """sys.stdout replacement: each printed line becomes an Output event of its thread."""

    def __init__(self) -> None:
        self._partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        key = threading.get_ident()
        pending = self._partial.get(key, "") + text
        *lines, rest = pending.split("\n")
        for line in lines:
            traced.emit(Output, line=line)
        self._partial[key] = rest
        return len(text)

    def flush(self) -> None:
        rest = self._partial.pop(threading.get_ident(), "")
        if rest:
            traced.emit(Output, line=rest)


def _flush_and_exit(emitter: Emitter) -> None:
    emitter.flush(timeout_s=0.5)
    os._exit(128 + signal.SIGTERM)


def _die_with_the_server() -> None:
    """Linux: SIGTERM this process if the server that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the server died before prctl took effect
        os._exit(1)


def main() -> int:
    _die_with_the_server()
    request = msgspec.json.decode(sys.stdin.buffer.read(), type=StartRequest)
    events_fd = os.dup(1)
    os.dup2(2, 1)
    emitter = Emitter(events_fd, request.origin_ns)
    traced.install(emitter)
    # Threads still running after main() (non-daemon) emit until the interpreter exits;
    # SIGTERM (cancel, time limit) must not drop what is buffered either.
    atexit.register(emitter.flush)
    signal.signal(signal.SIGTERM, lambda *_: _flush_and_exit(emitter))
    threading.current_thread().name = "main"
    sys.stdout = _PrintToEvents()

    scenario = find(request.scenario_id)
    if scenario is None:
        emitter.emit(
            RunLifecycle, status="failed", detail=f"unknown scenario {request.scenario_id}"
        )
        return 2
    emitter.emit(ActorStart, kind="main")
    exit_code = 1
    try:
        params = msgspec.convert(request.params, scenario.params)
        scenario.run(params, Lab(params))
        sys.stdout.flush()
        exit_code = 0
    except BaseException:
        detail = traceback.format_exc()
        for line in detail.rstrip().splitlines():
            emitter.emit(Output, line=line, stream="stderr")
        emitter.emit(RunLifecycle, status="failed", detail=detail)
    finally:
        emitter.emit(ActorEnd, kind="main", exit_code=exit_code)
        emitter.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of a scenario's own process: ``python -m paralab.lab.child``.

Reads ``{"scenario_id", "params", "origin_ns"}`` as JSON on stdin, runs the scenario, and
writes framed events to the pipe that was stdout (see ``bootstrap``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

import msgspec

from paralab.errors import UnknownScenario
from paralab.lab.bootstrap import start_emitting
from paralab.lab.catalog import find
from paralab.lab.events import ActorEnd, ActorStart, Output, RunLifecycle
from paralab.lab.scenario import Lab
from paralab.lab.traced.processes import stop_children

PR_SET_PDEATHSIG = 1


class StartRequest(msgspec.Struct, frozen=True):
    scenario_id: str
    params: dict[str, object]
    origin_ns: int


def _die_with_the_server() -> None:
    """Linux: SIGTERM this process if the server that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the server died before prctl took effect
        os._exit(1)


PACKAGE_PARENT = Path(__file__).resolve().parents[2]
"""The folder that holds ``paralab/``: traceback paths are shown relative to it."""


def _shown_path(filename: str) -> str:
    """Where a frame's file is, without this machine's absolute paths: ``paralab/...``
    for ours, ``<python>/...`` or ``<site-packages>/...`` for the rest."""
    path = Path(filename)
    if path.is_relative_to(PACKAGE_PARENT):
        return str(path.relative_to(PACKAGE_PARENT))
    for marker in ("site-packages", "dist-packages"):
        if marker in path.parts:
            return f"<{marker}>/" + "/".join(path.parts[path.parts.index(marker) + 1 :])
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        if path.is_relative_to(prefix):
            return "<python>/" + "/".join(path.relative_to(prefix).parts[2:])  # lib/python3.x
    return path.name


def scenario_traceback() -> str:
    """The exception being handled, its frames' paths shown by ``_shown_path``."""
    report = traceback.TracebackException(*sys.exc_info())
    for exc in _chain(report):
        for frame in exc.stack:
            frame.filename = _shown_path(frame.filename)
    return "".join(report.format())


def _chain(report: traceback.TracebackException) -> list[traceback.TracebackException]:
    found: list[traceback.TracebackException] = []
    todo = [report]
    while todo:
        current = todo.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(current.exceptions or [])
    return found


def main() -> int:
    _die_with_the_server()
    request = msgspec.json.decode(sys.stdin.buffer.read(), type=StartRequest)
    emitter = start_emitting(request.origin_ns)
    threading.current_thread().name = "main"

    try:
        scenario = find(request.scenario_id)
    except UnknownScenario as exc:
        emitter.emit(RunLifecycle, status="failed", detail=exc.detail)
        return 2
    emitter.emit(ActorStart, kind="main")
    exit_code = 1
    try:
        params = scenario.validate(request.params)
        scenario.run(params, Lab(params))
        sys.stdout.flush()
        exit_code = 0
    except BaseException:
        detail = scenario_traceback()
        for line in detail.rstrip().splitlines():
            emitter.emit(Output, line=line, stream="stderr")
        emitter.emit(RunLifecycle, status="failed", detail=detail)
    finally:
        stop_children()  # daemons are killed, the others waited for: before main ends
        emitter.emit(ActorEnd, kind="main", exit_code=exit_code)
        emitter.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

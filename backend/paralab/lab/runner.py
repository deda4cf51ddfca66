"""Run one scenario in its own child process and process group, streaming its events.

The engine knows nothing about any particular scenario: it starts
``python -m paralab.lab.child``, sends it the request, decodes framed events from its
stdout, turns its stderr into output lines, and enforces the wall-time limit and
cancellation by signalling the whole process group (SIGTERM, then SIGKILL after a grace).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from paralab.lab.emitter import FrameReader
from paralab.lab.events import Event, Output, RunLifecycle, RunStatus, msgpack_decoder

EventSink = Callable[[Sequence[Event]], None]
READ_SIZE = 1 << 16


@dataclass
class Outcome:
    status: RunStatus
    """succeeded | failed | cancelled | timed_out"""
    exit_code: int | None
    error: str = ""


@dataclass
class ChildRun:
    """A handle the owner keeps to cancel a run while ``run_child`` is awaiting it."""

    cancel_requested: asyncio.Event
    pid: int | None = None

    @classmethod
    def create(cls) -> ChildRun:
        return cls(cancel_requested=asyncio.Event())


async def run_child(
    scenario_id: str,
    params: dict[str, object],
    sink: EventSink,
    *,
    time_limit_s: float,
    grace_s: float = 2.0,
    handle: ChildRun | None = None,
    origin_ns: int | None = None,
) -> Outcome:
    """Run the scenario to its end (or limit, or cancel); every event goes to ``sink``."""
    handle = handle or ChildRun.create()
    origin_ns = time.monotonic_ns() if origin_ns is None else origin_ns
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "paralab.lab.child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=READ_SIZE,
    )
    handle.pid = process.pid
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    request = {"scenario_id": scenario_id, "params": params, "origin_ns": origin_ns}
    process.stdin.write(msgspec.json.encode(request))
    process.stdin.close()

    child_error: list[str] = []

    def forward(events: Sequence[Event]) -> None:
        kept: list[Event] = []
        for event in events:
            if isinstance(event, RunLifecycle):
                child_error.append(event.detail)
            else:
                kept.append(event)
        if kept:
            sink(kept)

    readers = asyncio.gather(
        _read_frames(process.stdout, forward),
        _read_stderr(process.stderr, forward, process.pid, origin_ns),
    )
    status: RunStatus | None = await _wait_for_exit(process, handle, time_limit_s, grace_s)
    _kill_group(process.pid, signal.SIGKILL)  # leftovers (grandchildren) never outlive a run
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(readers, timeout=grace_s)
    exit_code = process.returncode
    if status is None:
        status = "succeeded" if exit_code == 0 and not child_error else "failed"
    error = child_error[0] if child_error else ""
    if status == "failed" and not error:
        error = f"scenario process exited with code {exit_code}"
    return Outcome(status=status, exit_code=exit_code, error=error)


async def _wait_for_exit(
    process: asyncio.subprocess.Process, handle: ChildRun, time_limit_s: float, grace_s: float
) -> RunStatus | None:
    """Wait for the child; returns ``timed_out``/``cancelled`` if it had to be stopped."""
    exited = asyncio.ensure_future(process.wait())
    cancelled = asyncio.ensure_future(handle.cancel_requested.wait())
    try:
        done, _ = await asyncio.wait(
            {exited, cancelled}, timeout=time_limit_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        cancelled.cancel()
    if exited in done:
        return None
    status: RunStatus = "cancelled" if cancelled in done else "timed_out"
    _kill_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(exited), timeout=grace_s)
    except TimeoutError:
        _kill_group(process.pid, signal.SIGKILL)
        await exited
    return status


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _read_frames(stream: asyncio.StreamReader, sink: EventSink) -> None:
    reader = FrameReader()
    while chunk := await stream.read(READ_SIZE):
        frames = reader.feed(chunk)
        if frames:
            sink([msgpack_decoder.decode(frame) for frame in frames])


async def _read_stderr(
    stream: asyncio.StreamReader, sink: EventSink, pid: int, origin_ns: int
) -> None:
    while raw := await stream.readline():
        line = raw.decode("utf-8", "replace").rstrip("\n")
        t_ns = time.monotonic_ns() - origin_ns
        sink([Output(t_ns=t_ns, pid=pid, tid=0, actor="stderr", line=line, stream="stderr")])

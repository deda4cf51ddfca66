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
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from paralab.lab.bootstrap import ARTIFACTS_ENV, RUN_ID_ENV
from paralab.lab.emitter import MAX_LINE, FrameReader
from paralab.lab.events import Event, Output, RunLifecycle, RunStatus, msgpack_decoder
from paralab.lab.shm import sweep

EventSink = Callable[[Sequence[Event]], None]
READ_SIZE = 1 << 16


@dataclass
class Outcome:
    status: RunStatus
    """succeeded | failed | cancelled | timed_out"""
    exit_code: int | None
    error: str = ""


@dataclass
class CancelHandle:
    """What the owner of a run keeps to cancel it while ``run_child`` is awaiting it."""

    requested: asyncio.Event
    pid: int | None = None
    reason: str = "Cancelled on request."

    @classmethod
    def create(cls) -> CancelHandle:
        return cls(requested=asyncio.Event())


async def run_child(
    scenario_id: str,
    params: dict[str, object],
    sink: EventSink,
    *,
    time_limit_s: float,
    grace_s: float = 2.0,
    cancel: CancelHandle | None = None,
    origin_ns: int | None = None,
    run_id: str | None = None,
    artifacts_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run the scenario to its end (or limit, or cancel); every event goes to ``sink``.
    Every process of the run sees ``run_id`` (a fresh one by default) in ``RUN_ID_ENV``
    and where to keep its files (``artifacts_dir``, default a temporary folder); ``env``
    adds variables (limits the labs read)."""
    cancel = cancel or CancelHandle.create()
    origin_ns = time.monotonic_ns() if origin_ns is None else origin_ns
    run_id = run_id or uuid.uuid4().hex[:12]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "paralab.lab.child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=READ_SIZE,
        env={
            **os.environ,
            **(env or {}),
            RUN_ID_ENV: run_id,
            ARTIFACTS_ENV: str(artifacts_dir or ""),
        },
    )
    cancel.pid = process.pid
    try:
        return await _supervise(
            process, scenario_id, params, sink, origin_ns, cancel, time_limit_s, grace_s
        )
    finally:
        # Whatever happened (even this task being cancelled), the run's group dies with it,
        # and the child is reaped here rather than left a zombie for the loop's watcher.
        _kill_group(process.pid, signal.SIGKILL)
        if process.returncode is None:
            await asyncio.shield(process.wait())
        sweep(run_id)  # what a killed process of the run could not unlink


async def _supervise(
    process: asyncio.subprocess.Process,
    scenario_id: str,
    params: dict[str, object],
    sink: EventSink,
    origin_ns: int,
    cancel: CancelHandle,
    time_limit_s: float,
    grace_s: float,
) -> Outcome:
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    request = {"scenario_id": scenario_id, "params": params, "origin_ns": origin_ns}
    process.stdin.write(msgspec.json.encode(request))
    process.stdin.close()

    errors: list[str] = []

    def forward(events: Sequence[Event]) -> None:
        kept: list[Event] = []
        for event in events:
            if isinstance(event, RunLifecycle):
                errors.append(event.detail)
            else:
                kept.append(event)
        if kept:
            sink(kept)

    def corrupted(reason: str) -> None:
        errors.append(f"the scenario's event stream was corrupted ({reason}); run stopped")
        _kill_group(process.pid, signal.SIGKILL)

    readers = asyncio.gather(
        _read_frames(process.stdout, forward, corrupted),
        _read_stderr(process.stderr, forward, process.pid, origin_ns),
    )
    try:
        status: RunStatus | None = await _wait_for_exit(process, cancel, time_limit_s, grace_s)
        _kill_group(process.pid, signal.SIGKILL)  # leftovers (grandchildren) never outlive a run
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(readers, timeout=grace_s)
    finally:
        if not readers.done():
            readers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await readers
    exit_code = process.returncode
    if status is None:
        status = "succeeded" if exit_code == 0 and not errors else "failed"
    error = errors[0] if errors else ""
    if status == "failed" and not error:
        error = f"scenario process exited with code {exit_code}"
    elif status == "timed_out":
        error = f"Stopped at its time limit of {time_limit_s:g} s."
    elif status == "cancelled":
        error = cancel.reason
    return Outcome(status=status, exit_code=exit_code, error=error)


async def _wait_for_exit(
    process: asyncio.subprocess.Process, cancel: CancelHandle, time_limit_s: float, grace_s: float
) -> RunStatus | None:
    """Wait for the child; returns ``timed_out``/``cancelled`` if it had to be stopped."""
    exited = asyncio.ensure_future(process.wait())
    cancelled = asyncio.ensure_future(cancel.requested.wait())
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


async def _read_frames(
    stream: asyncio.StreamReader, sink: EventSink, corrupted: Callable[[str], None]
) -> None:
    reader = FrameReader()
    while chunk := await stream.read(READ_SIZE):
        try:
            events = [msgpack_decoder.decode(frame) for frame in reader.feed(chunk)]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            corrupted(str(exc))
            return
        if events:
            sink(events)


async def _read_stderr(
    stream: asyncio.StreamReader, sink: EventSink, pid: int, origin_ns: int
) -> None:
    """Raw stderr as output lines; very long lines are cut, never a reason to stall."""
    pending = b""
    while chunk := await stream.read(READ_SIZE):
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > MAX_LINE:
            lines.append(pending)
            pending = b""
        _emit_stderr(sink, lines, pid, origin_ns)
    if pending:
        _emit_stderr(sink, [pending], pid, origin_ns)


def _emit_stderr(sink: EventSink, lines: list[bytes], pid: int, origin_ns: int) -> None:
    if not lines:
        return
    t_ns = time.monotonic_ns() - origin_ns
    sink(
        [
            Output(
                t_ns=t_ns,
                pid=pid,
                tid=0,
                actor="stderr",
                line=line[:MAX_LINE].decode("utf-8", "replace"),
                stream="stderr",
            )
            for line in lines
        ]
    )

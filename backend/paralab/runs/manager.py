"""Run lifecycle: validate, queue behind a cap, run, persist, publish, cancel.

queued -> running -> succeeded | failed | cancelled | timed_out. Every event gets the
run's next sequence number, is appended to the store, then published to the fan-out;
subscribers replay from the store first, so late joiners and reconnects lose nothing.

When the store cannot take a run's events (a full disk), the run is stopped and ends
``failed`` saying so; what it sends meanwhile is dropped, so stored sequence numbers keep
no gaps. If even its final record cannot be stored, the manager keeps it (``get`` answers
from memory) and writes it before the next run is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from paralab.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unavailable
from paralab.lab.catalog import find
from paralab.lab.events import (
    Event,
    Metric,
    Output,
    RunLifecycle,
    RunStatus,
    json_encoder,
)
from paralab.lab.runner import CancelHandle, EventSink, Outcome, run_child
from paralab.runs.fanout import Fanout
from paralab.runs.records import Run
from paralab.runs.store import RunStore, StoreUnavailable, now
from paralab.settings import LabSettings

SHUTDOWN_REASON = "Cancelled because the server shut down."


@dataclass
class LiveRun:
    """What the manager holds for a run that has not finished yet."""

    run: Run
    cancel: CancelHandle = field(default_factory=CancelHandle.create)
    origin_ns: int = 0
    task: asyncio.Task[None] | None = None
    unrecorded: str = ""
    """Why the run's events could not be stored; once set, the run is stopped and fails."""


class RunManager:
    """Owns the runs that have not finished: their tasks, slots and cancel handles."""

    def __init__(
        self, store: RunStore, fanout: Fanout, settings: LabSettings, artifacts: Path
    ) -> None:
        self.store = store
        self.fanout = fanout
        self.settings = settings
        self.artifacts = artifacts
        """Each run keeps its files in ``artifacts/<run id>/``."""
        self._live: dict[str, LiveRun] = {}
        self._unsaved: dict[str, tuple[LiveRun, RunLifecycle]] = {}
        """Finished runs whose final record and event the store could not take yet."""
        self._closing = False
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._interrupt_unfinished()

    # --- commands -----------------------------------------------------------------

    def submit(self, scenario_id: str, params: dict[str, Any]) -> Run:
        """Validate and queue a run; raises UnknownScenario, InvalidInput, TooManyRequests,
        or Unavailable (the server is stopping, or the store cannot be written)."""
        if self._closing:
            raise Unavailable("The server is shutting down; it takes no new runs.")
        validated = find(scenario_id).validate(params)
        array_mib = getattr(validated, "array_mib", 0)
        if array_mib > self.settings.max_array_mib:
            raise InvalidInput(
                f"array_mib={array_mib} is above this server's limit of "
                f"{self.settings.max_array_mib} MiB (PARALAB_MAX_ARRAY_MIB)."
            )
        capacity = self.settings.max_concurrent_runs + self.settings.run_queue_size
        if len(self._live) >= capacity:
            raise TooManyRequests(
                f"{len(self._live)} runs are active or queued (limit {capacity}); retry later.",
                retry_after_s=2,
            )
        self._save_unsaved()
        run = Run(
            id=uuid.uuid4().hex[:12],
            scenario_id=scenario_id,
            params=msgspec.to_builtins(validated),
            status="queued",
            created_at=now(),
        )
        live = LiveRun(run=run)
        self._lifecycle(live, "queued")  # stores the new run with its first event, or raises
        self._live[run.id] = live
        self.fanout.open(run.id)
        live.task = asyncio.create_task(self._execute(live), name=f"run-{run.id}")
        return run

    def cancel(self, run_id: str) -> Run:
        """Ask a queued or running run to stop; the group is terminated, then killed."""
        live = self._live.get(run_id)
        if live is None:
            run = self.get(run_id)
            raise Conflict(f"Run {run_id} has already finished ({run.status}).")
        live.cancel.requested.set()
        return live.run

    async def shutdown(self, reason: str = SHUTDOWN_REASON) -> None:
        """When the server stops: refuse new runs, cancel every running and queued run with
        ``reason`` as its error, and wait for them."""
        self._closing = True
        for live in list(self._live.values()):
            live.cancel.reason = reason
            live.cancel.requested.set()
        tasks = [live.task for live in self._live.values() if live.task]
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(StoreUnavailable):  # a last chance; lost if the store is full
            self._save_unsaved()

    # --- queries ------------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        live = self._held(run_id)
        if live:
            return live.run
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"Unknown run {run_id!r}.")
        return run

    def current(self, run: Run) -> Run:
        """``run`` as read from the store, or the newer record this manager holds of it."""
        live = self._held(run.id)
        return live.run if live else run

    def _held(self, run_id: str) -> LiveRun | None:
        if run_id in self._unsaved:
            return self._unsaved[run_id][0]
        return self._live.get(run_id)

    # --- the engine side ----------------------------------------------------------

    async def _execute(self, live: LiveRun) -> None:
        run = live.run
        # Stays only if this task itself is cancelled (the server going away).
        outcome = Outcome(
            status="cancelled", exit_code=None, error="Cancelled: the server stopped."
        )
        try:
            if not await self._take_slot(live):
                reason = f"{live.cancel.reason.rstrip('.')} while queued."
                outcome = Outcome(status="cancelled", exit_code=None, error=reason)
            else:
                try:
                    live.origin_ns = time.monotonic_ns()
                    run.started_at = now()
                    sink = self._sink(live)
                    sink([self._lifecycle_event(live, "running")])
                    if not live.unrecorded:
                        outcome = await run_child(
                            run.scenario_id,
                            run.params,
                            sink,
                            time_limit_s=self.settings.run_time_limit_s,
                            grace_s=self.settings.cancel_grace_s,
                            cancel=live.cancel,
                            origin_ns=live.origin_ns,
                            run_id=run.id,
                            artifacts_dir=self.artifacts / run.id,
                            env=self._lab_env(),
                        )
                finally:
                    self._slots.release()
        except Exception as exc:  # the engine itself failed: record it, never lose the run
            outcome = Outcome(status="failed", exit_code=None, error=f"runner error: {exc!r}")
        finally:
            if live.unrecorded:
                outcome = Outcome(
                    status="failed", exit_code=outcome.exit_code, error=live.unrecorded
                )
            run.finished_at = now()
            if run.started_at:
                run.duration_s = (run.finished_at - run.started_at).total_seconds()
            run.exit_code = outcome.exit_code
            run.error = outcome.error
            try:
                self._finish(live, outcome.status, outcome.error)
            finally:  # even if the store failed: free the slot, release the listeners
                self._live.pop(run.id, None)
                self.fanout.close(run.id)

    def _lab_env(self) -> dict[str, str]:
        """The settings a run's processes read themselves."""
        env = {"PARALAB_MAX_ARRAY_MIB": str(self.settings.max_array_mib)}
        if self.settings.lab_images_dir:
            env["PARALAB_LAB_IMAGES_DIR"] = self.settings.lab_images_dir
        return env

    async def _take_slot(self, live: LiveRun) -> bool:
        """Wait for a free slot; False if the run was cancelled while it waited."""
        slot = asyncio.ensure_future(self._slots.acquire())
        cancelled = asyncio.ensure_future(live.cancel.requested.wait())
        await asyncio.wait({slot, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        cancelled.cancel()
        if live.cancel.requested.is_set():
            if slot.done() and not slot.cancelled():
                self._slots.release()
            slot.cancel()
            return False
        return True

    def _sink(self, live: LiveRun) -> EventSink:
        """Where a running run's events go. It never raises (that would leave the child's
        pipe unread): a batch that cannot be stored stops the run instead."""

        def sink(events: Sequence[Event]) -> None:
            if live.unrecorded:
                return  # stopping: later events could only be stored with a gap before them
            try:
                self._append(live, events)
            except Exception as exc:
                why = exc.detail if isinstance(exc, StoreUnavailable) else f"({exc!r})"
                live.unrecorded = f"Stopped: its events could not be stored. {why}"
                live.cancel.reason = live.unrecorded
                live.cancel.requested.set()

        return sink

    def _lifecycle(self, live: LiveRun, status: RunStatus, detail: str = "") -> None:
        self._append(live, [self._lifecycle_event(live, status, detail)])

    def _lifecycle_event(
        self, live: LiveRun, status: RunStatus, detail: str = "", t_ns: int | None = None
    ) -> RunLifecycle:
        live.run.status = status
        if t_ns is None:
            t_ns = time.monotonic_ns() - live.origin_ns if live.origin_ns else 0
        return RunLifecycle(
            t_ns=t_ns,
            pid=live.cancel.pid or os.getpid(),
            tid=0,
            actor="run",
            status=status,
            detail=detail,
        )

    def _finish(
        self, live: LiveRun, status: RunStatus, detail: str, t_ns: int | None = None
    ) -> None:
        """Store the run's final event and record; kept in memory if the store is full."""
        event = self._lifecycle_event(live, status, detail, t_ns)
        try:
            self._append(live, [event])
        except StoreUnavailable:
            self._unsaved[live.run.id] = (live, event)

    def _save_unsaved(self) -> None:
        """Store the final records the store could not take before; raises StoreUnavailable
        if it still cannot."""
        for run_id, (live, event) in list(self._unsaved.items()):
            self._append(live, [event])
            del self._unsaved[run_id]

    def _append(self, live: LiveRun, events: Sequence[Event]) -> None:
        run = live.run
        first_seq = run.last_seq + 1
        bodies: list[bytes] = []
        outputs: list[Output] = []
        metrics: list[Metric] = []
        for seq, event in enumerate(events, start=first_seq):
            numbered = msgspec.structs.replace(event, seq=seq)
            bodies.append(json_encoder.encode(numbered))
            if isinstance(numbered, Output):
                outputs.append(numbered)
            elif isinstance(numbered, Metric):
                metrics.append(numbered)
        stored = msgspec.structs.replace(run, last_seq=first_seq + len(bodies) - 1)
        self.store.record(stored, first_seq, bodies, outputs, metrics)
        run.last_seq = stored.last_seq
        self.fanout.publish(run.id, list(enumerate(bodies, start=first_seq)))

    def _interrupt_unfinished(self) -> None:
        """Runs the previous server left unfinished can't be resumed: mark them failed."""
        for run in self.store.unfinished_runs():
            run.status = "failed"
            run.error = "the server stopped while this run was active"
            run.finished_at = run.finished_at or now()
            live = LiveRun(run=run)
            # The old clock origin is gone: stamp it at the last event, so time never goes back.
            last = self.store.events(run.id, run.last_seq, 1) if run.last_seq else []
            t_ns = msgspec.json.decode(last[0].body, type=_Stamp).t_ns if last else 0
            try:
                self._finish(live, "failed", run.error, t_ns=t_ns)
            except Exception:  # e.g. an older store whose last_seq lags its events
                with contextlib.suppress(StoreUnavailable):
                    self.store.update_run(run)


class _Stamp(msgspec.Struct):
    t_ns: int

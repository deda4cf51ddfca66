"""Run lifecycle: validate, queue behind a cap, run, persist, publish, cancel.

queued -> running -> succeeded | failed | cancelled | timed_out. Every event gets the
run's next sequence number, is appended to the store, then published to the fan-out;
subscribers replay from the store first, so late joiners and reconnects lose nothing.
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

from paralab.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from paralab.lab.catalog import find
from paralab.lab.events import (
    Event,
    Metric,
    Output,
    RunLifecycle,
    RunStatus,
    json_encoder,
)
from paralab.lab.runner import CancelHandle, Outcome, run_child
from paralab.runs.fanout import Fanout
from paralab.runs.records import Run
from paralab.runs.store import RunStore, now
from paralab.settings import LabSettings


@dataclass
class LiveRun:
    """What the manager holds for a run that has not finished yet."""

    run: Run
    cancel: CancelHandle = field(default_factory=CancelHandle.create)
    origin_ns: int = 0
    task: asyncio.Task[None] | None = None


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
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._interrupt_unfinished()

    # --- commands -----------------------------------------------------------------

    def submit(self, scenario_id: str, params: dict[str, Any]) -> Run:
        """Validate and queue a run; raises UnknownScenario, InvalidInput or TooManyRequests."""
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
        run = Run(
            id=uuid.uuid4().hex[:12],
            scenario_id=scenario_id,
            params=msgspec.to_builtins(validated),
            status="queued",
            created_at=now(),
        )
        self.store.insert_run(run)
        live = LiveRun(run=run)
        self._live[run.id] = live
        self.fanout.open(run.id)
        self._lifecycle(live, "queued")
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

    async def shutdown(self) -> None:
        """Cancel every active run and wait for them (used when the server stops)."""
        for live in list(self._live.values()):
            live.cancel.reason = "Cancelled because the server shut down."
            live.cancel.requested.set()
        tasks = [live.task for live in self._live.values() if live.task]
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- queries ------------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        live = self._live.get(run_id)
        if live:
            return live.run
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"Unknown run {run_id!r}.")
        return run

    # --- the engine side ----------------------------------------------------------

    async def _execute(self, live: LiveRun) -> None:
        run = live.run
        # Stays only if this task itself is cancelled (the server going away).
        outcome = Outcome(
            status="cancelled", exit_code=None, error="Cancelled: the server stopped."
        )
        try:
            if not await self._take_slot(live):
                reason = f"{live.cancel.reason[:-1]} while queued."
                outcome = Outcome(status="cancelled", exit_code=None, error=reason)
            else:
                try:
                    live.origin_ns = time.monotonic_ns()
                    run.started_at = now()
                    self._lifecycle(live, "running")
                    outcome = await run_child(
                        run.scenario_id,
                        run.params,
                        lambda events: self._append(live, events),
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
            run.finished_at = now()
            if run.started_at:
                run.duration_s = (run.finished_at - run.started_at).total_seconds()
            run.exit_code = outcome.exit_code
            run.error = outcome.error
            try:
                self._lifecycle(live, outcome.status, outcome.error)
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

    def _lifecycle(
        self, live: LiveRun, status: RunStatus, detail: str = "", t_ns: int | None = None
    ) -> None:
        live.run.status = status
        if t_ns is None:
            t_ns = time.monotonic_ns() - live.origin_ns if live.origin_ns else 0
        event = RunLifecycle(
            t_ns=t_ns,
            pid=live.cancel.pid or os.getpid(),
            tid=0,
            actor="run",
            status=status,
            detail=detail,
        )
        self._append(live, [event])

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
        self.store.append_events(run.id, first_seq, bodies, outputs, metrics)
        run.last_seq = first_seq + len(bodies) - 1
        self.store.update_run(run)
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
            with contextlib.suppress(Exception):
                self._lifecycle(live, "failed", run.error, t_ns=t_ns)
            self.store.update_run(run)


class _Stamp(msgspec.Struct):
    t_ns: int

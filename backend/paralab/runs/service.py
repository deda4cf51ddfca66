"""What the API (or any other caller) asks of runs: one object over manager, store and
fan-out, so callers never reach into any of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from paralab.errors import NotFound
from paralab.health import CheckResult
from paralab.lab.bootstrap import ARTIFACT_NAME
from paralab.lab.events import RunStatus, json_decoder
from paralab.runs.fanout import Batch, Fanout, make_fanout
from paralab.runs.manager import RunManager
from paralab.runs.records import MAX_DETAIL_OUTPUT, EventPage, Run, RunDetail, RunPage
from paralab.runs.store import RunStore
from paralab.runs.trace import chrome_trace_chunks
from paralab.settings import Settings

REPLAY_PAGE = 5_000


class RunService:
    def __init__(self, store: RunStore, fanout: Fanout, manager: RunManager) -> None:
        self.store = store
        self.fanout = fanout
        self.manager = manager

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, settings: Settings) -> AsyncGenerator[RunService, None]:
        """The service for the app's lifetime: on exit, active runs are cancelled and
        awaited, then the store is closed."""
        store = RunStore(settings.server.data_dir / "runs.sqlite3")
        try:
            fanout = make_fanout(settings.channels)
            artifacts = settings.server.data_dir / "artifacts"
            service = cls(store, fanout, RunManager(store, fanout, settings.lab, artifacts))
            try:
                yield service
            finally:
                await service.manager.shutdown()
        finally:
            store.close()

    def readiness(self) -> CheckResult:
        return CheckResult(self.store.healthy(), str(self.store.path))

    # --- commands -------------------------------------------------------------

    def submit(self, scenario_id: str, params: dict[str, Any]) -> Run:
        """Queue a catalog scenario with validated parameters."""
        return self.manager.submit(scenario_id, params)

    def cancel(self, run_id: str) -> Run:
        """Stop a queued or running run (``Conflict`` if it has finished)."""
        return self.manager.cancel(run_id)

    # --- queries --------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        """The run's record (``NotFound`` for an unknown id)."""
        return self.manager.get(run_id)

    def list_runs(
        self, *, scenario_id: str | None, status: RunStatus | None, limit: int, offset: int
    ) -> RunPage:
        """Run history, newest first."""
        items, total = self.store.list_runs(
            scenario_id=scenario_id, status=status, limit=limit, offset=offset
        )
        # A run whose final record could not be stored yet (a full store) is current in
        # the manager's memory.
        items = [self.manager.current(run) for run in items]
        return RunPage(items=items, total=total, limit=limit, offset=offset)

    def detail(self, run_id: str) -> RunDetail:
        """The run with its last output lines and its metrics."""
        run = self.get(run_id)
        return RunDetail(
            **msgspec.structs.asdict(run),
            output=self.store.output(run_id, last=MAX_DETAIL_OUTPUT),
            output_total=self.store.output_count(run_id),
            metrics=self.store.metrics(run_id),
        )

    def event_page(self, run_id: str, from_seq: int, limit: int) -> EventPage:
        """Stored events from ``from_seq`` on."""
        run = self.get(run_id)
        stored = self.store.events(run_id, from_seq, limit)
        events = [json_decoder.decode(e.body) for e in stored]
        next_seq = stored[-1].seq + 1 if stored else from_seq
        return EventPage(events=events, next_seq=next_seq, last_seq=run.last_seq, status=run.status)

    def artifact(self, run_id: str, name: str) -> Path:
        """The file ``name`` a run saved (``NotFound`` if it has none of that name)."""
        self.get(run_id)
        path = self.manager.artifacts / run_id / name
        if not ARTIFACT_NAME.fullmatch(name) or not path.is_file():
            raise NotFound(f"Run {run_id} has no artifact {name!r}.")
        return path

    def trace(self, run_id: str) -> AsyncGenerator[bytes, None]:
        """The run's Chrome Trace JSON, chunk by chunk, built in a worker thread from the
        store (on a connection of its own). ``NotFound`` at once for an unknown run."""
        run = self.get(run_id)
        pages = (
            [json_decoder.decode(e.body) for e in page] for page in self.store.event_pages(run_id)
        )
        return _in_a_thread(chrome_trace_chunks(run, pages))

    async def stream(self, run_id: str, from_seq: int = 1) -> AsyncGenerator[Batch, None]:
        """Events from ``from_seq`` on: the stored ones, then live ones until the run ends."""
        self.get(run_id)
        inbox = self.fanout.subscribe(run_id)
        try:
            next_seq = max(from_seq, 1)
            while True:
                # The store holds every event appended so far: live batches that arrive
                # meanwhile overlap with it and are dropped by sequence number below.
                if inbox:
                    inbox.catch_up()
                while page := self.store.events(run_id, next_seq, REPLAY_PAGE):
                    yield [(e.seq, e.body) for e in page]
                    next_seq = page[-1].seq + 1
                if not inbox:
                    return
                while not inbox.lagging:
                    batches = inbox.take()
                    fresh = [item for batch in batches for item in batch if item[0] >= next_seq]
                    if fresh:
                        next_seq = fresh[-1][0] + 1
                        yield fresh
                    if inbox.ended and not inbox.pending and not inbox.lagging:
                        return
                    await inbox.wait()
        finally:
            if inbox:
                self.fanout.unsubscribe(run_id, inbox)


async def _in_a_thread(chunks: Generator[bytes, None, None]) -> AsyncGenerator[bytes, None]:
    # One thread per export, so closing (which closes the generator's sqlite
    # connection) queues behind a `next` that a client disconnect interrupted.
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace")
    loop = asyncio.get_running_loop()
    try:
        while (chunk := await loop.run_in_executor(thread, next, chunks, None)) is not None:
            yield chunk
    finally:
        thread.submit(chunks.close)
        thread.shutdown(wait=False)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from paralab.errors import error_responses
from paralab.lab.events import Event, RunStatus, json_decoder
from paralab.lab.manager import RunManager
from paralab.runs.models import MAX_DETAIL_OUTPUT, Run, RunDetail, RunPage
from paralab.runs.trace import chrome_trace_chunks


class CreateRun(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scenario_id: str
    params: dict[str, Any] = {}


class EventPage(msgspec.Struct, frozen=True):
    events: list[Event]
    next_seq: int
    """Ask for ``from_seq=next_seq`` to continue."""
    last_seq: int
    """The run's latest sequence number so far."""
    status: RunStatus


def _manager(state: State) -> RunManager:
    manager: RunManager = state.run_manager
    return manager


class RunController(Controller):
    path = "/api/runs"
    tags = ["runs"]

    @post("/", status_code=201, responses=error_responses(400, 404, 422, 429))
    async def create_run(self, data: JSONBody[CreateRun], state: State) -> Run:
        """Queue a catalog scenario with validated parameters (429 when the queue is full)."""
        return _manager(state).submit(data.scenario_id, data.params)

    @get("/", responses=error_responses(400))
    async def list_runs(
        self,
        state: State,
        scenario_id: FromQuery[str | None] = None,
        status: FromQuery[RunStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=2**62)] = 0,
    ) -> RunPage:
        """Run history, newest first, optionally filtered by scenario and status."""
        items, total = _manager(state).store.list_runs(
            scenario_id=scenario_id, status=status, limit=limit, offset=offset
        )
        return RunPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{run_id:str}", responses=error_responses(404))
    async def get_run(self, run_id: FromPath[str], state: State) -> RunDetail:
        """Status, timings, error, output lines and metrics of one run."""
        manager = _manager(state)
        run = manager.get(run_id)
        return RunDetail(
            **msgspec.structs.asdict(run),
            output=manager.store.output(run_id, last=MAX_DETAIL_OUTPUT),
            output_total=manager.store.output_count(run_id),
            metrics=manager.store.metrics(run_id),
        )

    @post("/{run_id:str}/cancel", status_code=202, responses=error_responses(404, 409))
    async def cancel_run(self, run_id: FromPath[str], state: State) -> Run:
        """Stop a queued or running run: SIGTERM to its process group, SIGKILL after a grace."""
        return _manager(state).cancel(run_id)

    @get("/{run_id:str}/events", responses=error_responses(400, 404))
    async def list_events(
        self,
        run_id: FromPath[str],
        state: State,
        from_seq: Annotated[int, QueryParameter(ge=1, le=2**62)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1000,
    ) -> EventPage:
        """Stored events of a run from ``from_seq`` on (the same JSON the WebSocket sends)."""
        manager = _manager(state)
        run = manager.get(run_id)
        stored = manager.store.events(run_id, from_seq, limit)
        events = [json_decoder.decode(e.body) for e in stored]
        next_seq = stored[-1].seq + 1 if stored else from_seq
        return EventPage(events=events, next_seq=next_seq, last_seq=run.last_seq, status=run.status)

    @get("/{run_id:str}/trace", responses=error_responses(404), media_type=MediaType.JSON)
    async def get_trace(self, run_id: FromPath[str], state: State) -> Stream:
        """Chrome Trace Event JSON of the run: open it in ui.perfetto.dev.

        Streamed: built page by page in a worker thread, so a huge run neither blocks the
        server nor needs its whole trace in memory."""
        manager = _manager(state)
        run = manager.get(run_id)
        pages = (
            [json_decoder.decode(e.body) for e in page]
            for page in manager.store.event_pages(run_id)
        )
        chunks = chrome_trace_chunks(run, pages)

        async def body() -> AsyncIterator[bytes]:
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

        return Stream(
            body(),
            media_type=MediaType.JSON,
            headers={"Content-Disposition": f'attachment; filename="paralab-{run_id}.trace.json"'},
        )

from __future__ import annotations

import mimetypes
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import File, Stream

from paralab.api.errors import error_responses
from paralab.lab.events import MAX_SEQ, RunStatus
from paralab.runs.records import MAX_EVENT_PAGE, EventPage, Run, RunDetail, RunPage
from paralab.runs.service import RunService


class CreateRun(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scenario_id: str
    params: dict[str, Any] = {}
    """Checked against the scenario's ``params_schema`` (GET /api/scenarios/{id})."""


NewRun = Annotated[
    CreateRun,
    Body(
        media_type=RequestEncodingType.JSON,
        examples=[
            Example(
                summary="Two threads started and joined in turn, fast",
                value={"scenario_id": "T1.1", "params": {"threads": 2, "time_scale": 0.05}},
            )
        ],
        # Litestar does not document ``forbid_unknown_fields``: say that unknown fields are
        # refused (400), as they are.
        schema_extra={"additional_properties": False},
    ),
]


class RunController(Controller):
    path = "/api/runs"
    tags = ["runs"]

    @post("/", status_code=201, responses=error_responses(400, 404, 415, 422, 429, 503))
    async def create_run(self, data: NewRun, runs: NamedDependency[RunService]) -> Run:
        """Queue a catalog scenario with validated parameters (429 when the queue is full,
        503 while the run store is full or the server is stopping)."""
        return runs.submit(data.scenario_id, data.params)

    @get("/", responses=error_responses(400))
    async def list_runs(
        self,
        runs: NamedDependency[RunService],
        scenario_id: FromQuery[str | None] = None,
        status: FromQuery[RunStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_SEQ)] = 0,
    ) -> RunPage:
        """Run history, newest first, optionally filtered by scenario and status."""
        return runs.list_runs(scenario_id=scenario_id, status=status, limit=limit, offset=offset)

    @get("/{run_id:str}", responses=error_responses(404))
    async def get_run(self, run_id: FromPath[str], runs: NamedDependency[RunService]) -> RunDetail:
        """Status, timings, error, output lines and metrics of one run."""
        return runs.detail(run_id)

    @post("/{run_id:str}/cancel", status_code=202, responses=error_responses(404, 409))
    async def cancel_run(self, run_id: FromPath[str], runs: NamedDependency[RunService]) -> Run:
        """Stop a queued or running run: SIGTERM to its process group, SIGKILL after a grace."""
        return runs.cancel(run_id)

    @get("/{run_id:str}/events", responses=error_responses(400, 404))
    async def list_events(
        self,
        run_id: FromPath[str],
        runs: NamedDependency[RunService],
        from_seq: Annotated[int, QueryParameter(ge=1, le=MAX_SEQ)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_EVENT_PAGE)] = 1000,
    ) -> EventPage:
        """Stored events of a run from ``from_seq`` on (the same JSON the WebSocket sends)."""
        return runs.event_page(run_id, from_seq, limit)

    @get("/{run_id:str}/artifacts/{name:str}", responses=error_responses(404))
    async def get_artifact(
        self, run_id: FromPath[str], name: FromPath[str], runs: NamedDependency[RunService]
    ) -> File:
        """A file the run saved (e.g. a lab's filtered images); listed by its ``artifact``
        events."""
        path = runs.artifact(run_id, name)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return File(path=path, media_type=media_type, content_disposition_type="inline")

    @get("/{run_id:str}/trace", responses=error_responses(404), media_type=MediaType.JSON)
    async def get_trace(self, run_id: FromPath[str], runs: NamedDependency[RunService]) -> Stream:
        """Chrome Trace Event JSON of the run: open it in ui.perfetto.dev.

        Streamed: built page by page in a worker thread, so a huge run neither blocks the
        server nor needs its whole trace in memory."""
        chunks = runs.trace(run_id)
        return Stream(
            chunks,
            media_type=MediaType.JSON,
            headers={"Content-Disposition": f'attachment; filename="paralab-{run_id}.trace.json"'},
        )

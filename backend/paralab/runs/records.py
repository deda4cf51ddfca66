"""The run records the store keeps and the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from paralab.lab.events import Event, RunStatus


class Run(msgspec.Struct, kw_only=True):
    id: str
    scenario_id: str
    params: dict[str, Any]
    status: RunStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    """Wall time from start to end, once finished."""
    error: str = ""
    """The failure, with the scenario's traceback when it raised."""
    exit_code: int | None = None
    last_seq: int = 0
    """Sequence number of the run's latest event."""


class OutputLine(msgspec.Struct, frozen=True):
    seq: int
    t_ns: int
    actor: str
    stream: str
    line: str


class MetricValue(msgspec.Struct, frozen=True):
    name: str
    value: float
    unit: str
    actor: str
    t_ns: int
    labels: dict[str, str] = {}
    """Which point of a curve the value is (e.g. ``mode``, ``workers``)."""


class RunDetail(Run, kw_only=True):
    output: list[OutputLine]
    """The last ``MAX_DETAIL_OUTPUT`` lines (every line: the events endpoint, type output)."""
    output_total: int
    """How many lines the run printed in all."""
    metrics: list[MetricValue]


MAX_DETAIL_OUTPUT = 1000
MAX_EVENT_PAGE = 10_000
"""The most events one page of stored events holds."""


class RunPage(msgspec.Struct, frozen=True):
    items: list[Run]
    total: int
    limit: int
    offset: int


class EventPage(msgspec.Struct, frozen=True):
    events: list[Event]
    next_seq: int
    """Ask for ``from_seq=next_seq`` to continue."""
    last_seq: int
    """The run's latest sequence number so far."""
    status: RunStatus

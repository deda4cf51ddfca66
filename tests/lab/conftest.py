from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from paralab.lab.events import Event
from paralab.lab.runner import Outcome, run_child

RunScenario = Callable[..., tuple[Outcome, list[Event]]]


@pytest.fixture
def run_scenario() -> RunScenario:
    """Run a catalog scenario in its own process, as the server does; return outcome + events."""

    def run(
        scenario_id: str, time_limit_s: float = 60.0, **params: Any
    ) -> tuple[Outcome, list[Event]]:
        events: list[Event] = []
        outcome = asyncio.run(
            run_child(scenario_id, params, events.extend, time_limit_s=time_limit_s)
        )
        return outcome, events

    return run

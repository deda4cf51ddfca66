"""Run a catalog scenario in its own process, as the server does, and keep its events."""

from __future__ import annotations

import asyncio
from typing import Any

from paralab.lab.events import Event
from paralab.lab.runner import Outcome, run_child


def run_scenario(
    scenario_id: str, time_limit_s: float = 60.0, **params: Any
) -> tuple[Outcome, list[Event]]:
    events: list[Event] = []
    outcome = asyncio.run(run_child(scenario_id, params, events.extend, time_limit_s=time_limit_s))
    return outcome, events

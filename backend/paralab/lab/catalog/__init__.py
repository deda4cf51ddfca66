"""The scenario catalog: a table of scenarios, looked up by id. Knows nothing of the engine."""

from __future__ import annotations

from paralab.lab.catalog import (
    calibration,
    pitfalls,
    thread_basics,
    thread_locks,
    thread_signals,
)
from paralab.lab.scenario import Scenario

PARTS = {
    "T": "Thread-based parallelism",
    "P": "Process-based parallelism",
    "L": "Data-parallel labs",
    "X": "Pitfalls",
    "C": "Calibration",
}

SCENARIOS: dict[str, Scenario] = {
    scenario.id: scenario
    for scenario in [
        *thread_basics.SCENARIOS,
        *thread_locks.SCENARIOS,
        *thread_signals.SCENARIOS,
        *pitfalls.SCENARIOS,
        *calibration.SCENARIOS,
    ]
}


def find(scenario_id: str) -> Scenario | None:
    return SCENARIOS.get(scenario_id)

"""The scenario catalog: a table of scenarios, looked up by id. Knows nothing of the engine."""

from __future__ import annotations

from paralab.errors import UnknownScenario
from paralab.lab.catalog import calibration, labs, pitfalls, processes, threads
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
        *threads.SCENARIOS,
        *processes.SCENARIOS,
        *labs.SCENARIOS,
        *pitfalls.SCENARIOS,
        *calibration.SCENARIOS,
    ]
}


def find(scenario_id: str) -> Scenario:
    """The scenario with this id; ``UnknownScenario`` if the catalog has none."""
    scenario = SCENARIOS.get(scenario_id)
    if scenario is None:
        raise UnknownScenario(f"Unknown scenario {scenario_id!r}.")
    return scenario

"""Run a scenario without a server (CLI, benchmarks): print or collect its events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from paralab.errors import InvalidInput
from paralab.lab.catalog import find
from paralab.lab.events import Event
from paralab.lab.runner import Outcome, run_child


def parse_param_assignments(assignments: Sequence[str]) -> dict[str, Any]:
    """``["threads=4", "time_scale=0.1"]`` -> ``{"threads": 4, "time_scale": 0.1}``."""
    params: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--param expects NAME=VALUE, got {assignment!r}")
        try:
            params[name] = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            params[name] = raw
    return params


def run_locally(
    scenario_id: str,
    params: dict[str, Any],
    on_events: Callable[[Sequence[Event]], None],
    time_limit_s: float = 60.0,
) -> Outcome:
    """Validate, then run the scenario in its own process exactly as the server would."""
    validated = find(scenario_id).validate(params, strict=False)
    return asyncio.run(
        run_child(scenario_id, msgspec.to_builtins(validated), on_events, time_limit_s=time_limit_s)
    )


def summarize(outcome: Outcome, events: Sequence[Event], wall_s: float) -> str:
    actors = {e.actor for e in events if e.tid}
    kinds: dict[str, int] = {}
    for event in events:
        tag = type(event).__struct_config__.tag
        kinds[str(tag)] = kinds.get(str(tag), 0) + 1
    counts = ", ".join(f"{k}={v}" for k, v in sorted(kinds.items()))
    return (
        f"status={outcome.status} exit_code={outcome.exit_code} wall={wall_s:.3f}s "
        f"actors={len(actors)} events={len(events)} ({counts})"
    )


def timed(fn: Callable[[], Outcome]) -> tuple[Outcome, float]:
    start = time.perf_counter()
    outcome = fn()
    return outcome, time.perf_counter() - start

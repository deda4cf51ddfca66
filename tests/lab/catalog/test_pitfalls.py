"""X1.3 (dining philosophers) and X1.4 (a stalled producer/consumer): what they do, and
what the wait-for graph finds in their event streams."""

from __future__ import annotations

from typing import Any

import pytest

from paralab.lab.events import Deadlock, Event, Metric, Output
from paralab.runs.waits import WaitForGraph
from tests.lab.scenarios import run_scenario

MS = 1_000_000
AFTER_NS = 200 * MS


def findings(events: list[Event]) -> list[Deadlock]:
    """What a runner checking just before each event arrives (and after the last) finds."""
    graph = WaitForGraph(after_ns=AFTER_NS)
    found = []
    for event in events:
        if finding := graph.check(event.t_ns):
            found.append(finding)
        graph.add(event)
    if finding := graph.check(max(e.t_ns for e in events) + AFTER_NS):
        found.append(finding)
    return found


def printed(events: list[Event]) -> list[str]:
    return [e.line for e in events if isinstance(e, Output) and e.stream == "stdout"]


@pytest.mark.parametrize("seats", [2, 5])
def test_with_one_left_handed_philosopher_everyone_eats_every_meal(seats: int) -> None:
    outcome, events = run_scenario(
        "X1.3", philosophers=seats, meals=2, asymmetric=True, time_scale=0.01
    )
    assert outcome.status == "succeeded", outcome.error
    meals = [line for line in printed(events) if " eats meal " in line]
    assert len(meals) == seats * 2
    assert {(line.split()[1], line.split()[4]) for line in meals} == {
        (str(seat), str(meal)) for seat in range(seats) for meal in (1, 2)
    }
    waits = {e.labels["philosopher"] for e in events if isinstance(e, Metric)}
    assert waits == {str(seat) for seat in range(seats)}
    assert findings(events) == []


@pytest.mark.parametrize("seats", [2, 5])
def test_a_symmetric_table_is_a_cycle_of_every_philosopher_and_every_fork(seats: int) -> None:
    outcome, events = run_scenario("X1.3", philosophers=seats, give_up_after_s=2.0, time_scale=0.01)
    assert outcome.status == "failed"  # the main thread gave up: nobody ate
    assert not [line for line in printed(events) if " eats meal " in line]
    [finding] = findings(events)
    assert finding.kind == "deadlock"
    assert {b.actor for b in finding.cycle} == {f"philosopher-{i}" for i in range(seats)}
    for blocked in finding.cycle:
        seat = int(blocked.actor.split("-")[1])
        assert blocked.holds == [f"fork-{seat}"]  # the left fork
        assert blocked.obj == f"fork-{(seat + 1) % seats}"  # waits for the right one
    assert [b.actor for b in finding.actors] == [b.actor for b in finding.cycle]


def test_a_producer_that_makes_enough_items_feeds_the_consumer() -> None:
    outcome, events = run_scenario("X1.4", produce=3, consume=3, time_scale=0.01)
    assert outcome.status == "succeeded", outcome.error
    assert "the consumer got everything it wanted" in printed(events)
    assert findings(events) == []


@pytest.mark.parametrize(("signal", "blocked_on"), [("queue", "shelf"), ("semaphore", "ready")])
def test_a_producer_that_stops_early_leaves_the_consumer_stalled(
    signal: str, blocked_on: str
) -> None:
    params: dict[str, Any] = {"produce": 2, "consume": 4, "signal": signal, "time_scale": 0.01}
    outcome, events = run_scenario("X1.4", time_limit_s=2.0, **params)
    assert outcome.status == "timed_out"  # until the runner ends it as stalled
    consumed = [line for line in printed(events) if line.startswith("consumed")]
    assert len(consumed) == 2  # all there was
    [finding] = findings(events)
    assert finding.kind == "stall"
    assert finding.cycle == []
    assert {(b.actor, b.primitive, b.obj) for b in finding.actors} == {
        ("consumer", signal, blocked_on),
        ("main", "join", "consumer"),
    }

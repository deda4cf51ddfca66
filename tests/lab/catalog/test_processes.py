"""Part 2 scenarios (P1-P8): each one's defining behaviour, read back from its events,
with every start method where it matters."""

from __future__ import annotations

import ast
import itertools
import re
from typing import Any

import pytest

from paralab.lab.catalog import SCENARIOS
from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Event,
    Output,
    ProcessExit,
    ProcessSpawn,
    ProcessStop,
    QueueGet,
    QueuePut,
    Released,
    TaskEnd,
    TaskStart,
    Wait,
)
from tests.lab.scenarios import run_scenario

START_METHODS = ["fork", "spawn", "forkserver"]
FAST = {"time_scale": 0.02}


def run(scenario_id: str, **params: Any) -> list[Event]:
    outcome, events = run_scenario(scenario_id, **params)
    assert outcome.status == "succeeded", outcome.error
    return sorted(events, key=lambda e: e.t_ns)


def printed(events: list[Event], actor: str | None = None) -> list[str]:
    return [
        e.line
        for e in events
        if isinstance(e, Output) and e.stream == "stdout" and actor in (None, e.actor)
    ]


def spawned(events: list[Event]) -> list[ProcessSpawn]:
    return [e for e in events if isinstance(e, ProcessSpawn)]


def exits(events: list[Event]) -> dict[str, int]:
    return {e.child: e.exit_code for e in events if isinstance(e, ProcessExit)}


def stops(events: list[Event]) -> dict[str, str]:
    return {e.child: e.reason for e in events if isinstance(e, ProcessStop)}


def joined_at(events: list[Event], name: str) -> int:
    [t] = [
        e.t_ns
        for e in events
        if isinstance(e, Acquired) and e.primitive == "join" and e.obj == name
    ]
    return t


def test_the_catalog_has_all_24_process_scenarios() -> None:
    ids = sorted(s for s in SCENARIOS if s.startswith("P"))
    assert ids == [f"P{section}.{n}" for section in range(1, 9) for n in (1, 2, 3)]


# Every start method -----------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_events_arrive_from_every_process_whatever_the_start_method(start_method: str) -> None:
    events = run("P1.2", processes=3, start_method=start_method)
    children = {e.child_pid: e for e in spawned(events)}
    started = {e.pid: e for e in events if isinstance(e, ActorStart) and e.kind == "process"}
    assert len(children) == 3
    assert set(started) == set(children)
    for pid, start in started.items():
        assert start.start_method == start_method
        assert start.parent == "main"
        assert start.actor == children[pid].child
        assert children[pid].t_ns < start.t_ns  # asked for before it ran: the start-up cost
        assert any(isinstance(e, Output) and e.pid == pid for e in events)
        assert any(isinstance(e, ActorEnd) and e.pid == pid and e.exit_code == 0 for e in events)
    assert set(exits(events).values()) == {0}


@pytest.mark.parametrize("start_method", START_METHODS)
def test_terminate_gives_minus_sigterm_and_is_alive_flips(start_method: str) -> None:
    events = run("P4.1", start_method=start_method)
    lines = printed(events, "main")
    assert lines[0] == "before start: is_alive=False exitcode=None"
    assert lines[1] == "running: is_alive=True exitcode=None"
    assert lines[2] == "terminated and joined: is_alive=False exitcode=-15"
    assert stops(events) == {"counter": "terminate"}
    assert exits(events) == {"counter": -15}
    assert "finished counting" not in printed(events)


@pytest.mark.parametrize("start_method", START_METHODS)
def test_pool_results_are_the_squares_with_a_task_span_per_item_in_a_worker(
    start_method: str,
) -> None:
    events = run("P8.1", start_method=start_method, workers=2)
    [line] = [text for text in printed(events, "main") if text.startswith("Pool: ")]
    assert ast.literal_eval(line.removeprefix("Pool: ")) == [i * i for i in range(100)]
    main_pid = next(e.pid for e in events if isinstance(e, ActorStart) and e.kind == "main")
    starts = {e.task: e for e in events if isinstance(e, TaskStart)}
    ends = {e.task: e for e in events if isinstance(e, TaskEnd)}
    assert sorted(starts) == sorted(ends) == list(range(100))
    workers = {e.pid for e in starts.values()}
    assert main_pid not in workers
    assert 1 <= len(workers) <= 2
    for task, start in starts.items():
        assert (ends[task].pid, ends[task].tid) == (start.pid, start.tid)
        assert start.t_ns <= ends[task].t_ns
    worker_starts = {e.pid for e in events if isinstance(e, ActorStart) and e.kind == "process"}
    assert workers <= worker_starts


# P1, P2, P5: spawning, naming, subclassing ------------------------------------------------


def lifetimes(events: list[Event]) -> list[tuple[int, int]]:
    """Each child's life as the parent sees it, in start order: from start() until its
    exit was collected (a process exists, running or a zombie, until its parent reaps it)."""
    reaped = {e.child_pid: e.t_ns for e in events if isinstance(e, ProcessExit)}
    return [(c.t_ns, reaped[c.child_pid]) for c in spawned(events)]


@pytest.mark.parametrize("scenario_id", ["P1.1", "P5.1"])
def test_in_turn_each_process_starts_after_the_previous_one_was_joined(scenario_id: str) -> None:
    events = run(scenario_id)
    children = spawned(events)
    assert len(children) >= 6
    for previous, following in itertools.pairwise(children):
        assert joined_at(events, previous.child) < following.t_ns
    for (_, previous_end), (next_start, _) in itertools.pairwise(lifetimes(events)):
        assert previous_end < next_start  # strictly sequential: no two lives overlap


@pytest.mark.parametrize("scenario_id", ["P1.2", "P5.2"])
def test_together_every_process_lives_at_the_same_time(scenario_id: str) -> None:
    events = run(scenario_id)
    children = spawned(events)
    first_join = min(joined_at(events, c.child) for c in children)
    assert all(c.t_ns < first_join for c in children)
    lives = lifetimes(events)
    assert len(lives) >= 6
    # Overlapping: there is an instant (the last start) when every one of them exists.
    assert max(start for start, _ in lives) < min(end for _, end in lives)


@pytest.mark.parametrize("scenario_id", ["P1.3", "P5.3"])
def test_half_in_turn_then_half_together(scenario_id: str) -> None:
    events = run(scenario_id)
    children = spawned(events)
    half = len(children) // 2
    for previous, following in itertools.pairwise(children[: half + 1]):
        assert joined_at(events, previous.child) < following.t_ns
    rest = children[half:]
    assert all(c.t_ns < min(joined_at(events, r.child) for r in rest) for c in rest)


def test_p1_process_i_prints_its_greeting_and_i_lines() -> None:
    events = run("P1.2")
    for i in range(6):
        assert printed(events, f"P{i}") == [
            f"calling myFunc from process n°: {i}",
            *[f"output from myFunc is :{j}" for j in range(i)],
        ]


def test_p2_a_custom_name_and_a_default_one() -> None:
    events = run("P2.1", **FAST)
    names = [c.child for c in spawned(events)]
    assert names[0] == "myFunc process"
    assert re.fullmatch(r"Process-\d+", names[1])
    for name in names:
        assert printed(events, name) == [
            f"Starting process name = {name}",
            f"Exiting process name = {name}",
        ]


def test_p5_every_subclass_runs_its_own_run_method() -> None:
    events = run("P5.2")
    assert sorted(printed(events)) == sorted(
        f"called run method by MyProcess-{i}" for i in range(1, 11)
    )


# P3: daemons ---------------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_p3_3_both_daemons_are_killed_when_the_parent_exits_without_joining(
    start_method: str,
) -> None:
    events = run("P3.3", start_method=start_method)  # children still counting when it exits
    assert stops(events) == {
        "background_process": "parent_exit",
        "NO_background_process": "parent_exit",
    }
    assert exits(events) == {"background_process": -15, "NO_background_process": -15}
    assert not any(line.startswith("Exiting") for line in printed(events))
    # (spawned children may be killed before they ever run: the parent's word counts)
    assert {c.child for c in spawned(events) if c.daemon} == {
        "background_process",
        "NO_background_process",
    }


def test_p3_1_the_daemon_is_killed_and_the_other_is_waited_for() -> None:
    events = run("P3.1")
    assert stops(events) == {"background_process": "parent_exit"}
    assert exits(events) == {"background_process": -15, "NO_background_process": 0}
    assert "Exiting NO_background_process" in printed(events)
    assert "Exiting background_process" not in printed(events)


def test_p3_2_without_daemons_the_parent_waits_for_both() -> None:
    events = run("P3.2", **FAST)
    assert stops(events) == {}
    assert exits(events) == {"background_process": 0, "NO_background_process": 0}
    assert printed(events, "background_process")[-1] == "Exiting background_process"


# P4: killing ---------------------------------------------------------------------------


def test_p4_2_a_finished_process_exits_0_and_terminate_changes_nothing() -> None:
    events = run("P4.2", **FAST)
    lines = printed(events, "main")
    assert "ended by itself: is_alive=False exitcode=0" in lines
    assert lines[-1] == "after terminate: is_alive=False exitcode=0"
    assert printed(events, "counter")[-1] == "finished counting"
    assert exits(events) == {"counter": 0}


def test_p4_3_terminated_half_way_the_count_stops_and_join_reports_minus_15() -> None:
    events = run("P4.3", time_scale=0.05)
    counted = [line for line in printed(events, "counter") if line.startswith("counting")]
    assert 1 <= len(counted) < 10
    assert printed(events, "main")[-1] == "joined: is_alive=False exitcode=-15"


# P6: queues ----------------------------------------------------------------------------


def queue_traffic(events: list[Event]) -> tuple[list[QueuePut], list[QueueGet]]:
    puts = [e for e in events if isinstance(e, QueuePut)]
    gets = [e for e in events if isinstance(e, QueueGet)]
    return puts, gets


@pytest.mark.parametrize("scenario_id", ["P6.2", "P6.3"])
def test_p6_every_item_put_is_got_once_in_order(scenario_id: str) -> None:
    events = run(scenario_id, **FAST)
    puts, gets = queue_traffic(events)
    assert len(puts) == 10
    assert [g.item for g in gets] == [p.item for p in puts]
    assert {p.actor for p in puts} == {"producer"}
    assert {g.actor for g in gets} == {"consumer"}
    assert all(0 <= e.size <= 10 for e in [*puts, *gets])


def test_p6_3_the_queue_fills_up_then_drains() -> None:
    events = run("P6.3", **FAST)
    puts, gets = queue_traffic(events)
    assert [p.size for p in puts] == list(range(1, 11))
    assert [g.size for g in gets] == list(range(9, -1, -1))
    assert max(p.t_ns for p in puts) < min(g.t_ns for g in gets)


def test_p6_1_by_sleeps_only_the_consumer_gets_a_prefix_and_says_what_was_left() -> None:
    events = run("P6.1", **FAST)
    puts, gets = queue_traffic(events)
    got = [g.item for g in gets if g.actor == "consumer"]
    assert got == [p.item for p in puts][: len(got)]
    [left] = [line for line in printed(events, "main") if line.startswith("items never")]
    assert left == f"items never consumed: {len(puts) - len(got)}"


# P7: synchronising ---------------------------------------------------------------------


def test_p7_1_nobody_passes_the_barrier_early_and_locked_prints_never_interleave() -> None:
    events = run("P7.1", lines=5)
    arrivals = [e.t_ns for e in events if isinstance(e, Wait) and e.primitive == "barrier"]
    passes = [e.t_ns for e in events if isinstance(e, Acquired) and e.primitive == "barrier"]
    assert len(arrivals) == len(passes) == 2
    assert max(arrivals) < min(passes)
    locked = [
        e.actor for e in events if isinstance(e, Output) and e.actor.startswith("with_barrier")
    ]
    assert len(locked) == 10
    assert locked in (
        ["with_barrier_1"] * 5 + ["with_barrier_2"] * 5,
        ["with_barrier_2"] * 5 + ["with_barrier_1"] * 5,
    )
    holds = sorted(
        (e.t_ns, type(e).__name__)
        for e in events
        if isinstance(e, Acquired | Released) and e.primitive == "lock"
    )
    assert [kind for _, kind in holds] == ["Acquired", "Released"] * 2
    free = {e.actor for e in events if isinstance(e, Output) and e.actor.startswith("without")}
    assert free == {"without_1", "without_2"}


def test_p7_2_the_semaphore_lets_the_second_go_only_after_the_first_released_it() -> None:
    events = run("P7.2")
    [release] = [e for e in events if isinstance(e, Released) and e.primitive == "semaphore"]
    [passed] = [e for e in events if isinstance(e, Acquired) and e.primitive == "semaphore"]
    assert release.actor == "with_semaphore_1"
    assert passed.actor == "with_semaphore_2"
    assert release.t_ns < passed.t_ns


def test_p7_3_without_the_lock_both_barrier_processes_print_and_no_lock_is_taken() -> None:
    events = run("P7.3")
    assert not any(isinstance(e, Acquired) and e.primitive == "lock" for e in events)
    for name in ("with_barrier_1", "with_barrier_2"):
        assert len(printed(events, name)) == 3


# P8: pools -----------------------------------------------------------------------------


@pytest.mark.parametrize(("scenario_id", "power"), [("P8.2", 2), ("P8.3", 3)])
def test_p8_map_returns_the_powers_of_0_to_99(scenario_id: str, power: int) -> None:
    events = run(scenario_id)
    [line] = [text for text in printed(events, "main") if text.startswith("Pool: ")]
    assert ast.literal_eval(line.removeprefix("Pool: ")) == [i**power for i in range(100)]
    assert len([e for e in events if isinstance(e, TaskEnd)]) == 100

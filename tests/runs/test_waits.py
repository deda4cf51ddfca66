"""The wait-for graph: deadlocks and stalls found in crafted event sequences, and nothing
found in the real event streams of scenarios that end well."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import pytest

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Deadlock,
    Event,
    GaveUp,
    Output,
    Primitive,
    ProcessSpawn,
    QueueGet,
    QueuePut,
    Released,
    Wait,
)
from paralab.runs.waits import WaitForGraph
from tests.lab.scenarios import run_scenario

MS = 1_000_000
AFTER_MS = 500
MAIN: dict[str, Any] = {"pid": 100, "tid": 100, "actor": "main"}


def thread(name: str, tid: int, pid: int = 100) -> dict[str, Any]:
    return {"pid": pid, "tid": tid, "actor": name}


Kind = Literal["thread", "process", "main"]


def start(who: dict[str, Any], t: int, kind: Kind = "thread") -> ActorStart:
    return ActorStart(t_ns=t * MS, kind=kind, **who)


def end(who: dict[str, Any], t: int, kind: Kind = "thread") -> ActorEnd:
    return ActorEnd(t_ns=t * MS, kind=kind, exit_code=0, **who)


def wait(who: dict[str, Any], t: int, primitive: Primitive, obj: str, **fields: Any) -> Wait:
    return Wait(t_ns=t * MS, primitive=primitive, obj=obj, **fields, **who)


def take(who: dict[str, Any], t: int, primitive: Primitive, obj: str, **fields: Any) -> Acquired:
    return Acquired(t_ns=t * MS, primitive=primitive, obj=obj, **fields, **who)


def give(who: dict[str, Any], t: int, primitive: Primitive, obj: str, **fields: Any) -> Released:
    return Released(t_ns=t * MS, primitive=primitive, obj=obj, **fields, **who)


def findings(events: Iterable[Event], until_ms: int, after_ms: int = AFTER_MS) -> list[Deadlock]:
    """Check as a runner would, as late as possible for every state: just before each
    event arrives, and at ``until_ms``."""
    graph = WaitForGraph(after_ns=after_ms * MS)
    found: list[Deadlock] = []
    for event in events:
        if finding := graph.check(event.t_ns):
            found.append(finding)
        graph.add(event)
    if finding := graph.check(until_ms * MS):
        found.append(finding)
    return found


def the_finding(events: Iterable[Event], until_ms: int) -> Deadlock:
    [finding] = findings(events, until_ms)
    return finding


ALICE, BOB = thread("alice", 101), thread("bob", 102)


def crossed_locks(main_join: dict[str, Any]) -> list[Event]:
    """alice takes fork then knife, bob knife then fork; main joins alice."""
    return [
        start(MAIN, 0, "main"),
        start(ALICE, 1),
        start(BOB, 1),
        wait(MAIN, 2, "join", "alice", **main_join),
        wait(ALICE, 3, "lock", "fork"),
        take(ALICE, 3, "lock", "fork"),
        wait(BOB, 4, "lock", "knife"),
        take(BOB, 4, "lock", "knife"),
        wait(ALICE, 10, "lock", "knife"),
        wait(BOB, 11, "lock", "fork"),
    ]


# Cycles --------------------------------------------------------------------------------


def test_two_threads_taking_two_locks_in_opposite_order_are_a_cycle() -> None:
    finding = the_finding(crossed_locks({"timeout_s": 5.0}), until_ms=2_000)
    assert finding.kind == "deadlock"
    cycle = {(b.actor, b.obj, tuple(b.holds), tuple(b.blocked_by)) for b in finding.cycle}
    assert cycle == {
        ("alice", "knife", ("fork",), ("bob",)),
        ("bob", "fork", ("knife",), ("alice",)),
    }
    assert [b.actor for b in finding.actors] == [b.actor for b in finding.cycle]  # main: timed
    assert "alice waits for lock knife, held by bob" in finding.detail


def test_a_cycle_is_reported_once_it_has_lasted_after_ns_and_only_once() -> None:
    graph = WaitForGraph(after_ns=AFTER_MS * MS)
    for event in crossed_locks({"timeout_s": 5.0}):
        graph.add(event)
    formed = 11  # bob's wait closed the cycle
    assert graph.check((formed + AFTER_MS - 1) * MS) is None
    finding = graph.check((formed + AFTER_MS) * MS)
    assert finding is not None
    assert finding.t_ns == (formed + AFTER_MS) * MS
    assert graph.check((formed + 10 * AFTER_MS) * MS) is None


def test_a_join_of_a_thread_in_a_cycle_is_stuck_with_it_but_not_part_of_the_cycle() -> None:
    finding = the_finding(crossed_locks({}), until_ms=2_000)
    assert finding.kind == "deadlock"
    assert {b.actor for b in finding.cycle} == {"alice", "bob"}
    [main] = [b for b in finding.actors if b.actor == "main"]
    assert (main.primitive, main.obj, main.blocked_by) == ("join", "alice", ["alice"])


def test_two_processes_taking_two_shared_locks_in_opposite_order_are_a_cycle() -> None:
    p1, p2 = thread("p1", 201, pid=201), thread("p2", 202, pid=202)
    shared = {"shared": True}
    events: list[Event] = [
        start(MAIN, 0, "main"),
        ProcessSpawn(t_ns=1 * MS, child="p1", child_pid=201, start_method="fork", **MAIN),
        ProcessSpawn(t_ns=1 * MS, child="p2", child_pid=202, start_method="fork", **MAIN),
        wait(MAIN, 2, "join", "p1"),
        start(p1, 3, "process"),
        start(p2, 3, "process"),
        take(p1, 4, "lock", "L1", **shared),
        take(p2, 4, "lock", "L2", **shared),
        wait(p1, 5, "lock", "L2", **shared),
        wait(p2, 6, "lock", "L1", **shared),
    ]
    finding = the_finding(events, until_ms=2_000)
    assert finding.kind == "deadlock"
    assert {(b.actor, b.pid, b.obj) for b in finding.cycle} == {
        ("p1", 201, "L2"),
        ("p2", 202, "L1"),
    }
    [main] = [b for b in finding.actors if b.actor == "main"]
    assert main.blocked_by == ["p1"]


def test_thread_locks_of_the_same_name_in_two_processes_are_two_locks() -> None:
    p1, p2 = thread("p1", 201, pid=201), thread("p2", 202, pid=202)
    events: list[Event] = [
        start(p1, 3, "process"),
        start(p2, 3, "process"),
        take(p1, 4, "lock", "L1"),
        take(p2, 4, "lock", "L2"),
        wait(p1, 5, "lock", "L2"),  # p1's own L2: free, it is about to get it
        wait(p2, 6, "lock", "L1"),
    ]
    assert findings(events, until_ms=60_000) == []


def test_three_philosophers_each_holding_the_fork_the_next_one_waits_for() -> None:
    seats = [thread(f"philosopher-{i}", 110 + i) for i in range(3)]
    events: list[Event] = [start(MAIN, 0, "main"), *(start(s, 1) for s in seats)]
    events += [take(s, 2, "lock", f"fork-{i}") for i, s in enumerate(seats)]
    events += [wait(s, 3, "lock", f"fork-{(i + 1) % 3}") for i, s in enumerate(seats)]
    finding = the_finding(events, until_ms=2_000)
    assert finding.kind == "deadlock"
    assert {b.actor for b in finding.cycle} == {f"philosopher-{i}" for i in range(3)}
    for here, there in zip(finding.cycle, finding.cycle[1:] + finding.cycle[:1], strict=True):
        assert there.holds == [here.obj]  # each waits for what the next one holds
        assert here.blocked_by == [there.actor]


def test_a_thread_taking_a_plain_lock_it_holds_deadlocks_itself() -> None:
    solo = thread("solo", 101)
    events: list[Event] = [
        start(solo, 0),
        take(solo, 1, "lock", "door"),
        wait(solo, 2, "lock", "door"),
    ]
    finding = the_finding(events, until_ms=2_000)
    assert [(b.actor, b.obj, b.blocked_by) for b in finding.cycle] == [("solo", "door", ["solo"])]


def test_a_release_that_arrives_after_a_newer_acquire_does_not_free_the_lock() -> None:
    a, b = thread("a", 201, pid=201), thread("b", 202, pid=202)
    shared = {"shared": True}
    events: list[Event] = [  # as they arrive: a's buffer reaches the server late
        start(a, 0, "process"),
        start(b, 0, "process"),
        take(a, 1, "lock", "M", **shared),
        take(a, 2, "lock", "L", **shared),
        take(b, 4, "lock", "L", **shared),
        wait(b, 5, "lock", "M", **shared),
        give(a, 3, "lock", "L", **shared),
        wait(a, 6, "lock", "L", **shared),
    ]
    finding = the_finding(events, until_ms=2_000)
    assert {(x.actor, x.obj, tuple(x.blocked_by)) for x in finding.cycle} == {
        ("a", "L", ("b",)),
        ("b", "M", ("a",)),
    }


# Not deadlocks ---------------------------------------------------------------------------


def test_waiting_for_a_lock_while_its_holder_runs_and_releases_it_is_no_deadlock() -> None:
    events: list[Event] = [
        start(MAIN, 0, "main"),
        start(ALICE, 1),
        start(BOB, 1),
        wait(MAIN, 2, "join", "alice"),
        take(ALICE, 3, "lock", "fork"),
        wait(BOB, 4, "lock", "fork"),
        wait(ALICE, 5, "sleep", "5.000s"),  # holds the fork for 5 s, asleep: not blocked
        Acquired(t_ns=5_005 * MS, primitive="sleep", obj="5.000s", **ALICE),
        Output(t_ns=5_006 * MS, line="done", **ALICE),
        give(ALICE, 5_007, "lock", "fork"),
        end(ALICE, 5_008),
        take(BOB, 5_008, "lock", "fork"),
        take(MAIN, 5_008, "join", "alice"),
    ]
    assert findings(events, until_ms=60_000) == []


def test_a_cycle_with_a_timed_wait_in_it_is_never_reported() -> None:
    events: list[Event] = [
        start(ALICE, 0),
        start(BOB, 0),
        take(ALICE, 1, "lock", "fork"),
        take(BOB, 1, "lock", "knife"),
        wait(ALICE, 2, "lock", "knife", timeout_s=3.0),
        wait(BOB, 3, "lock", "fork"),
        GaveUp(t_ns=3_002 * MS, primitive="lock", obj="knife", reason="timeout", **ALICE),
        give(ALICE, 3_003, "lock", "fork"),
        take(BOB, 3_004, "lock", "fork"),
    ]
    assert findings(events, until_ms=60_000) == []


@pytest.mark.parametrize(
    "keeps_running",
    [
        wait(MAIN, 5, "sleep", "9.000s"),
        wait(MAIN, 5, "join", "consumer", timeout_s=9.0),
        Output(t_ns=5 * MS, line="still here", **MAIN),
    ],
    ids=["sleeping", "timed-join", "running"],
)
def test_a_consumer_is_not_stalled_while_another_actor_could_still_put(
    keeps_running: Event,
) -> None:
    consumer = thread("consumer", 103)
    events: list[Event] = [
        start(MAIN, 0, "main"),
        start(consumer, 1),
        wait(consumer, 2, "queue", "shelf", value=0),
        keeps_running,
    ]
    assert findings(events, until_ms=60_000) == []


def test_an_rlock_taken_again_by_its_holder_is_not_a_wait_on_itself() -> None:
    adder = thread("adder", 101)
    events: list[Event] = [
        start(MAIN, 0, "main"),
        start(adder, 1),
        wait(MAIN, 2, "join", "adder"),
        wait(adder, 3, "rlock", "box", value=0),
        take(adder, 3, "rlock", "box", value=1),
        wait(adder, 4, "rlock", "box", value=1),
    ]
    assert findings(events, until_ms=60_000) == []


def semaphore_story(value_at_wait: int) -> list[Event]:
    """taker took a permit of ``slots`` and ended; waiter waits; main joins waiter."""
    taker, waiter = thread("taker", 101), thread("waiter", 102)
    return [
        start(MAIN, 0, "main"),
        start(taker, 1),
        start(waiter, 1),
        wait(MAIN, 2, "join", "waiter"),
        take(taker, 3, "semaphore", "slots", value=value_at_wait),
        end(taker, 4),
        wait(waiter, 5, "semaphore", "slots", value=value_at_wait),
    ]


def test_a_semaphore_with_permits_left_does_not_block() -> None:
    assert findings(semaphore_story(value_at_wait=1), until_ms=60_000) == []


def test_a_semaphore_nobody_alive_can_release_stalls_the_run() -> None:
    finding = the_finding(semaphore_story(value_at_wait=0), until_ms=2_000)
    assert finding.kind == "stall"
    assert finding.cycle == []
    [waiter] = [b for b in finding.actors if b.actor == "waiter"]
    assert waiter.blocked_by == ["taker (ended)"]


def test_a_consumer_waiting_for_more_signals_than_it_got_is_stalled_not_self_deadlocked() -> None:
    producer, consumer = thread("producer", 101), thread("consumer", 102)
    events: list[Event] = [
        start(MAIN, 0, "main"),
        start(producer, 1),
        start(consumer, 1),
        wait(MAIN, 2, "join", "consumer"),
        give(producer, 3, "semaphore", "ready", value=1),
        take(consumer, 4, "semaphore", "ready", value=0),
        end(producer, 5),
        wait(consumer, 6, "semaphore", "ready", value=0),
    ]
    finding = the_finding(events, until_ms=2_000)
    assert finding.kind == "stall"
    [blocked] = [b for b in finding.actors if b.actor == "consumer"]
    assert (blocked.blocked_by, blocked.holds) == ([], [])


def test_a_join_of_a_process_still_starting_is_not_stuck() -> None:
    child = thread("child", 201, pid=201)
    spawned: list[Event] = [
        start(MAIN, 0, "main"),
        ProcessSpawn(t_ns=1 * MS, child="child", child_pid=201, start_method="spawn", **MAIN),
        wait(MAIN, 2, "join", "child"),
    ]
    assert findings(spawned, until_ms=60_000) == []
    blocked = [*spawned, start(child, 3_000, "process"), wait(child, 3_001, "queue", "jobs")]
    finding = the_finding(blocked, until_ms=5_000)
    assert finding.kind == "stall"
    assert {(b.actor, b.primitive) for b in finding.actors} == {
        ("main", "join"),
        ("child", "queue"),
    }


# Stalls ----------------------------------------------------------------------------------


def producer_consumer() -> list[Event]:
    producer, consumer = thread("producer", 102), thread("consumer", 103)
    return [
        start(MAIN, 0, "main"),
        start(producer, 1),
        start(consumer, 1),
        wait(MAIN, 2, "join", "consumer"),
        QueuePut(t_ns=3 * MS, queue="shelf", item="7", size=1, **producer),
        QueueGet(t_ns=4 * MS, queue="shelf", item="7", size=0, **consumer),
        wait(consumer, 5, "queue", "shelf", value=0),
        wait(producer, 6, "sleep", "2.000s"),
        Acquired(t_ns=2_006 * MS, primitive="sleep", obj="2.000s", **producer),
        end(producer, 2_007),
    ]


def test_a_consumer_on_an_empty_queue_after_the_producer_ended_is_a_stall() -> None:
    events = producer_consumer()
    assert findings(events, until_ms=2_007 + AFTER_MS - 1) == []  # the clock starts at the end
    finding = the_finding(events, until_ms=2_007 + AFTER_MS)
    assert finding.kind == "stall"
    assert finding.cycle == []
    blocked = {(b.actor, b.primitive, b.obj) for b in finding.actors}
    assert blocked == {("consumer", "queue", "shelf"), ("main", "join", "consumer")}
    assert "consumer waits on queue shelf (size 0)" in finding.detail


def test_a_barrier_that_can_never_fill_is_a_stall_and_not_while_someone_may_arrive() -> None:
    runners = [thread(f"runner-{i}", 110 + i) for i in range(3)]
    late = thread("late", 120)
    events: list[Event] = [start(MAIN, 0, "main"), start(late, 1)]
    events += [start(r, 1) for r in runners]
    events += [wait(MAIN, 2, "join", "runner-0")]
    events += [wait(r, 3 + i, "barrier", "finish", value=i + 1) for i, r in enumerate(runners)]
    events += [wait(late, 4, "sleep", "3.000s")]
    assert findings(events, until_ms=60_000) == []  # late is asleep: it may still arrive
    events += [
        Acquired(t_ns=3_004 * MS, primitive="sleep", obj="3.000s", **late),
        end(late, 3_005),
    ]
    finding = the_finding(events, until_ms=60_000)
    assert finding.kind == "stall"
    assert {b.actor for b in finding.actors} == {"main", "runner-0", "runner-1", "runner-2"}
    assert "runner-2 waits at barrier finish (3 arrived)" in finding.detail


def test_an_rlock_whose_owner_ended_without_releasing_it_stalls_its_waiters() -> None:
    owner, waiter = thread("owner", 101), thread("waiter", 102)
    events: list[Event] = [
        start(MAIN, 0, "main"),
        start(owner, 1),
        start(waiter, 1),
        wait(MAIN, 2, "join", "waiter"),
        take(owner, 3, "rlock", "box", value=1),
        end(owner, 4),
        wait(waiter, 5, "rlock", "box", value=0),
    ]
    finding = the_finding(events, until_ms=2_000)
    assert finding.kind == "stall"
    [blocked] = [b for b in finding.actors if b.actor == "waiter"]
    assert blocked.blocked_by == ["owner (ended)"]


# Real runs: the false-positive guard -----------------------------------------------------

FAST = {"time_scale": 0.01}


@pytest.mark.parametrize(
    ("scenario_id", "params"),
    [
        ("T4.2", FAST),  # one lock, nine threads queueing for it
        ("T5.2", FAST),  # an rlock re-entered, held over a sleep
        ("T6.2", FAST),  # consumers waiting on semaphores before the producers start
        ("T7.3", {"time_scale": 0.05}),  # a barrier of five
        ("X1.2", {"use_lock": True, "threads": 4, "increments": 10}),  # an event, a lock
        ("X1.3", {"asymmetric": True, **FAST}),  # five forks, taken in no circle
        ("P6.2", {"items": 4, "time_scale": 0.02}),  # a queue and a semaphore across processes
        ("P6.3", {"items": 4, "time_scale": 0.02}),  # a drained queue
        ("P7.1", {}),  # a barrier and a lock shared by processes
        ("P7.2", {"start_method": "spawn"}),  # a semaphore between processes, slow start-up
    ],
)
def test_runs_that_end_well_show_no_deadlock_at_any_moment(
    scenario_id: str, params: dict[str, Any]
) -> None:
    outcome, events = run_scenario(scenario_id, **params)
    assert outcome.status == "succeeded", outcome.error
    waited = [e for e in events if isinstance(e, Wait) and e.primitive != "sleep"]
    assert [e for e in waited if e.timeout_s is None], "no real wait: the guard guards nothing"
    assert findings(events, until_ms=max(e.t_ns for e in events) // MS + 60_000, after_ms=100) == []

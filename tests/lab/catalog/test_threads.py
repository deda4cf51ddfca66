"""Part 1 scenarios (T1-T7): each one's defining behaviour, read back from its events.

Times are event stamps (``t_ns``), which are causally ordered: ``acquired`` is stamped
after the real acquire and ``released`` before the real release.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec
import pytest

from paralab.lab.catalog import SCENARIOS
from paralab.lab.catalog.threads.basics import NamedThreads
from paralab.lab.catalog.threads.locks import BoxParams
from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Event,
    Output,
    QueueGet,
    QueuePut,
    Released,
    Wait,
)
from tests.lab.scenarios import run_scenario

RUNNERS = ["Huey", "Dewey", "Louie", "Jan", "Alex"]


class Span(NamedTuple):
    actor: str
    start: int
    end: int


# Helpers ---------------------------------------------------------------------------------


def run(scenario_id: str, **params: Any) -> list[Event]:
    outcome, events = run_scenario(scenario_id, **params)
    assert outcome.status == "succeeded", outcome.error
    return sorted(events, key=lambda e: e.t_ns)


def lines(events: list[Event], actor: str | None = None) -> list[Output]:
    return [
        e
        for e in events
        if isinstance(e, Output) and e.stream == "stdout" and actor in (None, e.actor)
    ]


def texts(events: list[Event]) -> list[str]:
    return [e.line for e in lines(events)]


def lifetime(events: list[Event], actor: str) -> Span:
    [start] = [e.t_ns for e in events if isinstance(e, ActorStart) and e.actor == actor]
    [end] = [e.t_ns for e in events if isinstance(e, ActorEnd) and e.actor == actor]
    return Span(actor, start, end)


def lifetimes(events: list[Event], actors: Iterable[str]) -> list[Span]:
    return [lifetime(events, actor) for actor in actors]


def waits(events: list[Event], primitive: str, actor: str | None = None) -> list[Span]:
    """Each ``wait`` of ``actor`` on ``primitive``, up to the ``acquired`` that ended it."""
    spans: list[Span] = []
    open_waits: dict[str, int] = {}
    for e in events:
        if actor not in (None, e.actor) or getattr(e, "primitive", None) != primitive:
            continue
        if isinstance(e, Wait):
            open_waits[e.actor] = e.t_ns
        elif isinstance(e, Acquired) and e.actor in open_waits:
            spans.append(Span(e.actor, open_waits.pop(e.actor), e.t_ns))
    return spans


def sleeps(events: list[Event], actor: str | None = None) -> list[Span]:
    return waits(events, "sleep", actor)


def hold_spans(events: list[Event], obj: str) -> list[Span]:
    """Who held lock ``obj`` when: outermost acquire to final release (RLock depth 1 -> 0)."""
    spans: list[Span] = []
    held_since: dict[str, int] = {}
    for e in events:
        if isinstance(e, Acquired) and e.obj == obj and e.value in (None, 1):
            held_since[e.actor] = e.t_ns
        elif isinstance(e, Released) and e.obj == obj and e.value in (None, 0):
            spans.append(Span(e.actor, held_since.pop(e.actor), e.t_ns))
    assert not held_since, f"{obj} never released by {held_since}"
    return spans


def within(t: int, span: Span) -> bool:
    return span.start < t < span.end


def contains(outer: Span, inner: Span) -> bool:
    return outer.start < inner.start and inner.end < outer.end


def overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def all_overlap(spans: list[Span]) -> bool:
    """There is a moment when every span is in progress."""
    return max(s.start for s in spans) < min(s.end for s in spans)


def one_after_another(spans: list[Span]) -> bool:
    """Each span starts after the previous one (in the given order) has ended."""
    return all(a.end < b.start for a, b in itertools.pairwise(spans))


def never_overlap(spans: list[Span]) -> bool:
    return one_after_another(sorted(spans, key=lambda s: s.start))


def numbers(events: list[Event], pattern: str) -> list[int]:
    return [int(m.group(1)) for line in texts(events) if (m := re.search(pattern, line))]


# The catalog -----------------------------------------------------------------------------


def test_part_one_has_all_21_scenarios_with_titles() -> None:
    expected = {f"T{section}.{n}" for section in range(1, 8) for n in range(1, 4)}
    assert expected <= set(SCENARIOS)
    for scenario_id in expected:
        scenario = SCENARIOS[scenario_id]
        assert scenario.title
        assert scenario.observe
        assert scenario.section_title
        assert scenario.params().time_scale <= 0.5


@pytest.mark.parametrize(
    ("params_type", "fields"),
    [
        (NamedThreads, {"sleep_min": 5.0, "sleep_max": 1.0}),
        (BoxParams, {"remove_min": 5, "remove_max": 4}),
        (BoxParams, {"add_min": 5, "add_max": 8, "remove_max": 6}),
        (NamedThreads, {"sleep_max": 61.0}),
    ],
)
def test_inconsistent_params_are_rejected(params_type: type[Any], fields: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(fields, params_type)


# T1: defining a thread -------------------------------------------------------------------

T1 = {"threads": 6, "work": 1.0, "time_scale": 0.05}
T1_THREADS = [f"Thread-{i}" for i in range(6)]


@pytest.mark.parametrize("scenario_id", ["T1.1", "T1.2", "T1.3"])
def test_t1_each_thread_prints_its_own_number(scenario_id: str) -> None:
    events = run(scenario_id, **T1)
    printed = {(e.actor, e.line) for e in lines(events)}
    assert printed == {(f"Thread-{i}", f"my_func called by thread N°{i}") for i in range(6)}


def test_t1_1_each_thread_starts_after_the_previous_one_ended() -> None:
    events = run("T1.1", **T1)
    assert one_after_another(lifetimes(events, T1_THREADS))


def test_t1_2_all_threads_run_at_the_same_time() -> None:
    events = run("T1.2", **T1)
    assert all_overlap(lifetimes(events, T1_THREADS))


def test_t1_3_first_half_in_turn_then_second_half_together() -> None:
    events = run("T1.3", **T1)
    first, rest = lifetimes(events, T1_THREADS[:3]), lifetimes(events, T1_THREADS[3:])
    assert one_after_another(first)
    assert all_overlap(rest)
    assert first[-1].end < min(s.start for s in rest)


# T2: determining the current thread ------------------------------------------------------

T2 = {"sleep_min": 3.0, "sleep_max": 10.0, "time_scale": 0.03}
A, B, C = "function_A", "function_B", "function_C"


@pytest.mark.parametrize("scenario_id", ["T2.1", "T2.2", "T2.3"])
def test_t2_each_thread_names_itself(scenario_id: str) -> None:
    events = run(scenario_id, **T2)
    for name in (A, B, C):
        starting, exiting = lines(events, name)
        assert starting.line.startswith(f"{name} --> starting")
        assert exiting.line == f"{name} --> exiting"


def test_t2_1_all_three_start_before_any_exits() -> None:
    events = run("T2.1", **T2)
    starting = [e.t_ns for e in lines(events) if "starting" in e.line]
    exiting = [e.t_ns for e in lines(events) if "exiting" in e.line]
    assert len(starting) == len(exiting) == 3
    assert max(starting) < min(exiting)
    assert all_overlap(lifetimes(events, [A, B, C]))


def test_t2_2_runs_a_then_b_then_c() -> None:
    events = run("T2.2", **T2)
    assert one_after_another(lifetimes(events, [A, B, C]))


def test_t2_3_b_and_c_overlap_then_a_runs_alone() -> None:
    events = run("T2.3", **T2)
    a, b, c = lifetimes(events, [A, B, C])
    assert overlap(b, c)
    assert a.start > max(b.end, c.end)


# T3: thread subclass ---------------------------------------------------------------------

T3 = {"threads": 6, "sleep_min": 2.0, "sleep_max": 4.0, "time_scale": 0.03}
T3_THREADS = [f"Thread#{i}" for i in range(1, 7)]


def assert_t3_output(events: list[Event]) -> None:
    for name in T3_THREADS:
        running, over = lines(events, name)
        assert running.line == f"---> {name} running, belonging to process ID {running.pid}"
        assert over.line == f"---> {name} over"
    assert re.fullmatch(r"END: total time \d+\.\d\d s", texts(events)[-1])


def test_t3_1_subclass_threads_run_one_at_a_time() -> None:
    events = run("T3.1", **T3)
    assert_t3_output(events)
    assert one_after_another(lifetimes(events, T3_THREADS))


def test_t3_2_subclass_threads_run_in_parallel_in_one_process() -> None:
    events = run("T3.2", **T3)
    assert_t3_output(events)
    assert all_overlap(lifetimes(events, T3_THREADS))
    assert len({e.pid for e in lines(events)}) == 1


def test_t3_3_joins_every_thread_exactly_once() -> None:
    events = run("T3.3", **T3)
    assert_t3_output(events)
    joined = Counter(e.obj for e in events if isinstance(e, Acquired) and e.primitive == "join")
    assert joined == dict.fromkeys(T3_THREADS, 1)
    first, rest = lifetimes(events, T3_THREADS[:3]), lifetimes(events, T3_THREADS[3:])
    assert all_overlap(first)
    assert all_overlap(rest)
    assert max(s.end for s in first) < min(s.start for s in rest)


# T4: lock --------------------------------------------------------------------------------

T4 = {"threads": 5, "sleep_min": 2.0, "sleep_max": 3.0, "time_scale": 0.03}
T4_THREADS = [f"Thread#{i}" for i in range(1, 6)]


def hold_of(events: list[Event], actor: str) -> Span:
    [hold] = [s for s in hold_spans(events, "lock") if s.actor == actor]
    return hold


@pytest.mark.parametrize("scenario_id", ["T4.1", "T4.2", "T4.3"])
def test_t4_lock_hold_spans_never_overlap(scenario_id: str) -> None:
    events = run(scenario_id, **T4)
    holds = hold_spans(events, "lock")
    assert sorted(s.actor for s in holds) == T4_THREADS
    assert never_overlap(holds)


def test_t4_1_running_and_over_lines_lie_inside_their_hold() -> None:
    events = run("T4.1", **T4)
    for name in T4_THREADS:
        hold = hold_of(events, name)
        assert all(within(e.t_ns, hold) for e in lines(events, name))
        assert contains(hold, sleeps(events, name)[0])
    assert never_overlap(sleeps(events))


def test_t4_2_sleeps_are_serialised_but_running_lines_are_not() -> None:
    events = run("T4.2", **T4)
    for name in T4_THREADS:
        assert contains(hold_of(events, name), sleeps(events, name)[0])
    assert never_overlap(sleeps(events))
    first_release = min(s.end for s in hold_spans(events, "lock"))
    assert all(e.t_ns < first_release for e in lines(events) if "running" in e.line)


def test_t4_3_sleeps_overlap_while_holds_do_not() -> None:
    events = run("T4.3", **T4)
    for name in T4_THREADS:
        [running] = [e for e in lines(events, name) if "running" in e.line]
        assert within(running.t_ns, hold_of(events, name))
    assert all_overlap(sleeps(events))
    assert never_overlap(hold_spans(events, "lock"))


# T5: RLock -------------------------------------------------------------------------------

T5 = {"add_min": 6, "add_max": 8, "remove_min": 3, "remove_max": 4, "time_scale": 0.03}


@pytest.mark.parametrize("scenario_id", ["T5.1", "T5.2", "T5.3"])
def test_t5_rlock_is_reentered_and_the_count_adds_up(scenario_id: str) -> None:
    events = run(scenario_id, **T5)
    depths = [e.value or 0 for e in events if isinstance(e, Acquired) and e.obj == "box.lock"]
    assert max(depths) >= 2
    [to_add] = numbers(events, r"N° (\d+) items to ADD")
    [to_remove] = numbers(events, r"N° (\d+) items to REMOVE")
    assert len(lines(events, "adder")) == to_add + 1
    assert len(lines(events, "remover")) == to_remove + 1
    assert texts(events)[-1] == f"{to_add - to_remove} items left in the box"
    assert never_overlap(hold_spans(events, "box.lock"))


def test_t5_1_nobody_sleeps_while_holding_the_lock() -> None:
    events = run("T5.1", **T5)
    holds = hold_spans(events, "box.lock")
    for nap in sleeps(events):
        assert not any(overlap(nap, hold) for hold in holds if hold.actor == nap.actor)


@pytest.mark.parametrize(
    ("scenario_id", "sleeper", "waiter"),
    [("T5.2", "adder", "remover"), ("T5.3", "remover", "adder")],
)
def test_t5_one_thread_waits_while_the_other_sleeps_holding_the_lock(
    scenario_id: str, sleeper: str, waiter: str
) -> None:
    events = run(scenario_id, **T5)
    holds = [s for s in hold_spans(events, "box.lock") if s.actor == sleeper]
    naps = sleeps(events, sleeper)
    assert all(any(contains(hold, nap) for hold in holds) for nap in naps)
    blocked = [w for w in waits(events, "rlock", waiter) if any(within(n.end, w) for n in naps)]
    assert blocked, f"{waiter} never waited while {sleeper} slept holding box.lock"


# T6: semaphore ---------------------------------------------------------------------------

T6 = {"pairs": 5, "sleep_min": 2.0, "sleep_max": 3.0, "time_scale": 0.03}
CONSUMERS = [f"consumer-{i}" for i in range(1, 6)]
PRODUCERS = [f"producer-{i}" for i in range(1, 6)]


def produced(events: list[Event]) -> list[Output]:
    return [e for e in lines(events) if "produced item" in e.line]


def consumed(events: list[Event]) -> list[Output]:
    return [e for e in lines(events) if "consumed item" in e.line]


def item(line: Output) -> int:
    return int(line.line.rsplit(" ", 1)[1])


@pytest.mark.parametrize("scenario_id", ["T6.1", "T6.2", "T6.3"])
def test_t6_every_produced_item_is_consumed_exactly_once(scenario_id: str) -> None:
    events = run(scenario_id, **T6)
    made = Counter(item(e) for e in produced(events))
    assert sorted(e.actor for e in produced(events)) == sorted(PRODUCERS)
    assert sorted(e.actor for e in consumed(events)) == sorted(CONSUMERS)
    assert Counter(item(e) for e in consumed(events)) == made
    assert Counter(int(e.item) for e in events if isinstance(e, QueuePut)) == made
    assert Counter(int(e.item) for e in events if isinstance(e, QueueGet)) == made
    made_so_far: Counter[int] = Counter()
    used_so_far: Counter[int] = Counter()
    for line in lines(events):  # an item is consumed only after it was produced
        if "produced item" in line.line:
            made_so_far[item(line)] += 1
        elif "consumed item" in line.line:
            used_so_far[item(line)] += 1
            assert used_so_far[item(line)] <= made_so_far[item(line)]


@pytest.mark.parametrize("scenario_id", ["T6.1", "T6.2", "T6.3"])
def test_t6_consumers_block_on_the_semaphore_until_a_release(scenario_id: str) -> None:
    events = run(scenario_id, **T6)
    blocked = waits(events, "semaphore")
    assert sorted(w.actor for w in blocked) == sorted(CONSUMERS)
    releases = sorted(e.t_ns for e in events if isinstance(e, Released) and e.obj == "ready")
    assert len(releases) == len(blocked)
    for k, acquired in enumerate(sorted(w.end for w in blocked)):
        assert releases[k] < acquired  # the k-th consumer through needed the k-th release


def test_t6_1_all_pairs_work_at_the_same_time() -> None:
    events = run("T6.1", **T6)
    assert all_overlap(sleeps(events))
    assert all_overlap(waits(events, "semaphore") + sleeps(events))


def test_t6_2_all_consumers_wait_before_any_producer_starts() -> None:
    events = run("T6.2", **{**T6, "time_scale": 0.1, "sleep_max": 2.0})
    consumer_waits = waits(events, "semaphore")
    first_producer = min(s.start for s in lifetimes(events, PRODUCERS))
    assert len(consumer_waits) == 5
    assert max(w.start for w in consumer_waits) < first_producer


def test_t6_3_pairs_run_one_at_a_time_and_consume_their_own_item() -> None:
    events = run("T6.3", **T6)
    pairs = []
    for consumer, producer in zip(CONSUMERS, PRODUCERS, strict=True):
        c, p = lifetime(events, consumer), lifetime(events, producer)
        pairs.append(Span(consumer, min(c.start, p.start), max(c.end, p.end)))
        [made] = [item(e) for e in produced(events) if e.actor == producer]
        [got] = [item(e) for e in consumed(events) if e.actor == consumer]
        assert got == made
    assert one_after_another(pairs)


# T7: barrier -----------------------------------------------------------------------------

T7 = {"sleep_min": 2.0, "sleep_max": 5.0, "time_scale": 0.03}


@pytest.mark.parametrize("scenario_id", ["T7.1", "T7.2", "T7.3"])
def test_t7_race_starts_first_and_is_over_last(scenario_id: str) -> None:
    events = run(scenario_id, **T7)
    said = texts(events)
    assert said[0] == "START RACE!"
    assert said[-1] == "Race over!"
    finishes = lines(events)[1:-1]
    assert sorted(e.actor for e in finishes) == sorted(RUNNERS)
    assert all(e.line.startswith(f"{e.actor} reached the ") for e in finishes)


def test_t7_1_the_last_runner_counted_announces_the_end() -> None:
    events = run("T7.1", **T7)
    *finishes, over = lines(events)[1:]
    assert over.actor == finishes[-1].actor
    holds = hold_spans(events, "counter.lock")
    assert sorted(s.actor for s in holds) == sorted(RUNNERS)
    assert never_overlap(holds)
    assert holds[-1].actor == over.actor
    assert within(over.t_ns, holds[-1])
    assert not [e for e in events if getattr(e, "primitive", None) == "barrier"]


def test_t7_2_main_announces_the_end_after_joining_every_runner() -> None:
    events = run("T7.2", **T7)
    over = lines(events)[-1]
    assert over.actor == "main"
    joins = waits(events, "join", "main")
    assert len(joins) == 5
    assert max(j.end for j in joins) < over.t_ns
    assert max(s.end for s in lifetimes(events, RUNNERS)) < over.t_ns


def test_t7_3_no_runner_passes_the_barrier_before_the_fifth_arrives() -> None:
    events = run("T7.3", **T7)
    passes = waits(events, "barrier")
    assert sorted(s.actor for s in passes) == sorted(RUNNERS)
    fifth_arrival = max(s.start for s in passes)
    assert all(s.end > fifth_arrival for s in passes)
    arrivals = [e.value for e in events if isinstance(e, Wait) and e.primitive == "barrier"]
    assert sorted(v or 0 for v in arrivals) == [1, 2, 3, 4, 5]


# Seeds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario_id", "params", "pattern"),
    [
        ("T2.1", T2, r"sleeping (\d+\.\d) s"),
        ("T6.1", T6, r"making item number (\d+)"),
        ("T7.2", T7, r"after (\d+\.\d) s"),
    ],
)
def test_the_seed_makes_runs_reproducible(
    scenario_id: str, params: dict[str, Any], pattern: str
) -> None:
    def printed(seed: int) -> list[tuple[str, str]]:
        events = run(scenario_id, **params, seed=seed)
        found = [(e.actor, m.group(1)) for e in lines(events) if (m := re.search(pattern, e.line))]
        return sorted(found)

    first = printed(7)
    assert first
    assert printed(7) == first
    assert printed(8) != first

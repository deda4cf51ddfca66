"""Chaos: 200 runs through the real runner, cancelled, timed out or hit with ``kill -9`` at
random moments, leave ``/dev/shm`` (segments and multiprocessing's named semaphores) and
the process table as they found them.

Each run is a process scenario (or L3 with small arrays) under one of the three start
methods, with one of four fates: left to finish, cancelled, stopped at a short time limit,
or some of its processes (found in /proc by process group: the run's pid) killed with
SIGKILL mid-run. The random choices come from one seed, so a failure can be replayed.
Only processes of the runs started here are ever signalled."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from paralab.lab import shm
from paralab.lab.events import Event, QueuePut, SharedMemoryOp
from paralab.lab.runner import CancelHandle, Outcome, run_child

pytestmark = pytest.mark.skipif(not os.path.isdir(shm.SHM_DIR), reason="needs /dev/shm")

SEED = 20_240_611
RUNS = 200
AT_ONCE = 6
TIME_LIMIT_S = 30.0
"""for runs meant to finish (or be cancelled): generous, two cores are shared by many"""
KILLED_LIMIT_S = 3.0
"""for runs hit by kill -9: one whose worker was killed may wait for it forever"""
GRACE_S = 0.5
WHOLE_TEST_S = 300.0
GONE_WITHIN_S = 20.0
"""this machine's init reaps orphans a second or two after they die"""

Fate = Literal["finish", "cancel", "time_out", "kill"]
FATES: tuple[Fate, ...] = ("finish", "cancel", "time_out", "kill")
START_METHODS = ("fork", "spawn", "forkserver")
SCENARIOS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("P1.2", {"processes": 2}),
    ("P3.1", {"time_scale": 0.05}),
    ("P6.2", {"items": 6, "time_scale": 0.05}),
    ("P8.1", {"workers": 2, "numbers": 40}),
    ("L3.1", {"array_mib": 32, "sizes_mib": [4, 32], "workers": 2, "repeat": 3}),
)
ALLOWED: dict[Fate, set[str]] = {
    "finish": {"succeeded"},
    "cancel": {"cancelled", "succeeded"},  # a quick run may end before the cancel
    "time_out": {"timed_out", "succeeded"},
    "kill": {"succeeded", "failed", "timed_out"},  # depends on whom it hit, and when
}


@dataclass(frozen=True)
class Plan:
    index: int
    scenario_id: str
    params: dict[str, Any]
    fate: Fate
    after_s: float
    """when the cancel, time limit or first kill comes"""
    kills: int
    """kill -9 rounds (fate kill): each takes one random process of the run"""


@dataclass
class Record:
    plan: Plan
    run_id: str
    pgid: int = 0
    outcome: Outcome | None = None
    killed: list[str] = field(default_factory=list)
    """``pid (comm)`` of each process killed"""
    created: set[str] = field(default_factory=set)
    """segments the run created"""
    orphaned: set[str] = field(default_factory=set)
    """segments it created but never unlinked: only the runner's sweep removed them"""


def plans(seed: int = SEED, count: int = RUNS) -> list[Plan]:
    rng = random.Random(seed)
    made = []
    for index in range(count):
        scenario_id, params = rng.choice(SCENARIOS)
        fate = rng.choice(FATES)
        made.append(
            Plan(
                index=index,
                scenario_id=scenario_id,
                params={**params, "start_method": rng.choice(START_METHODS)},
                fate=fate,
                after_s=rng.uniform(0.05, 1.5),
                kills=rng.randint(1, 3),
            )
        )
    return made


# /proc ---------------------------------------------------------------------------------


def stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, process group) of ``pid``, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    state, _ppid, pgrp = text[text.rindex(")") + 2 :].split()[:3]
    return comm, state, int(pgrp)


def members(pgids: set[int]) -> dict[int, tuple[str, str, int]]:
    """Every process (zombies too) whose process group is one of ``pgids``."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := stat(int(entry))) and info[2] in pgids:
            found[int(entry)] = info
    return found


def kill_one(rng: random.Random, pgid: int) -> str | None:
    """SIGKILL one random live process of group ``pgid`` (the run's pid, reserved while
    the group has a member). Through a pidfd: the process is checked to be in the group
    after it is pinned, so a pid recycled since the scan is never hit."""
    live = [pid for pid, (_, state, _) in members({pgid}).items() if state != "Z"]
    if not live:
        return None
    pid = rng.choice(sorted(live))
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        info = stat(pid)
        if info is None or info[2] != pgid:
            return None
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return f"{pid} ({info[0]})"
    except ProcessLookupError:
        return None
    finally:
        os.close(pidfd)


def leftovers(run_ids: Sequence[str]) -> list[str]:
    """What ``/dev/shm`` holds of these runs: segments, and semaphores (``sem.`` files)."""
    prefixes = tuple(f"{kind}{shm.prefix(run_id)}" for run_id in run_ids for kind in ("", "sem."))
    return sorted(name for name in os.listdir(shm.SHM_DIR) if name.startswith(prefixes))


# one run -------------------------------------------------------------------------------


async def play(plan: Plan, slots: asyncio.Semaphore) -> Record:
    record = Record(plan, run_id=f"leak{plan.index:03d}x{uuid.uuid4().hex[:6]}")
    rng = random.Random(SEED + plan.index)
    async with slots:
        handle = CancelHandle.create()
        events: list[Event] = []
        limit = {"time_out": plan.after_s, "kill": KILLED_LIMIT_S}.get(plan.fate, TIME_LIMIT_S)
        run = asyncio.create_task(
            run_child(
                plan.scenario_id,
                plan.params,
                events.extend,
                time_limit_s=limit,
                grace_s=GRACE_S,
                cancel=handle,
                run_id=record.run_id,
            )
        )
        while handle.pid is None and not run.done():
            await asyncio.sleep(0.002)
        record.pgid = handle.pid or 0
        if plan.fate in ("cancel", "kill"):
            await asyncio.wait({run}, timeout=plan.after_s)
        if plan.fate == "cancel":
            handle.requested.set()
        if plan.fate == "kill":
            await started_processes(record.pgid, run)
        for _ in range(plan.kills if plan.fate == "kill" else 0):
            if run.done():
                break
            if victim := kill_one(rng, record.pgid):
                record.killed.append(victim)
            await asyncio.wait({run}, timeout=rng.uniform(0.0, 0.3))
        record.outcome = await run
    ops = [e for e in events if isinstance(e, SharedMemoryOp)]
    record.created = {e.segment for e in ops if e.op == "create"}
    record.orphaned = record.created - {e.segment for e in ops if e.op == "unlink"}
    return record


async def started_processes(pgid: int, run: asyncio.Task[Outcome], within_s: float = 3.0) -> None:
    """Wait until the run has processes besides its main one, so a kill hits mid-run."""
    deadline = time.monotonic() + within_s
    while not run.done() and time.monotonic() < deadline:
        if sum(state != "Z" for _, state, _ in members({pgid}).values()) > 1:
            return
        await asyncio.wait({run}, timeout=0.02)


async def play_all(all_plans: list[Plan]) -> list[Record]:
    slots = asyncio.Semaphore(AT_ONCE)
    return await asyncio.gather(*(play(plan, slots) for plan in all_plans))


def describe(record: Record) -> str:
    plan = record.plan
    status = record.outcome.status if record.outcome else "?"
    return (
        f"#{plan.index} {plan.scenario_id} {plan.params['start_method']} {plan.fate} "
        f"after {plan.after_s:.2f}s -> {status}, killed {record.killed or 'none'}, "
        f"segments swept {sorted(record.orphaned) or 'none'}"
    )


# the test ------------------------------------------------------------------------------


def test_plans_are_a_seeded_mix_of_every_scenario_start_method_and_fate() -> None:
    made = plans()
    assert made == plans()
    assert {p.scenario_id for p in made} == {s for s, _ in SCENARIOS}
    assert {p.params["start_method"] for p in made} == set(START_METHODS)
    assert {p.fate for p in made} == set(FATES)


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_runs_named_semaphores_carry_its_id_so_the_sweep_finds_them(start_method: str) -> None:
    """Under spawn and forkserver a queue's locks are files in /dev/shm while they exist;
    named after the run, a run killed before it could unlink them leaves nothing."""
    run_id = f"leaksem{uuid.uuid4().hex[:6]}"
    seen: list[str] = []

    def look(events: Sequence[Event]) -> None:
        if not seen and any(isinstance(e, QueuePut) for e in events):
            seen.extend(leftovers([run_id]))

    params = {"items": 3, "time_scale": 0.05, "start_method": start_method}
    outcome = asyncio.run(run_child("P6.2", params, look, time_limit_s=30, run_id=run_id))
    assert outcome.status == "succeeded", outcome.error
    assert any(name.startswith(f"sem.{shm.prefix(run_id)}sem-") for name in seen), seen
    assert leftovers([run_id]) == []


def test_chaos_leaves_no_segment_and_no_process_behind() -> None:
    records = asyncio.run(asyncio.wait_for(play_all(plans()), timeout=WHOLE_TEST_S))

    wrong = [
        describe(r)
        for r in records
        if r.outcome is None or r.outcome.status not in ALLOWED[r.plan.fate]
    ]
    assert wrong == [], "\n".join(wrong)
    assert sum(len(r.killed) for r in records) > 0
    assert {r.outcome.status for r in records if r.outcome} >= {
        "succeeded",
        "cancelled",
        "timed_out",
        "failed",
    }

    run_ids = [r.run_id for r in records]
    assert leftovers(run_ids) == []
    print("ORPHANED", sum(len(r.orphaned) for r in records))
    from collections import Counter

    print(Counter(v.split()[1] for r in records for v in r.killed))
    print(Counter((r.plan.fate, r.outcome.status) for r in records if r.outcome))

    pgids = {r.pgid for r in records}
    assert 0 not in pgids
    deadline = time.monotonic() + GONE_WITHIN_S
    while (left := members(pgids)) and time.monotonic() < deadline:
        time.sleep(0.2)  # orphans that died are zombies until init reaps them
    by_group = {r.pgid: r for r in records}
    assert left == {}, "\n".join(
        f"{pid} {comm} state {state}: {describe(by_group[pgid])}"
        for pid, (comm, state, pgid) in sorted(left.items())
    )

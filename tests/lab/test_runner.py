"""The engine: child process, process group, limits, failures; independent of any scenario."""

from __future__ import annotations

import contextlib
import os

import pytest

from paralab.lab.events import Acquired, ActorEnd, ActorStart, Metric, Output, Wait
from tests.lab.scenarios import run_scenario


def test_a_raising_scenario_fails_with_its_traceback() -> None:
    outcome, events = run_scenario("X1.1")
    assert outcome.status == "failed"
    assert "RuntimeError: deadlock detected" in outcome.error
    assert "Traceback" in outcome.error
    stderr = [e.line for e in events if isinstance(e, Output) and e.stream == "stderr"]
    assert any("RuntimeError" in line for line in stderr)


def test_a_hanging_scenario_times_out_and_its_process_group_is_gone() -> None:
    outcome, events = run_scenario("X1.1", time_limit_s=1.0, detect=False)
    assert outcome.status == "timed_out"
    assert "time limit of 1 s" in outcome.error
    pids = {e.pid for e in events if isinstance(e, ActorStart)}
    assert len(pids) == 1
    (pid,) = pids
    try:
        os.killpg(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_deadlocked_threads_each_hold_one_lock_and_wait_for_the_other() -> None:
    _, events = run_scenario("X1.1")
    held = {e.actor: e.obj for e in events if isinstance(e, Acquired) and e.primitive == "lock"}
    waits = [e for e in events if isinstance(e, Wait) and e.primitive == "lock"]
    last_wait = {e.actor: e.obj for e in waits}
    assert held == {"alice": "fork", "bob": "knife"}
    assert last_wait == {"alice": "knife", "bob": "fork"}


def test_unknown_params_are_rejected_by_the_child() -> None:
    outcome, _ = run_scenario("T1.1", threads="many")
    assert outcome.status == "failed"
    assert "threads" in outcome.error


def test_every_event_is_stamped_with_pid_thread_and_actor() -> None:
    _, events = run_scenario("X1.2", threads=3, increments=2, time_scale=0.01)
    starts = [e for e in events if isinstance(e, ActorStart)]
    ends = [e for e in events if isinstance(e, ActorEnd)]
    assert {e.actor for e in starts} == {"main", "worker-0", "worker-1", "worker-2"}
    assert {e.actor for e in ends} == {e.actor for e in starts}
    assert len({e.tid for e in starts}) == 4
    assert all(e.t_ns >= 0 for e in events)


def test_lost_updates_happen_without_the_lock_and_not_with_it() -> None:
    def lost(use_lock: bool) -> float:
        _, events = run_scenario("X1.2", threads=4, increments=10, use_lock=use_lock)
        (metric,) = [e for e in events if isinstance(e, Metric)]
        return metric.value

    assert lost(use_lock=True) == 0
    assert lost(use_lock=False) > 0


def test_cancelling_the_supervising_task_kills_the_process_group() -> None:
    import asyncio

    from paralab.lab.runner import CancelHandle, run_child

    async def start_then_abandon() -> int:
        handle = CancelHandle.create()
        task = asyncio.create_task(
            run_child("X1.1", {"detect": False}, lambda _: None, time_limit_s=60, cancel=handle)
        )
        while handle.pid is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return handle.pid

    pid = asyncio.run(start_then_abandon())
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)

"""The instrumented multiprocessing primitives, in this process and spawned children: what
they emit around the real objects. (Scenarios exercise them further: catalog tests.)"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from paralab.lab.events import (
    Acquired,
    ActorStart,
    ProcessExit,
    ProcessSpawn,
    ProcessStop,
    QueueGet,
    QueuePut,
    Released,
    Wait,
)
from paralab.lab.traced import processes
from tests.lab.recording import Recorded, recording


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """Events of this process and of children started with spawn (a fresh interpreter that
    must be handed the pipe: the case a fork would hide)."""
    processes.use_start_method("spawn")
    try:
        with recording() as events:
            yield events
    finally:
        processes.use_start_method(processes.DEFAULT_START_METHOD)


def sleep_long() -> None:
    time.sleep(30)


def wait_for(event: processes.Event) -> None:
    event.wait()


def work_through(jobs: processes.JoinableQueue[int]) -> None:
    for _ in range(3):
        jobs.get()
        jobs.task_done()


def test_kill_is_sigkill_reported_by_the_parent(recorded: Recorded) -> None:
    child = processes.Process(target=sleep_long, name="sleeper")
    child.start()
    child.kill()
    child.join()
    events = recorded()
    assert child.exitcode == -9
    [spawn] = [e for e in events if isinstance(e, ProcessSpawn)]
    assert (spawn.child, spawn.start_method, spawn.child_pid) == ("sleeper", "spawn", child.pid)
    [stop] = [e for e in events if isinstance(e, ProcessStop)]
    assert (stop.signal, stop.reason) == ("SIGKILL", "kill")
    [seen] = [e for e in events if isinstance(e, ProcessExit)]
    assert seen.exit_code == -9
    assert spawn.t_ns <= stop.t_ns <= seen.t_ns


def test_an_event_set_here_releases_a_waiting_spawned_child(recorded: Recorded) -> None:
    go = processes.Event("go")
    child = processes.Process(target=wait_for, args=(go,), name="waiter")
    child.start()
    go.set()
    child.join()
    events = recorded()
    assert child.exitcode == 0
    started = [e for e in events if isinstance(e, ActorStart) and e.actor == "waiter"]
    assert [s.pid for s in started] == [child.pid]  # the spawned child emitted on our pipe
    [waited] = [e for e in events if isinstance(e, Wait) and e.obj == "go"]
    [passed] = [e for e in events if isinstance(e, Acquired) and e.obj == "go"]
    [set_at] = [e for e in events if isinstance(e, Released) and e.obj == "go"]
    assert waited.pid == passed.pid == child.pid
    assert set_at.pid == os.getpid()
    assert set_at.t_ns <= passed.t_ns


def test_a_joinable_queue_join_waits_for_every_task_done(recorded: Recorded) -> None:
    jobs: processes.JoinableQueue[int] = processes.JoinableQueue(name="jobs")
    child = processes.Process(target=work_through, args=(jobs,), name="worker")
    child.start()
    for job in range(3):
        jobs.put(job)
    jobs.join()
    child.join()
    events = recorded()
    puts = [e for e in events if isinstance(e, QueuePut)]
    gets = [e for e in events if isinstance(e, QueueGet)]
    assert [p.item for p in puts] == ["0", "1", "2"]
    assert [g.item for g in gets] == ["0", "1", "2"]
    assert {g.pid for g in gets} == {child.pid}
    [joined] = [
        e for e in events if isinstance(e, Acquired) and e.obj == "jobs" and e.primitive == "join"
    ]
    assert joined.t_ns >= max(g.t_ns for g in gets)


def test_an_rlock_reports_its_depth_and_is_free_after_the_last_release(
    recorded: Recorded,
) -> None:
    lock = processes.RLock("shared")
    with lock, lock:
        pass
    values = [(type(e).__name__, e.value) for e in recorded() if isinstance(e, Acquired | Released)]
    assert values == [("Acquired", 1), ("Acquired", 2), ("Released", 1), ("Released", 0)]
    assert lock.acquire(blocking=False)
    lock.release()

"""The instrumented primitives, in process: what they emit around a real stdlib object."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import pytest

from paralab.lab import traced
from paralab.lab.events import (
    Acquired,
    GaveUp,
    Output,
    Released,
    Wait,
)
from tests.lab.recording import Recorded, recording


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    with recording() as events:
        yield events


def held_lock() -> traced.Lock:
    lock = traced.Lock("taken")
    lock._lock.acquire()  # held by someone else, without events
    return lock


def timed_out_join() -> None:
    stop = threading.Event()
    thread = traced.Thread(target=stop.wait, name="sleeper")
    thread.start()
    thread.join(timeout=0.01)
    stop.set()
    threading.Thread.join(thread)  # the real join, without events


def raises(kind: type[BaseException], action: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with pytest.raises(kind):
            action()

    return run


@pytest.mark.parametrize(
    ("attempt", "primitive", "reason"),
    [
        (lambda: held_lock().acquire(blocking=False), "lock", "would_block"),
        (lambda: held_lock().acquire(timeout=0.01), "lock", "timeout"),
        (lambda: traced.Semaphore(0).acquire(blocking=False), "semaphore", "would_block"),
        (lambda: traced.BoundedSemaphore(0).acquire(timeout=0.01), "semaphore", "timeout"),
        (lambda: traced.Event().wait(0.01), "event", "timeout"),
        (raises(queue.Empty, lambda: traced.Queue[int]().get(timeout=0.01)), "queue", "timeout"),
        (
            raises(threading.BrokenBarrierError, lambda: traced.Barrier(2).wait(timeout=0.01)),
            "barrier",
            "broken",
        ),
        (timed_out_join, "join", "timeout"),
    ],
    ids=[
        "lock-nonblocking",
        "lock-timeout",
        "semaphore-nonblocking",
        "bounded-timeout",
        "event-timeout",
        "queue-timeout",
        "barrier-broken",
        "join-timeout",
    ],
)
def test_a_wait_that_does_not_get_it_ends_in_gave_up(
    recorded: Recorded, attempt: Callable[[], object], primitive: str, reason: str
) -> None:
    attempt()
    events = [e for e in recorded() if getattr(e, "primitive", None) == primitive]
    waits = [e for e in events if isinstance(e, Wait)]
    ends = [e for e in events if isinstance(e, Acquired | GaveUp)]
    assert len(waits) == 1
    assert [type(e) for e in ends] == [GaveUp]
    gave_up = ends[0]
    assert isinstance(gave_up, GaveUp)
    assert (gave_up.obj, gave_up.reason) == (waits[0].obj, reason)
    assert gave_up.t_ns >= waits[0].t_ns


def test_a_lock_that_is_free_is_acquired_not_given_up(recorded: Recorded) -> None:
    lock = traced.Lock("free")
    assert lock.acquire(blocking=False)
    lock.release()
    assert [type(e) for e in recorded()] == [Wait, Acquired, Released]


def test_an_oversized_event_keeps_both_ends_of_its_text(recorded: Recorded) -> None:
    traceback = "Traceback (most recent call last):\n" + "  frame\n" * 800 + "ValueError: the cause"
    traced.emit(Output, line=traceback)
    (event,) = recorded()
    assert isinstance(event, Output)
    assert len(event.line) < 4000
    assert event.line.startswith("Traceback")
    assert event.line.endswith("ValueError: the cause")
    assert "characters cut" in event.line

"""Beyond the required catalog: the classic ways concurrent code goes wrong."""

from __future__ import annotations

import time
from typing import Annotated, Literal

import msgspec

from paralab.lab.scenario import Lab, Params, Scenario, TimeScale
from paralab.lab.traced import Lock, Queue, Semaphore


class DeadlockParams(Params, frozen=True, kw_only=True):
    time_scale: TimeScale = 0.1
    detect_after: Annotated[float, msgspec.Meta(ge=0.1, le=30)] = 2.0
    """Scenario seconds the main thread waits before it declares a deadlock."""
    detect: bool = True
    """Without detection the run hangs until the runner's wall-time limit stops it."""


def deadlock(p: DeadlockParams, lab: Lab) -> None:
    fork, knife = lab.Lock("fork"), lab.Lock("knife")

    def diner(first: Lock, second: Lock) -> None:
        with first:
            lab.sleep(0.5)
            with second:
                lab.print("ate")

    alice = lab.Thread(target=diner, args=(fork, knife), name="alice", daemon=True)
    bob = lab.Thread(target=diner, args=(knife, fork), name="bob", daemon=True)
    alice.start()
    bob.start()
    if not p.detect:
        alice.join()
        return
    alice.join(timeout=p.detect_after * lab.time_scale)
    if alice.is_alive() and bob.is_alive():
        lab.print("DEADLOCK: alice holds fork and waits for knife; bob holds knife, waits for fork")
        raise RuntimeError("deadlock detected: alice and bob each wait for the other's lock")


class LostUpdateParams(Params, frozen=True, kw_only=True):
    threads: Annotated[int, msgspec.Meta(ge=2, le=16)] = 4
    increments: Annotated[int, msgspec.Meta(ge=1, le=200)] = 20
    use_lock: bool = False


def lost_updates(p: LostUpdateParams, lab: Lab) -> None:
    counter = 0
    lock = lab.Lock("counter")
    go = lab.Event("go")  # a starting gun, so the workers really run at the same time

    def increment() -> None:
        nonlocal counter
        go.wait()
        for _ in range(p.increments):
            if p.use_lock:
                lock.acquire()
            value = counter  # read
            lab.sleep(0.002)  # another thread may read the same value now
            counter = value + 1  # write: may overwrite someone else's update
            if p.use_lock:
                lock.release()

    workers = [lab.Thread(target=increment, name=f"worker-{i}") for i in range(p.threads)]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join()
    expected = p.threads * p.increments
    lab.print(f"counter = {counter}, expected {expected}, lost {expected - counter} updates")
    lab.metric("lost_updates", expected - counter)


class PhilosophersParams(Params, frozen=True, kw_only=True):
    time_scale: TimeScale = 0.1
    philosophers: Annotated[int, msgspec.Meta(ge=2, le=8, description="seats at the table")] = 5
    meals: Annotated[int, msgspec.Meta(ge=1, le=10, description="meals each one eats")] = 3
    asymmetric: bool = False
    """The last philosopher is left-handed: he takes his right fork first, so the forks
    are no longer taken in a circle and the table cannot deadlock."""
    give_up_after_s: Annotated[
        float,
        msgspec.Meta(
            ge=0.5,
            le=60,
            description="real seconds the main thread waits for the meals before it gives up "
            "(the runner ends a deadlocked table sooner)",
        ),
    ] = 10.0


def philosophers(p: PhilosophersParams, lab: Lab) -> None:
    seats = p.philosophers
    forks = [lab.Lock(f"fork-{i}") for i in range(seats)]
    table = lab.Barrier(seats, name="table")
    waited = [0.0] * seats

    def dine(seat: int) -> None:
        left, right = forks[seat], forks[(seat + 1) % seats]
        left_handed = p.asymmetric and seat == seats - 1
        first, second = (right, left) if left_handed else (left, right)
        for meal in range(p.meals):
            # The first meal starts with the worst case, every time: all who can hold
            # their first fork do, at the same moment. The left-handed philosopher's
            # first fork is his neighbour's left one: he waits for the others empty-handed.
            if meal == 0 and left_handed:
                table.wait()
            started = time.monotonic()
            first.acquire()
            waited[seat] += time.monotonic() - started
            if meal == 0 and not left_handed:
                table.wait()
            started = time.monotonic()
            second.acquire()
            waited[seat] += time.monotonic() - started
            lab.print(f"philosopher {seat} eats meal {meal + 1} with {first.name}, {second.name}")
            lab.sleep(lab.rng.uniform(0.5, 1.5))
            second.release()
            first.release()
            lab.sleep(lab.rng.uniform(0.2, 1.0))

    diners = [
        lab.Thread(target=dine, args=(seat,), name=f"philosopher-{seat}", daemon=True)
        for seat in range(seats)
    ]
    for diner in diners:
        diner.start()
    deadline = time.monotonic() + p.give_up_after_s
    for diner in diners:
        diner.join(timeout=max(0.0, deadline - time.monotonic()))
    hungry = [diner.name for diner in diners if diner.is_alive()]
    if hungry:
        lab.print(f"after {p.give_up_after_s:g} s, still waiting for a fork: {', '.join(hungry)}")
        raise RuntimeError("deadlock: every philosopher holds one fork and waits for the next")
    for seat, seconds in enumerate(waited):
        lab.metric("fork_wait", seconds, "s", philosopher=seat)
    lab.print("everyone has eaten")


class StallParams(Params, frozen=True, kw_only=True):
    time_scale: TimeScale = 0.1
    produce: Annotated[int, msgspec.Meta(ge=0, le=50, description="items the producer makes")] = 3
    consume: Annotated[int, msgspec.Meta(ge=1, le=50, description="items the consumer takes")] = 5
    signal: Literal["queue", "semaphore"] = "queue"
    """How the consumer learns an item is there: it blocks on the queue's ``get``, or on a
    semaphore the producer releases once per item."""


def stalled_consumer(p: StallParams, lab: Lab) -> None:
    shelf: Queue[int] = lab.Queue(name="shelf")
    ready: Semaphore = lab.Semaphore(0, name="ready")

    def producer() -> None:
        for _ in range(p.produce):
            lab.sleep(lab.rng.uniform(0.2, 0.6))
            item = lab.rng.randint(0, 256)
            shelf.put(item)
            if p.signal == "semaphore":
                ready.release()
            lab.print(f"produced {item}")
        lab.print(f"the producer is done after {p.produce} items")

    def consumer() -> None:
        for n in range(p.consume):
            if p.signal == "semaphore":
                ready.acquire()
            item = shelf.get()
            lab.print(f"consumed {item} ({n + 1} of {p.consume})")
        lab.print("the consumer got everything it wanted")

    threads = [
        lab.Thread(target=producer, name="producer"),
        lab.Thread(target=consumer, name="consumer"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


SCENARIOS = [
    Scenario(
        id="X1.1",
        section_title="Pitfalls",
        title="Deadlock: two locks taken in opposite order",
        observe=(
            "alice holds fork and waits for knife while bob holds knife and waits for fork: "
            "both lanes stay blocked until the main thread gives up and reports the deadlock."
        ),
        params=DeadlockParams,
        run=deadlock,
    ),
    Scenario(
        id="X1.2",
        section_title="Pitfalls",
        title="Race condition: lost updates without a lock",
        observe=(
            "Workers read the counter, pause, and write it back: updates overlap and are lost. "
            "Run it again with use_lock on and the count is exact."
        ),
        params=LostUpdateParams,
        run=lost_updates,
    ),
    Scenario(
        id="X1.3",
        section_title="Pitfalls",
        title="Dining philosophers",
        observe=(
            "Each philosopher takes the fork on his left, then the one on his right. They all "
            "hold their left fork at the same moment and wait for the right one, held by the "
            "neighbour: a cycle of N philosophers and N forks, every lane blocked. Turn on "
            "asymmetric (the last one takes his right fork first) and everyone eats; the "
            "fork_wait metric shows who waited longest."
        ),
        params=PhilosophersParams,
        run=philosophers,
    ),
    Scenario(
        id="X1.4",
        section_title="Pitfalls",
        title="A stalled producer/consumer",
        observe=(
            "The producer makes fewer items than the consumer wants, then ends. The consumer "
            "waits on an empty queue (or a semaphore) that nobody alive can ever fill, and the "
            "main thread waits for the consumer: every lane is blocked, with no cycle. Set "
            "produce to at least consume and the run ends normally."
        ),
        params=StallParams,
        run=stalled_consumer,
    ),
]

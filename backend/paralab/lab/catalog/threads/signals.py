"""Part 1, T6-T7: signalling between threads with a Semaphore and a Barrier."""

from __future__ import annotations

from threading import current_thread
from typing import Annotated

import msgspec

from paralab.lab.catalog.threads.common import (
    Seconds,
    SleepRange,
    random_duration,
)
from paralab.lab.scenario import Lab, Scenario, TimeScale
from paralab.lab.traced import Barrier, Queue, Semaphore, Thread

# T6: semaphore -------------------------------------------------------------------------


class SemaphoreParams(SleepRange, frozen=True, kw_only=True):
    """Producer/consumer pairs; each producer works a random time on its item."""

    pairs: Annotated[int, msgspec.Meta(ge=1, le=32, description="producer/consumer pairs")] = 10
    sleep_min: Seconds = 1.0
    sleep_max: Seconds = 3.0
    time_scale: TimeScale = 0.1


def producer(lab: Lab, ready: Semaphore, shelf: Queue[int], item: int, seconds: float) -> None:
    name = current_thread().name
    print(f"{name} is making item number {item}")
    lab.sleep(seconds)
    print(f"{name} notify: produced item number {item}")
    shelf.put(item)
    ready.release()


def consumer(ready: Semaphore, shelf: Queue[int]) -> None:
    name = current_thread().name
    print(f"{name} is waiting")
    ready.acquire()
    item = shelf.get_nowait()  # never empty: the semaphore counted this item in
    print(f"{name} notify: consumed item number {item}")


def make_pair(
    p: SemaphoreParams, lab: Lab, i: int, ready: Semaphore, shelf: Queue[int]
) -> tuple[Thread, Thread]:
    item = lab.rng.randint(0, 1000)
    seconds = random_duration(p, lab)
    return (
        lab.Thread(target=consumer, args=(ready, shelf), name=f"consumer-{i}"),
        lab.Thread(target=producer, args=(lab, ready, shelf, item, seconds), name=f"producer-{i}"),
    )


def t6_pairs_together(p: SemaphoreParams, lab: Lab) -> None:
    ready = lab.Semaphore(0, name="ready")
    shelf: Queue[int] = lab.Queue(name="shelf")
    threads: list[Thread] = []
    for i in range(1, p.pairs + 1):
        threads.extend(make_pair(p, lab, i, ready, shelf))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def t6_consumers_first(p: SemaphoreParams, lab: Lab) -> None:
    ready = lab.Semaphore(0, name="ready")
    shelf: Queue[int] = lab.Queue(name="shelf")
    pairs = [make_pair(p, lab, i, ready, shelf) for i in range(1, p.pairs + 1)]
    consumers = [c for c, _ in pairs]
    producers = [prod for _, prod in pairs]
    for t in consumers:
        t.start()
    lab.sleep(0.5)  # let every consumer reach acquire() before any producer exists
    for t in producers:
        t.start()
    for t in consumers + producers:
        t.join()


def t6_one_pair_at_a_time(p: SemaphoreParams, lab: Lab) -> None:
    ready = lab.Semaphore(0, name="ready")
    shelf: Queue[int] = lab.Queue(name="shelf")
    for i in range(1, p.pairs + 1):
        consumer_thread, producer_thread = make_pair(p, lab, i, ready, shelf)
        consumer_thread.start()
        producer_thread.start()
        consumer_thread.join()
        producer_thread.join()


# T7: barrier ---------------------------------------------------------------------------


class RunnersParams(SleepRange, frozen=True, kw_only=True):
    """Five runners, each running for a random time."""

    sleep_min: Seconds = 2.0
    sleep_max: Seconds = 5.0
    time_scale: TimeScale = 0.5


RUNNERS = ("Huey", "Dewey", "Louie", "Jan", "Alex")


class FinishCounter:
    """How many runners have finished, shared by all of them and guarded by a lock."""

    def __init__(self, lab: Lab) -> None:
        self.lock = lab.Lock(name="counter.lock")
        self.finished = 0


def counting_runner(lab: Lab, seconds: float, counter: FinishCounter) -> None:
    lab.sleep(seconds)
    print(f"{current_thread().name} reached the finish after {seconds:.1f} s")
    with counter.lock:
        counter.finished += 1
        if counter.finished == len(RUNNERS):
            print("Race over!")


def runner(lab: Lab, seconds: float) -> None:
    lab.sleep(seconds)
    print(f"{current_thread().name} reached the finish after {seconds:.1f} s")


def barrier_runner(lab: Lab, seconds: float, finish_line: Barrier) -> None:
    lab.sleep(seconds)
    print(f"{current_thread().name} reached the barrier after {seconds:.1f} s")
    finish_line.wait()


def t7_shared_counter(p: RunnersParams, lab: Lab) -> None:
    counter = FinishCounter(lab)
    threads = [
        lab.Thread(target=counting_runner, args=(lab, random_duration(p, lab), counter), name=n)
        for n in RUNNERS
    ]
    print("START RACE!")
    for t in threads:
        t.start()
    for t in threads:
        t.join()  # only so the program ends after its threads; the counter announced the end


def t7_join(p: RunnersParams, lab: Lab) -> None:
    threads = [
        lab.Thread(target=runner, args=(lab, random_duration(p, lab)), name=n) for n in RUNNERS
    ]
    print("START RACE!")
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("Race over!")


def t7_barrier(p: RunnersParams, lab: Lab) -> None:
    finish_line = lab.Barrier(len(RUNNERS), name="finish_line")
    threads = [
        lab.Thread(target=barrier_runner, args=(lab, random_duration(p, lab), finish_line), name=n)
        for n in RUNNERS
    ]
    print("START RACE!")
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("Race over!")


T6 = "Thread synchronisation with a Semaphore"
T7 = "Thread synchronisation with a Barrier"

SCENARIOS = [
    Scenario(
        id="T6.1",
        section_title=T6,
        title="All pairs started together",
        observe="Consumers block on the semaphore at once; every release by a producer lets "
        "exactly one waiting consumer through, not necessarily its own partner.",
        params=SemaphoreParams,
        run=t6_pairs_together,
    ),
    Scenario(
        id="T6.2",
        section_title=T6,
        title="All consumers first, then the producers",
        observe="All consumer lanes are waiting on the semaphore (value 0) before any producer "
        "exists; each release wakes one of them.",
        params=SemaphoreParams,
        run=t6_consumers_first,
    ),
    Scenario(
        id="T6.3",
        section_title=T6,
        title="One pair at a time",
        observe="Each consumer waits only for its own producer, and the next pair starts when "
        "both have ended: a staircase of pairs.",
        params=SemaphoreParams,
        run=t6_one_pair_at_a_time,
    ),
    Scenario(
        id="T7.1",
        section_title=T7,
        title="Finish detected by a shared counter",
        observe="Each runner counts itself in under counter.lock; the last one to arrive sees "
        "the count reach five and announces the end of the race.",
        params=RunnersParams,
        run=t7_shared_counter,
    ),
    Scenario(
        id="T7.2",
        section_title=T7,
        title="Finish detected by join",
        observe="main waits on each runner's join in turn; Race over is printed once the "
        "slowest runner has ended.",
        params=RunnersParams,
        run=t7_join,
    ),
    Scenario(
        id="T7.3",
        section_title=T7,
        title="A real Barrier(5)",
        observe="Early runners block at the finish_line barrier; they all pass together the "
        "moment the fifth arrives.",
        params=RunnersParams,
        run=t7_barrier,
    ),
]

"""Part 2, P6-P8: queues between processes, synchronising processes, process pools."""

from __future__ import annotations

import queue as stdlib_queue
from typing import Annotated

import msgspec

from paralab.lab.scenario import Lab, ProcessParams, Scenario, TimeScale
from paralab.lab.traced.processes import Barrier, Lock, Queue, Semaphore, current_process_name

# P6: queue -----------------------------------------------------------------------------


class QueueParams(ProcessParams, frozen=True, kw_only=True):
    """The producer makes ``items`` random numbers, sleeping ``pause`` after each."""

    items: Annotated[int, msgspec.Meta(ge=1, le=50)] = 10
    pause: Annotated[float, msgspec.Meta(ge=0, le=5)] = 1.0
    time_scale: TimeScale = 0.1


def produce(lab: Lab, shelf: Queue[int], items: int, pause: float, ready: Semaphore | None) -> None:
    for _ in range(items):
        item = lab.rng.randint(0, 256)
        shelf.put(item)
        print(f"Process Producer : item {item} appended to queue producer")
        print(f"The size of queue is {shelf.qsize()}")
        if ready is not None:
            ready.release()
        lab.sleep(pause)


def consume_while_not_empty(lab: Lab, shelf: Queue[int], pause: float) -> None:
    """Fragile on purpose: it trusts that the producer keeps ahead of it."""
    lab.sleep(pause / 2)
    while not shelf.empty():
        item = shelf.get()
        print(f"Process Consumer : item {item} popped from by consumer")
        lab.sleep(pause)
    print("the queue is empty: the consumer stops")


def consume_when_signalled(shelf: Queue[int], items: int, ready: Semaphore) -> None:
    for _ in range(items):
        ready.acquire()
        item = shelf.get()
        print(f"Process Consumer : item {item} popped from by consumer")


def drain(shelf: Queue[int]) -> None:
    while True:
        try:
            item = shelf.get(timeout=0.5)
        except stdlib_queue.Empty:
            break
        print(f"Process Consumer : item {item} popped from by consumer")
    print("the queue is empty: the consumer stops")


def p6_sleeps_only(p: QueueParams, lab: Lab) -> None:
    # The producer's pause is a little longer than the consumer's: sooner or later the
    # consumer finds the queue empty and stops, leaving items behind.
    shelf: Queue[int] = lab.mp.Queue(name="shelf")
    producer = lab.mp.Process(
        target=produce, args=(lab, shelf, p.items, p.pause * 1.5, None), name="producer"
    )
    consumer = lab.mp.Process(
        target=consume_while_not_empty, args=(lab, shelf, p.pause), name="consumer"
    )
    producer.start()
    consumer.start()
    producer.join()
    consumer.join()
    left = 0
    while not shelf.empty():
        shelf.get()
        left += 1
    print(f"items never consumed: {left}")


def p6_paired_by_a_semaphore(p: QueueParams, lab: Lab) -> None:
    shelf: Queue[int] = lab.mp.Queue(name="shelf")
    ready = lab.mp.Semaphore(0, name="ready")
    producer = lab.mp.Process(
        target=produce, args=(lab, shelf, p.items, p.pause, ready), name="producer"
    )
    consumer = lab.mp.Process(
        target=consume_when_signalled, args=(shelf, p.items, ready), name="consumer"
    )
    producer.start()
    consumer.start()
    producer.join()
    consumer.join()


def p6_produce_then_drain(p: QueueParams, lab: Lab) -> None:
    shelf: Queue[int] = lab.mp.Queue(name="shelf")
    producer = lab.mp.Process(
        target=produce, args=(lab, shelf, p.items, p.pause, None), name="producer"
    )
    producer.start()
    producer.join()
    consumer = lab.mp.Process(target=drain, args=(shelf,), name="consumer")
    consumer.start()
    consumer.join()


# P7: synchronising processes ---------------------------------------------------------


class SyncParams(ProcessParams, frozen=True, kw_only=True):
    """Two processes meet at a barrier (or a semaphore) and print under a lock; two more
    print at once, waiting for nobody."""

    lines: Annotated[int, msgspec.Meta(ge=1, le=20, description="lines each one prints")] = 3


def print_lines(name: str, lines: int) -> None:
    for i in range(lines):
        print(f"{name} line {i + 1} of {lines}")


def meet_then_print(barrier: Barrier | None, lock: Lock | None, lines: int) -> None:
    name = current_process_name()
    if barrier is not None:
        barrier.wait()
    if lock is not None:
        with lock:
            print_lines(name, lines)
    else:
        print_lines(name, lines)


def signal_then_print(gate: Semaphore, lock: Lock, first: bool, lines: int) -> None:
    name = current_process_name()
    if first:
        gate.release()  # let the other one go
    else:
        gate.acquire()
    with lock:
        print_lines(name, lines)


def four_processes(lab: Lab, barrier: Barrier, lock: Lock | None, lines: int) -> None:
    processes = [
        lab.mp.Process(target=meet_then_print, args=(barrier, lock, lines), name=name)
        for name in ("with_barrier_1", "with_barrier_2")
    ] + [
        lab.mp.Process(target=meet_then_print, args=(None, None, lines), name=name)
        for name in ("without_1", "without_2")
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()


def p7_barrier_and_lock(p: SyncParams, lab: Lab) -> None:
    barrier = lab.mp.Barrier(2, name="barrier")
    lock = lab.mp.Lock("print lock")
    four_processes(lab, barrier, lock, p.lines)


def p7_semaphore_instead(p: SyncParams, lab: Lab) -> None:
    gate = lab.mp.Semaphore(0, name="gate")
    lock = lab.mp.Lock("print lock")
    pair = [
        lab.mp.Process(target=signal_then_print, args=(gate, lock, first, p.lines), name=name)
        for first, name in ((True, "with_semaphore_1"), (False, "with_semaphore_2"))
    ]
    free = [
        lab.mp.Process(target=meet_then_print, args=(None, None, p.lines), name=f"without_{i}")
        for i in (1, 2)
    ]
    for process in pair + free:
        process.start()
    for process in pair + free:
        process.join()


def p7_barrier_without_lock(p: SyncParams, lab: Lab) -> None:
    barrier = lab.mp.Barrier(2, name="barrier")
    four_processes(lab, barrier, None, p.lines)


# P8: process pool ----------------------------------------------------------------------


class PoolParams(ProcessParams, frozen=True, kw_only=True):
    workers: Annotated[int, msgspec.Meta(ge=1, le=8, description="pool processes")] = 4
    numbers: Annotated[int, msgspec.Meta(ge=1, le=1000, description="map over 0..n-1")] = 100


def square(x: int) -> int:
    return x * x


def cube(x: int) -> int:
    return x * x * x


def p8_square_close_join(p: PoolParams, lab: Lab) -> None:
    pool = lab.mp.Pool(p.workers, name="pool")
    results = pool.map(square, range(p.numbers))
    pool.close()
    pool.join()
    print(f"Pool: {results}")


def p8_square_with_block(p: PoolParams, lab: Lab) -> None:
    with lab.mp.Pool(p.workers, name="pool") as pool:
        results = pool.map(square, range(p.numbers))
    print(f"Pool: {results}")


def p8_cube(p: PoolParams, lab: Lab) -> None:
    pool = lab.mp.Pool(p.workers, name="pool")
    results = pool.map(cube, range(p.numbers))
    pool.close()
    pool.join()
    print(f"Pool: {results}")


P6 = "Exchanging objects between processes: a queue"
P7 = "Synchronising processes"
P8 = "A process pool"

SCENARIOS = [
    Scenario(
        id="P6.1",
        section_title=P6,
        title="Timing by sleeps only",
        observe="The consumer stops as soon as it finds the queue empty, while the producer "
        "is still making items: timing is not synchronisation. Count what is left.",
        params=QueueParams,
        run=p6_sleeps_only,
    ),
    Scenario(
        id="P6.2",
        section_title=P6,
        title="Paired by a semaphore",
        observe="The consumer waits on the semaphore; each release lets it take exactly one "
        "item: every item is consumed, in order.",
        params=QueueParams,
        run=p6_paired_by_a_semaphore,
    ),
    Scenario(
        id="P6.3",
        section_title=P6,
        title="Produce everything, then drain",
        observe="The queue grows to its full size while the producer runs alone; then the "
        "consumer empties it.",
        params=QueueParams,
        run=p6_produce_then_drain,
    ),
    Scenario(
        id="P7.1",
        section_title=P7,
        title="Barrier and lock, beside two free processes",
        observe="The two barrier processes wait for each other, then print one at a time "
        "under the lock; the other two print at once, whenever they start.",
        params=SyncParams,
        run=p7_barrier_and_lock,
    ),
    Scenario(
        id="P7.2",
        section_title=P7,
        title="A semaphore instead of the barrier",
        observe="One process releases the semaphore, the other waits on it: they no longer "
        "wait for each other, only one for the other.",
        params=SyncParams,
        run=p7_semaphore_instead,
    ),
    Scenario(
        id="P7.3",
        section_title=P7,
        title="Barrier, but no lock",
        observe="Both pass the barrier together and print at the same time: their lines "
        "may interleave.",
        params=SyncParams,
        run=p7_barrier_without_lock,
    ),
    Scenario(
        id="P8.1",
        section_title=P8,
        title="Squares with close() and join()",
        observe="Four worker lanes; every number is a task span in the worker that squared it.",
        params=PoolParams,
        run=p8_square_close_join,
    ),
    Scenario(
        id="P8.2",
        section_title=P8,
        title="Squares in a with block",
        observe="Leaving the with block terminates the pool: its workers end at once.",
        params=PoolParams,
        run=p8_square_with_block,
    ),
    Scenario(
        id="P8.3",
        section_title=P8,
        title="Cubes",
        observe="The same pool, another function: the cubes of 0..99.",
        params=PoolParams,
        run=p8_cube,
    ),
]

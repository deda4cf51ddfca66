"""Part 1: thread-based parallelism (T1-T7).

Each section is a params struct, the code its three scenarios share, and three small
scenario functions. The UI shows a scenario's function, its params struct and the helpers
it names, so scenario code is written the way a student would write it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from threading import current_thread
from typing import Annotated

import msgspec

from paralab.lab.scenario import Lab, Params, Scenario, TimeScale
from paralab.lab.traced import Barrier, Lock, Queue, Semaphore, Thread

Count = Annotated[int, msgspec.Meta(ge=1, le=32, description="how many threads")]
Items = Annotated[int, msgspec.Meta(ge=0, le=100, description="how many items")]
Seconds = Annotated[
    float, msgspec.Meta(ge=0.0, le=60.0, description="seconds of scenario time (see time_scale)")
]


class SleepRange(Params, frozen=True, kw_only=True):
    """Each thread sleeps a random time between sleep_min and sleep_max."""

    sleep_min: Seconds = 1.0
    sleep_max: Seconds = 10.0

    def __post_init__(self) -> None:
        if self.sleep_min > self.sleep_max:
            raise ValueError("sleep_min must not be greater than sleep_max")


def random_duration(p: SleepRange, lab: Lab) -> float:
    return round(lab.rng.uniform(p.sleep_min, p.sleep_max), 1)


def report_elapsed(start: float) -> None:
    print(f"END: total time {time.perf_counter() - start:.2f} s")


# T1: defining a thread ------------------------------------------------------------------


class ThreadCount(Params, frozen=True, kw_only=True):
    """How many threads, and how long each one works after printing."""

    threads: Count = 10
    work: Seconds = 1.0
    time_scale: TimeScale = 0.2


def my_func(lab: Lab, i: int, work: float) -> None:
    print(f"my_func called by thread N°{i}")
    lab.sleep(work)


def t1_sequential(p: ThreadCount, lab: Lab) -> None:
    for i in range(p.threads):
        t = lab.Thread(target=my_func, args=(lab, i, p.work), name=f"Thread-{i}")
        t.start()
        t.join()


def t1_parallel(p: ThreadCount, lab: Lab) -> None:
    threads = [
        lab.Thread(target=my_func, args=(lab, i, p.work), name=f"Thread-{i}")
        for i in range(p.threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def t1_half_and_half(p: ThreadCount, lab: Lab) -> None:
    half = p.threads // 2
    for i in range(half):
        t = lab.Thread(target=my_func, args=(lab, i, p.work), name=f"Thread-{i}")
        t.start()
        t.join()
    rest = [
        lab.Thread(target=my_func, args=(lab, i, p.work), name=f"Thread-{i}")
        for i in range(half, p.threads)
    ]
    for t in rest:
        t.start()
    for t in rest:
        t.join()


# T2: determining the current thread ------------------------------------------------------


class NamedThreads(SleepRange, frozen=True, kw_only=True):
    """function_A, function_B and function_C each sleep a random time."""

    sleep_min: Seconds = 0.0
    sleep_max: Seconds = 10.0
    time_scale: TimeScale = 0.1


def function(lab: Lab, seconds: float) -> None:
    name = current_thread().name
    print(f"{name} --> starting, sleeping {seconds:.1f} s")
    lab.sleep(seconds)
    print(f"{name} --> exiting")


def abc_threads(p: NamedThreads, lab: Lab) -> list[Thread]:
    return [
        lab.Thread(target=function, args=(lab, random_duration(p, lab)), name=name)
        for name in ("function_A", "function_B", "function_C")
    ]


def t2_all_together(p: NamedThreads, lab: Lab) -> None:
    threads = abc_threads(p, lab)
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def t2_one_after_another(p: NamedThreads, lab: Lab) -> None:
    for t in abc_threads(p, lab):
        t.start()
        t.join()


def t2_b_and_c_then_a(p: NamedThreads, lab: Lab) -> None:
    a, b, c = abc_threads(p, lab)
    b.start()
    c.start()
    b.join()
    c.join()
    a.start()
    a.join()


# T3: thread subclass --------------------------------------------------------------------


class SubclassParams(SleepRange, frozen=True, kw_only=True):
    """Nine Thread subclasses, each working a random time."""

    threads: Count = 9
    sleep_min: Seconds = 1.0
    sleep_max: Seconds = 10.0
    time_scale: TimeScale = 0.05


class MyThreadClass(Thread):
    def __init__(self, name: str, duration: float, lab: Lab) -> None:
        super().__init__(name=name)
        self.duration = duration
        self.lab = lab

    def run(self) -> None:
        print(f"---> {self.name} running, belonging to process ID {os.getpid()}")
        self.lab.sleep(self.duration)
        print(f"---> {self.name} over")


def my_threads(p: SubclassParams, lab: Lab) -> list[MyThreadClass]:
    return [
        MyThreadClass(f"Thread#{i}", random_duration(p, lab), lab) for i in range(1, p.threads + 1)
    ]


def t3_sequential(p: SubclassParams, lab: Lab) -> None:
    start = time.perf_counter()
    for t in my_threads(p, lab):
        t.start()
        t.join()
    report_elapsed(start)


def t3_parallel(p: SubclassParams, lab: Lab) -> None:
    start = time.perf_counter()
    threads = my_threads(p, lab)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report_elapsed(start)


def t3_half_then_rest(p: SubclassParams, lab: Lab) -> None:
    start = time.perf_counter()
    threads = my_threads(p, lab)
    half = len(threads) // 2
    for batch in (threads[:half], threads[half:]):
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    report_elapsed(start)


# T4: lock -------------------------------------------------------------------------------


class LockParams(SleepRange, frozen=True, kw_only=True):
    """Nine Thread subclasses sharing one Lock, each working a random time."""

    threads: Count = 9
    sleep_min: Seconds = 1.0
    sleep_max: Seconds = 5.0
    time_scale: TimeScale = 0.1


class WholeRunLocked(Thread):
    def __init__(self, name: str, duration: float, lock: Lock, lab: Lab) -> None:
        super().__init__(name=name)
        self.duration, self.lock, self.lab = duration, lock, lab

    def run(self) -> None:
        with self.lock:
            print(f"---> {self.name} running, belonging to process ID {os.getpid()}")
            self.lab.sleep(self.duration)
            print(f"---> {self.name} over")


class SleepLocked(Thread):
    def __init__(self, name: str, duration: float, lock: Lock, lab: Lab) -> None:
        super().__init__(name=name)
        self.duration, self.lock, self.lab = duration, lock, lab

    def run(self) -> None:
        print(f"---> {self.name} running, belonging to process ID {os.getpid()}")
        with self.lock:
            self.lab.sleep(self.duration)
        print(f"---> {self.name} over")


class PrintLocked(Thread):
    def __init__(self, name: str, duration: float, lock: Lock, lab: Lab) -> None:
        super().__init__(name=name)
        self.duration, self.lock, self.lab = duration, lock, lab

    def run(self) -> None:
        with self.lock:
            print(f"---> {self.name} running, belonging to process ID {os.getpid()}")
        self.lab.sleep(self.duration)
        print(f"---> {self.name} over")


def run_with_one_lock(
    thread_class: Callable[[str, float, Lock, Lab], Thread], p: LockParams, lab: Lab
) -> None:
    start = time.perf_counter()
    lock = lab.Lock(name="lock")
    threads = [
        thread_class(f"Thread#{i}", random_duration(p, lab), lock, lab)
        for i in range(1, p.threads + 1)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report_elapsed(start)


def t4_lock_whole_run(p: LockParams, lab: Lab) -> None:
    run_with_one_lock(WholeRunLocked, p, lab)


def t4_lock_around_sleep(p: LockParams, lab: Lab) -> None:
    run_with_one_lock(SleepLocked, p, lab)


def t4_lock_around_print(p: LockParams, lab: Lab) -> None:
    run_with_one_lock(PrintLocked, p, lab)


# T5: RLock ------------------------------------------------------------------------------


class BoxParams(Params, frozen=True, kw_only=True):
    """How many items the adder adds and the remover removes, and the pause after each."""

    add_min: Items = 10
    add_max: Items = 20
    remove_min: Items = 1
    remove_max: Items = 10
    pause: Seconds = 1.0
    time_scale: TimeScale = 0.1

    def __post_init__(self) -> None:
        if self.add_min > self.add_max or self.remove_min > self.remove_max:
            raise ValueError("a minimum must not be greater than its maximum")
        if self.remove_max > self.add_min:
            raise ValueError("remove_max must not be greater than add_min")


class Box:
    def __init__(self, lab: Lab) -> None:
        self.lock = lab.RLock(name="box.lock")
        self.total_items = 0

    def execute(self, value: int) -> None:
        with self.lock:
            self.total_items += value

    def add(self) -> None:
        with self.lock:
            self.execute(1)

    def remove(self) -> None:
        with self.lock:
            self.execute(-1)


def adder(lab: Lab, box: Box, items: int, pause: float) -> None:
    print(f"N° {items} items to ADD")
    while items:
        box.add()
        lab.sleep(pause)
        items -= 1
        print(f"ADDED one item --> {items} items to ADD")


def remover(lab: Lab, box: Box, items: int, pause: float) -> None:
    print(f"N° {items} items to REMOVE")
    while items:
        box.remove()
        lab.sleep(pause)
        items -= 1
        print(f"REMOVED one item --> {items} items to REMOVE")


def adder_sleeping_in_lock(lab: Lab, box: Box, items: int, pause: float) -> None:
    print(f"N° {items} items to ADD")
    while items:
        with box.lock:
            box.add()
            lab.sleep(pause)
        items -= 1
        print(f"ADDED one item --> {items} items to ADD")


def remover_sleeping_in_lock(lab: Lab, box: Box, items: int, pause: float) -> None:
    print(f"N° {items} items to REMOVE")
    while items:
        with box.lock:
            box.remove()
            lab.sleep(pause)
        items -= 1
        print(f"REMOVED one item --> {items} items to REMOVE")


BoxWorker = Callable[[Lab, Box, int, float], None]


def fill_and_empty(p: BoxParams, lab: Lab, add: BoxWorker, remove: BoxWorker) -> None:
    box = Box(lab)
    to_add = lab.rng.randint(p.add_min, p.add_max)
    to_remove = lab.rng.randint(p.remove_min, p.remove_max)
    threads = [
        lab.Thread(target=add, args=(lab, box, to_add, p.pause), name="adder"),
        lab.Thread(target=remove, args=(lab, box, to_remove, p.pause), name="remover"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{box.total_items} items left in the box")


def t5_no_sleep_in_lock(p: BoxParams, lab: Lab) -> None:
    fill_and_empty(p, lab, adder, remover)


def t5_adder_sleeps_in_lock(p: BoxParams, lab: Lab) -> None:
    fill_and_empty(p, lab, adder_sleeping_in_lock, remover)


def t5_remover_sleeps_in_lock(p: BoxParams, lab: Lab) -> None:
    fill_and_empty(p, lab, adder, remover_sleeping_in_lock)


# T6: semaphore --------------------------------------------------------------------------


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


# T7: barrier ----------------------------------------------------------------------------


class RaceParams(SleepRange, frozen=True, kw_only=True):
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


def t7_shared_counter(p: RaceParams, lab: Lab) -> None:
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


def t7_join(p: RaceParams, lab: Lab) -> None:
    threads = [
        lab.Thread(target=runner, args=(lab, random_duration(p, lab)), name=n) for n in RUNNERS
    ]
    print("START RACE!")
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("Race over!")


def t7_barrier(p: RaceParams, lab: Lab) -> None:
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


# The catalog -----------------------------------------------------------------------------

T1 = "Defining a thread"
T2 = "Determining the current thread"
T3 = "Defining a thread subclass"
T4 = "Thread synchronisation with a Lock"
T5 = "Thread synchronisation with an RLock"
T6 = "Thread synchronisation with a Semaphore"
T7 = "Thread synchronisation with a Barrier"

SCENARIOS = [
    Scenario(
        id="T1.1",
        section_title=T1,
        title="Start and join each thread in turn",
        observe="Each thread starts only after the previous one has ended: no overlap at all.",
        params=ThreadCount,
        run=t1_sequential,
    ),
    Scenario(
        id="T1.2",
        section_title=T1,
        title="Start all threads, then join them all",
        observe="All lanes start together and overlap; the whole run takes about as long as "
        "one thread, and the printed order is up to the scheduler.",
        params=ThreadCount,
        run=t1_parallel,
    ),
    Scenario(
        id="T1.3",
        section_title=T1,
        title="Half sequential, half parallel",
        observe="The first half of the lanes form a staircase, one after another; the second "
        "half start together and overlap.",
        params=ThreadCount,
        run=t1_half_and_half,
    ),
    Scenario(
        id="T2.1",
        section_title=T2,
        title="Start all, join all",
        observe="Each thread prints its own name from threading.current_thread(); the three "
        "lanes sleep at the same time and exit in order of their sleep lengths.",
        params=NamedThreads,
        run=t2_all_together,
    ),
    Scenario(
        id="T2.2",
        section_title=T2,
        title="One after another",
        observe="function_A, then function_B, then function_C: each lane begins where the "
        "previous one ended, so the run lasts the sum of the three sleeps.",
        params=NamedThreads,
        run=t2_one_after_another,
    ),
    Scenario(
        id="T2.3",
        section_title=T2,
        title="B and C together, then A alone",
        observe="function_B and function_C overlap; function_A starts only after main's "
        "joins of both are over.",
        params=NamedThreads,
        run=t2_b_and_c_then_a,
    ),
    Scenario(
        id="T3.1",
        section_title=T3,
        title="Subclass threads, one at a time",
        observe="Nine Thread#N lanes in a staircase; the total time printed at the end is the "
        "sum of all their sleeps.",
        params=SubclassParams,
        run=t3_sequential,
    ),
    Scenario(
        id="T3.2",
        section_title=T3,
        title="Subclass threads in parallel",
        observe="All nine lanes overlap, all in the same process ID; the total time is only "
        "the longest sleep.",
        params=SubclassParams,
        run=t3_parallel,
    ),
    Scenario(
        id="T3.3",
        section_title=T3,
        title="First half, then the rest",
        observe="The second batch starts only when main has joined every thread of the first; "
        "each thread is joined exactly once.",
        params=SubclassParams,
        run=t3_half_then_rest,
    ),
    Scenario(
        id="T4.1",
        section_title=T4,
        title="Lock held over the whole run()",
        observe="One lock hold at a time, each containing its thread's running and over lines: "
        "the threads run strictly one after another while the others wait on the lock.",
        params=LockParams,
        run=t4_lock_whole_run,
    ),
    Scenario(
        id="T4.2",
        section_title=T4,
        title="Lock only around the sleep",
        observe="All the running lines appear at once, but the sleeps are still serialised by "
        "the lock: the run takes as long as in T4.1.",
        params=LockParams,
        run=t4_lock_around_sleep,
    ),
    Scenario(
        id="T4.3",
        section_title=T4,
        title="Lock only around the print",
        observe="The lock is held only for an instant per thread; the sleeps overlap, so the "
        "run takes only as long as the longest sleep.",
        params=LockParams,
        run=t4_lock_around_print,
    ),
    Scenario(
        id="T5.1",
        section_title=T5,
        title="No sleeping inside the lock",
        observe="add() and remove() take box.lock, and execute() takes it again in the same "
        "thread (depth 2): an RLock allows that. The adder and remover alternate freely.",
        params=BoxParams,
        run=t5_no_sleep_in_lock,
    ),
    Scenario(
        id="T5.2",
        section_title=T5,
        title="The adder sleeps while holding the lock",
        observe="The adder keeps box.lock during each pause, so the remover's lane shows long "
        "waits on box.lock.",
        params=BoxParams,
        run=t5_adder_sleeps_in_lock,
    ),
    Scenario(
        id="T5.3",
        section_title=T5,
        title="The remover sleeps while holding the lock",
        observe="Now the remover keeps box.lock during its pauses and the adder waits; once "
        "the remover is done, the adder runs freely.",
        params=BoxParams,
        run=t5_remover_sleeps_in_lock,
    ),
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
        params=RaceParams,
        run=t7_shared_counter,
    ),
    Scenario(
        id="T7.2",
        section_title=T7,
        title="Finish detected by join",
        observe="main waits on each runner's join in turn; Race over is printed once the "
        "slowest runner has ended.",
        params=RaceParams,
        run=t7_join,
    ),
    Scenario(
        id="T7.3",
        section_title=T7,
        title="A real Barrier(5)",
        observe="Early runners block at the finish_line barrier; they all pass together the "
        "moment the fifth arrives.",
        params=RaceParams,
        run=t7_barrier,
    ),
]

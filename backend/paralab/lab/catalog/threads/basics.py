"""Part 1, T1-T3: defining threads, naming them, subclassing Thread."""

from __future__ import annotations

import os
import time
from threading import current_thread

from paralab.lab.catalog.threads.common import (
    Count,
    Seconds,
    SleepRange,
    random_duration,
    report_elapsed,
)
from paralab.lab.scenario import Lab, Params, Scenario, TimeScale
from paralab.lab.traced import Thread

# T1: defining a thread -----------------------------------------------------------------


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


# T2: determining the current thread ----------------------------------------------------


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


# T3: thread subclass -------------------------------------------------------------------


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


T1 = "Defining a thread"
T2 = "Determining the current thread"
T3 = "Defining a thread subclass"

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
]

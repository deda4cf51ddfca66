"""Part 1, T4-T5: mutual exclusion with a Lock and a re-entrant RLock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from paralab.lab.catalog.threads.common import (
    Count,
    Items,
    Seconds,
    SleepRange,
    random_duration,
    report_elapsed,
)
from paralab.lab.scenario import Lab, Params, Scenario, TimeScale
from paralab.lab.traced import Lock, Thread

# T4: lock ------------------------------------------------------------------------------


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


# T5: RLock -----------------------------------------------------------------------------


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


T4 = "Thread synchronisation with a Lock"
T5 = "Thread synchronisation with an RLock"

SCENARIOS = [
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
]

"""Beyond the required catalog: the classic ways concurrent code goes wrong."""

from __future__ import annotations

from typing import Annotated

import msgspec

from paralab.lab.scenario import Lab, Params, Scenario, TimeScale
from paralab.lab.traced import Lock


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
]

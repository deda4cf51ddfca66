"""L3: handing a large numpy array to worker processes: pickling it against sharing it.

The array lives in shared memory from the start. Each worker is handed its slice in one
of two ways: pickled (the bytes are copied into a queue's pipe and rebuilt as a new array
on the other side) or shared (only a ``Handle``, a few hundred bytes, travels; the worker
maps the same memory). The time measured is the hand-over alone: from the parent's first
``put`` until the last worker holds a usable numpy array (it stamps the moment with
``time.monotonic()``, one clock for every process on the machine); the sum each worker
then computes is only there to check that it got the right numbers.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
import numpy as np
from numpy.typing import NDArray

from paralab.lab import shm
from paralab.lab.catalog.labs.common import MIB, check_array_size
from paralab.lab.scenario import Lab, ProcessParams, Scenario
from paralab.lab.traced.processes import Barrier, Process, Queue

Method = Literal["pickle", "shm"]
METHODS: tuple[Method, ...] = ("pickle", "shm")
ITEMSIZE = np.dtype(np.int64).itemsize
SizeMib = Annotated[int, msgspec.Meta(ge=1, le=4096)]


class HandoverParams(ProcessParams, frozen=True, kw_only=True):
    """int64 arrays of ``sizes_mib`` (or of every size of the sweep), each handed to the
    ``workers`` both ways, ``repeat`` times; the fastest round of each counts."""

    array_mib: Annotated[
        SizeMib, msgspec.Meta(description="largest array, MiB (a server may allow less)")
    ] = 64
    sizes_mib: Annotated[
        tuple[SizeMib, ...],
        msgspec.Meta(max_length=12, description="sizes to hand over, MiB (empty: array_mib)"),
    ] = ()
    sweep: Annotated[bool, msgspec.Meta(description="sizes 1, 4, 16, ... up to array_mib")] = False
    workers: Annotated[int, msgspec.Meta(ge=1, le=16, description="worker processes")] = 2
    repeat: Annotated[int, msgspec.Meta(ge=1, le=10, description="rounds per size and way")] = 3

    def __post_init__(self) -> None:
        if self.sizes_mib and self.sweep:
            raise ValueError("give sizes_mib or sweep=true, not both")
        if any(size > self.array_mib for size in self.sizes_mib):
            raise ValueError(f"every size in sizes_mib must be at most array_mib={self.array_mib}")


@dataclass(frozen=True)
class Parcel:
    """What one worker is sent: its slice itself (pickled on the way), or the handle of
    the shared array and where its slice starts and stops."""

    worker: int
    start: int
    stop: int
    data: NDArray[np.int64] | None = None
    handle: shm.Handle | None = None

    def __repr__(self) -> str:  # what the queue events show on the timeline
        if self.handle is not None:
            return f"slice {self.worker} [{self.start}:{self.stop}] of {self.handle.name}"
        mib = (self.stop - self.start) * ITEMSIZE / MIB
        return f"slice {self.worker} [{self.start}:{self.stop}] pickled ({mib:.1f} MiB)"


@dataclass(frozen=True)
class Receipt:
    worker: int
    held_at: float
    """``time.monotonic()`` when the worker had a usable array"""
    total: int


@dataclass(frozen=True)
class Team:
    """The worker processes, one inbox each, and the queue their receipts come back on."""

    inboxes: list[Queue[Parcel | None]]
    results: Queue[Receipt]


@dataclass(frozen=True)
class Comparison:
    size_mib: int
    pickle_s: float
    shm_s: float

    @property
    def ratio(self) -> float:
        """shared memory's hand-over time over pickling's"""
        return self.shm_s / self.pickle_s


def sizes(p: HandoverParams) -> list[int]:
    if p.sizes_mib:
        return sorted(set(p.sizes_mib))
    if not p.sweep:
        return [p.array_mib]
    smaller = itertools.takewhile(lambda mib: mib < p.array_mib, (4**k for k in itertools.count()))
    return [*smaller, p.array_mib]


def slices(length: int, parts: int) -> list[tuple[int, int]]:
    bounds = [length * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


# --- the workers ----------------------------------------------------------------------


def work(ready: Barrier, inbox: Queue[Parcel | None], results: Queue[Receipt]) -> None:
    ready.wait()
    while (parcel := inbox.get()) is not None:
        results.put(reduce_slice(parcel))


def reduce_slice(parcel: Parcel) -> Receipt:
    if parcel.data is not None:  # inbox.get() has unpickled it: a new array, ready to use
        held_at = time.monotonic()
        return Receipt(parcel.worker, held_at, int(parcel.data.sum()))
    assert parcel.handle is not None
    with shm.attach(parcel.handle) as segment:  # maps the parent's memory: nothing is copied
        part = segment.array[parcel.start : parcel.stop]
        held_at = time.monotonic()
        total = int(part.sum())
        del part  # the last view goes, so leaving the block unmaps the segment
    return Receipt(parcel.worker, held_at, total)


@contextlib.contextmanager
def team(lab: Lab, workers: int) -> Iterator[Team]:
    """Start the workers (before any array exists: a fork copies none) and wait until all
    are running, so their start-up is never counted as hand-over."""
    ready = lab.mp.Barrier(workers + 1, name="ready")
    results: Queue[Receipt] = lab.mp.Queue(name="results")
    inboxes: list[Queue[Parcel | None]] = [lab.mp.Queue(name=f"inbox-{i}") for i in range(workers)]
    processes: list[Process] = [
        lab.mp.Process(target=work, args=(ready, inbox, results), name=f"worker-{i}")
        for i, inbox in enumerate(inboxes)
    ]
    for process in processes:
        process.start()
    try:
        ready.wait()
        yield Team(inboxes, results)
    finally:
        for inbox in inboxes:
            inbox.put(None)
        for process in processes:
            process.join()


# --- the parent -----------------------------------------------------------------------


def hand_over(team: Team, array: shm.Segment, method: Method, expected: int) -> float:
    """One round: every worker gets its slice of ``array`` by ``method``. Returns the
    seconds until the last one held it; their sums must add up to ``expected``."""
    bounds = slices(len(array.array), len(team.inboxes))
    started = time.monotonic()
    for worker, (start, stop) in enumerate(bounds):
        if method == "pickle":
            parcel = Parcel(worker, start, stop, data=array.array[start:stop])
        else:
            parcel = Parcel(worker, start, stop, handle=array.handle)
        team.inboxes[worker].put(parcel)
    receipts = [team.results.get() for _ in bounds]
    total = sum(receipt.total for receipt in receipts)
    if total != expected:
        raise AssertionError(f"{method}: the workers' sums add up to {total}, not {expected}")
    return max(receipt.held_at for receipt in receipts) - started


def compare(team: Team, array: shm.Segment, size_mib: int, repeat: int) -> Comparison:
    """Both ways, ``repeat`` rounds each; the fastest round counts (the others only add
    what else the machine was doing)."""
    expected = int(array.array.sum())  # the parent's own numpy sum
    fastest = {
        method: min(hand_over(team, array, method, expected) for _ in range(repeat))
        for method in METHODS
    }
    return Comparison(size_mib, fastest["pickle"], fastest["shm"])


def compare_sizes(p: HandoverParams, lab: Lab) -> list[Comparison]:
    check_array_size(p.array_mib * MIB, f"array_mib={p.array_mib}")
    rng = np.random.default_rng(p.seed)
    chosen = sizes(p)
    comparisons = []
    with team(lab, p.workers) as workers:
        for done, size_mib in enumerate(chosen, start=1):
            print(f"{size_mib} MiB to {p.workers} worker{'s' if p.workers > 1 else ''} ...")
            count = size_mib * MIB // ITEMSIZE
            with shm.create(count, np.int64, hint=f"array_{size_mib}mib") as array:
                array.array[...] = rng.integers(0, 1000, size=count)
                comparisons.append(compare(workers, array, size_mib, p.repeat))
            report(lab, comparisons[-1])
            lab.progress(done, len(chosen), "sizes")
    return comparisons


def report(lab: Lab, result: Comparison) -> None:
    for method, seconds in zip(METHODS, (result.pickle_s, result.shm_s), strict=True):
        lab.metric("handover_s", seconds, "s", method=method, size_mib=result.size_mib)
    lab.metric("shm_over_pickle", result.ratio, "x", size_mib=result.size_mib)
    print(
        f"  {result.size_mib:>5} MiB   pickle {result.pickle_s * 1e3:9.3f} ms   "
        f"shm {result.shm_s * 1e3:7.3f} ms   shm/pickle = 1/{1 / result.ratio:,.0f}"
    )


def l3_handover(p: HandoverParams, lab: Lab) -> None:
    comparisons = compare_sizes(p, lab)
    first, last = comparisons[0], comparisons[-1]
    if last.size_mib > first.size_mib:
        growth = last.size_mib / first.size_mib
        print(
            f"{growth:g}x the data: pickling took {last.pickle_s / first.pickle_s:.1f}x as "
            f"long, shared memory {last.shm_s / first.shm_s:.1f}x"
        )


SCENARIOS = [
    Scenario(
        id="L3.1",
        section_title="Shared memory against pickling",
        title="Shared memory against pickling",
        observe="Pickled, each worker waits while its slice's bytes go through the queue: "
        "the time grows with the size. Shared, only a handle travels and the worker attaches "
        "(the shm marks): flat, whatever the size. Try sweep=true; every segment is unlinked "
        "at the end.",
        params=HandoverParams,
        run=l3_handover,
    ),
]

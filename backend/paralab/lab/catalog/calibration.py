"""Scenarios that measure the lab itself: how many events it carries, and how fast."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec

from paralab.lab.scenario import Lab, Params, Scenario


class StormParams(Params, frozen=True, kw_only=True):
    threads: Annotated[int, msgspec.Meta(ge=1, le=8)] = 2
    acquisitions: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 10_000
    """Per thread; each one is a wait, an acquired and a released event (at most 2.4
    million events a run: about 250 MB in the store)."""


def event_storm(p: StormParams, lab: Lab) -> None:
    lock = lab.Lock("hot")

    def hammer() -> None:
        for _ in range(p.acquisitions):
            with lock:
                pass

    workers = [lab.Thread(target=hammer, name=f"hammer-{i}") for i in range(p.threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lab.print(f"{p.threads * p.acquisitions} acquisitions of one lock")


class MetronomeParams(Params, frozen=True, kw_only=True):
    rate: Annotated[int, msgspec.Meta(ge=1, le=20_000)] = 1000
    """Ticks per second."""
    seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 3.0


def metronome(p: MetronomeParams, lab: Lab) -> None:
    # Each tick prints the system-wide monotonic clock, so a listener on the same
    # machine can measure how long the event took to reach it.
    period_ns = 1_000_000_000 // p.rate
    start = time.monotonic_ns()
    for tick in range(int(p.rate * p.seconds)):
        due = start + tick * period_ns
        while (now := time.monotonic_ns()) < due:
            time.sleep(min((due - now) / 1e9, 0.0005))
        lab.print(f"tick {tick} {time.monotonic_ns()}")


SCENARIOS = [
    Scenario(
        id="C1.1",
        section_title="Calibration",
        title="Event storm: threads hammering one lock",
        observe="Thousands of tiny hold spans: how many events per second the lab carries.",
        params=StormParams,
        run=event_storm,
    ),
    Scenario(
        id="C1.2",
        section_title="Calibration",
        title="Metronome: output lines at a fixed rate",
        observe="Each line carries the clock at print time: the delay to your screen is latency.",
        params=MetronomeParams,
        run=metronome,
    ),
]

"""What the thread scenarios share: parameter types and small helpers."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec

from paralab.lab.scenario import Lab, Params

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

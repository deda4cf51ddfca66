"""L1: primality of large numbers: threads against processes on CPU-bound Python."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

from paralab.lab.catalog.labs.common import LabParams, Mode, map_in_mode, run_lab
from paralab.lab.scenario import Lab, Scenario

SEED_NUMBERS = (
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
)


class PrimesParams(LabParams, frozen=True, kw_only=True):
    """The seed's six numbers, repeated ``repeat`` times (more work, same lesson)."""

    repeat: Annotated[int, msgspec.Meta(ge=1, le=20, description="copies of the list")] = 2


def is_prime(n: int) -> bool:
    """Trial division by 6k +- 1: pure Python, so it holds the GIL all the time."""
    if n < 2:
        return False
    if n % 2 == 0 or n % 3 == 0:
        return n in (2, 3)
    return not any(n % k == 0 or n % (k + 2) == 0 for k in range(5, math.isqrt(n) + 1, 6))


def check_all(p: PrimesParams, lab: Lab, mode: Mode, workers: int) -> list[bool]:
    return map_in_mode(lab, mode, workers, is_prime, list(SEED_NUMBERS) * p.repeat)


def l1_primes(p: PrimesParams, lab: Lab) -> None:
    flags, _ = run_lab(p, lab, check_all)
    for n, flag in zip(SEED_NUMBERS, flags, strict=False):
        print(f"{n} is {'prime' if flag else 'not prime'}")


SCENARIOS = [
    Scenario(
        id="L1.1",
        section_title="Primes",
        title="Primes: threads against processes",
        observe="Threads take as long as one thread (the GIL lets one run Python at a time); "
        "processes divide the time by the cores. Try mode=threads, then sweep=true.",
        params=PrimesParams,
        run=l1_primes,
    ),
]

"""Lab benchmark: each lab's headline ratio, both sides measured in this one run.

Calls the labs' own functions in this process, with no event emitter installed (events
off), and prints measured / goal / met for:
  L1  processes over sequential on the lab's default list (the seed's six numbers, twice),
      pool start included (>= 1.8x; once through, five equal numbers on two cores cap it
      at 1.77x whatever the overhead)
  L2  vectorised numpy over the per-pixel Python loop, per pixel (>= 100x)
  L3  hand-over of a 256 MiB array to a worker: shared memory over pickling (<= 1/100)
  L4  a process pool over a sequential loop, preprocessing a batch of images (>= 1.7x)

Usage: python bench/labs.py [--workers N] [--handover-mib M] [--rounds R]
(L1 and L4 alternate the two sides R times (default 5) and keep each side's best time.)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

from paralab.lab.catalog.labs import handover, images, preprocess, primes
from paralab.lab.scenario import Lab

R = TypeVar("R")


@dataclass(frozen=True)
class Goal:
    name: str
    measured: float
    goal: float
    higher_is_better: bool = True

    @property
    def met(self) -> bool:
        return self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal

    def line(self) -> str:
        if self.higher_is_better:
            shown, wanted = f"{self.measured:,.2f}x", f">= {self.goal:g}x"
        else:
            shown, wanted = f"1/{1 / self.measured:,.0f}", f"<= 1/{1 / self.goal:,.0f}"
        return f"{self.name:<52} {shown:>12}   goal {wanted:<10} {'met' if self.met else 'NOT met'}"


def timed(fn: Callable[[], R]) -> tuple[R, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def alternated(
    rounds: int, first: Callable[[], R], second: Callable[[], R]
) -> tuple[R, float, R, float]:
    """Run the two side by side ``rounds`` times, alternating, and keep each one's best
    (lowest) wall time: on a shared machine the minimum is the least disturbed run."""
    best_first = best_second = float("inf")
    for round_number in range(1, rounds + 1):
        first_result, first_s = timed(first)
        second_result, second_s = timed(second)
        best_first, best_second = min(best_first, first_s), min(best_second, second_s)
        print(f"      round {round_number}: {first_s:.3f} s, then {second_s:.3f} s", flush=True)
    return first_result, best_first, second_result, best_second


def step(number: int, text: str) -> None:
    print(f"[{number}/4] {text} ...", flush=True)


def l1_primes(workers: int, rounds: int) -> Goal:
    p = primes.PrimesParams(workers=workers)
    lab = Lab(p)
    count = len(primes.SEED_NUMBERS) * p.repeat
    step(
        1,
        f"L1 primes: the seed's numbers x{p.repeat} ({count} numbers), sequential, then "
        f"{workers} processes (pool start included)",
    )
    expected, sequential_s, result, processes_s = alternated(
        rounds,
        lambda: primes.check_all(p, lab, "sequential", 1),
        lambda: primes.check_all(p, lab, "processes", workers),
    )
    assert result == expected, "processes gave different answers"
    print(f"      best: sequential {sequential_s:.3f} s, processes {processes_s:.3f} s")
    return Goal(f"L1 processes x{workers} over sequential", sequential_s / processes_s, 1.8)


def l2_loop_vs_numpy(images: ModuleType) -> Goal:
    p = images.LoopParams()
    step(2, f"L2 filters: the per-pixel loop on {p.crop}x{p.crop} crops, numpy on whole photos")
    photos = [images.scaled(path, p.width) for path in images.sample_photos()]
    crops = [images.centre_crop(rgb, p.crop) for rgb in photos]
    looped, loop_s = timed(lambda: [images.filter_loop(crop) for crop in crops])
    vectorised = [images.filter_numpy(crop) for crop in crops]
    assert all((a == b).all() for a, b in zip(looped, vectorised, strict=True))
    numpy_s = min(timed(lambda: [images.filter_numpy(rgb) for rgb in photos])[1] for _ in range(3))
    loop_ns = loop_s / images.pixels(crops) * 1e9
    numpy_ns = numpy_s / images.pixels(photos) * 1e9
    print(f"      loop {loop_ns:,.1f} ns a pixel, numpy {numpy_ns:,.2f} ns a pixel", flush=True)
    return Goal("L2 vectorised over the per-pixel loop (per pixel)", loop_ns / numpy_ns, 100)


def l3_handover(mib: int) -> Goal:
    step(3, f"L3 hand-over of {mib} MiB to 1 worker: pickled, then shared")
    p = handover.HandoverParams(array_mib=mib, workers=1, repeat=3)
    (result,) = handover.compare_sizes(p, Lab(p))  # prints its own result line
    return Goal(f"L3 {mib} MiB hand-over, shared memory over pickling", result.ratio, 0.01, False)


def l4_preprocess(preprocess: ModuleType, workers: int, rounds: int) -> Goal:
    p = preprocess.PreprocessParams(workers=workers)
    lab = Lab(p)
    model = preprocess.read_model()
    paths = preprocess.image_files(p.images)
    step(4, f"L4 preprocessing {p.images} images: sequential, then a pool of {workers}")
    expected, sequential_s, result, pool_s = alternated(
        rounds,
        lambda: preprocess.preprocess_all(lab, paths, model, False, "sequential", 1),
        lambda: preprocess.preprocess_all(lab, paths, model, False, "processes", workers),
    )
    assert preprocess.same_result(result, expected), "the pool gave a different batch"
    print(
        f"      best: sequential {sequential_s:.3f} s, pool {pool_s:.3f} s "
        f"({p.images / pool_s:,.0f} images/s)",
        flush=True,
    )
    return Goal(f"L4 pool x{workers} over sequential preprocessing", sequential_s / pool_s, 1.7)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--handover-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5, help="L1/L4: best of N, alternated")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work skews the ratios)")

    goals = [
        l1_primes(args.workers, args.rounds),
        l2_loop_vs_numpy(images),
        l3_handover(args.handover_mib),
        l4_preprocess(preprocess, args.workers, args.rounds),
    ]
    print()
    for goal in goals:
        print(goal.line())
    return 0 if all(goal.met for goal in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())

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
(L1, L2 and L4 run the two sides back to back R times (default 7) and report the median of
the R paired ratios: each pair ran under the same machine conditions, so the median of
pairs is steadier on a shared machine than either side's best, which a single lucky
pass, a core boosting its clock while the other idles, can skew.)
"""

from __future__ import annotations

import argparse
import os
import statistics
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


@dataclass(frozen=True)
class Paired:
    """R rounds of two sides run back to back: the results and each round's times."""

    first_result: object
    second_result: object
    rounds: list[tuple[float, float]]

    @property
    def ratios(self) -> list[float]:
        return [first_s / second_s for first_s, second_s in self.rounds]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def median_s(self, side: int) -> float:
        return statistics.median(times[side] for times in self.rounds)

    def summary(self) -> str:
        ratios = self.ratios
        return f"median ratio {self.ratio:.2f}x (rounds {min(ratios):.2f}x .. {max(ratios):.2f}x)"


def paired(rounds: int, first: Callable[[], object], second: Callable[[], object]) -> Paired:
    """Run the two back to back ``rounds`` times and keep every round's pair of times."""
    times = []
    first_result = second_result = None
    for round_number in range(1, rounds + 1):
        first_result, first_s = timed(first)
        second_result, second_s = timed(second)
        times.append((first_s, second_s))
        print(
            f"      round {round_number}: {first_s:.3f} s, then {second_s:.3f} s "
            f"({first_s / second_s:.2f}x)",
            flush=True,
        )
    return Paired(first_result, second_result, times)


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
    runs = paired(
        rounds,
        lambda: primes.check_all(p, lab, "sequential", 1),
        lambda: primes.check_all(p, lab, "processes", workers),
    )
    assert runs.second_result == runs.first_result, "processes gave different answers"
    print(
        f"      medians: sequential {runs.median_s(0):.3f} s, processes {runs.median_s(1):.3f} s; "
        f"{runs.summary()}"
    )
    return Goal(f"L1 processes x{workers} over sequential", runs.ratio, 1.8)


def l2_loop_vs_numpy(images: ModuleType, rounds: int) -> Goal:
    p = images.LoopParams()
    step(2, f"L2 filters: the per-pixel loop on {p.crop}x{p.crop} crops, numpy on whole photos")
    photos = [images.scaled(path, p.width) for path in images.sample_photos()]
    crops = [images.centre_crop(rgb, p.crop) for rgb in photos]
    # Times scaled to a pixel: the loop gets the crops, numpy the whole photos.
    per_crop_pixel, per_photo_pixel = 1 / images.pixels(crops), 1 / images.pixels(photos)
    runs = paired(
        rounds,
        lambda: [images.filter_loop(crop) for crop in crops],
        lambda: [images.filter_numpy(rgb) for rgb in photos],
    )
    looped = runs.first_result
    assert isinstance(looped, list)
    vectorised = [images.filter_numpy(crop) for crop in crops]
    assert all((a == b).all() for a, b in zip(looped, vectorised, strict=True))
    loop_ns = runs.median_s(0) * per_crop_pixel * 1e9
    numpy_ns = runs.median_s(1) * per_photo_pixel * 1e9
    ratios = [
        loop_s * per_crop_pixel / (numpy_s * per_photo_pixel) for loop_s, numpy_s in runs.rounds
    ]
    ratio = statistics.median(ratios)
    print(
        f"      medians: loop {loop_ns:,.1f} ns a pixel, numpy {numpy_ns:,.2f} ns a pixel; "
        f"median ratio {ratio:,.0f}x (rounds {min(ratios):,.0f}x .. {max(ratios):,.0f}x)",
        flush=True,
    )
    return Goal("L2 vectorised over the per-pixel loop (per pixel)", ratio, 100)


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
    runs = paired(
        rounds,
        lambda: preprocess.preprocess_all(lab, paths, model, False, "sequential", 1),
        lambda: preprocess.preprocess_all(lab, paths, model, False, "processes", workers),
    )
    assert preprocess.same_result(runs.second_result, runs.first_result), (
        "the pool gave a different batch"
    )
    pool_s = runs.median_s(1)
    print(
        f"      medians: sequential {runs.median_s(0):.3f} s, pool {pool_s:.3f} s "
        f"({p.images / pool_s:,.0f} images/s); {runs.summary()}",
        flush=True,
    )
    return Goal(f"L4 pool x{workers} over sequential preprocessing", runs.ratio, 1.7)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--handover-mib", type=int, default=256)
    parser.add_argument(
        "--rounds", type=int, default=7, help="L1, L2, L4: median of N paired rounds"
    )
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work skews the ratios)")

    goals = [
        l1_primes(args.workers, args.rounds),
        l2_loop_vs_numpy(images, args.rounds),
        l3_handover(args.handover_mib),
        l4_preprocess(preprocess, args.workers, args.rounds),
    ]
    print()
    for goal in goals:
        print(goal.line())
    return 0 if all(goal.met for goal in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())

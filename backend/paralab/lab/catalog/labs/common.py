"""What every data-parallel lab shares: modes, a worker count, timing against a sequential
baseline measured in the same run, sweeps over worker counts, and an Amdahl fit.

A lab is one function ``measure(p, lab, mode, workers) -> result``: it does the whole job
in that mode with that many workers (pool start-up included) and returns something
comparable. ``run_lab`` times it sequentially first, then as asked, checks every result
against the sequential one, and reports metrics labelled ``mode`` and ``workers``:
``wall_s``, ``speedup`` (sequential wall / this wall) and ``efficiency`` (speedup /
workers). With ``sweep`` it does so for 1..workers and fits Amdahl's law,
S(n) = 1 / (f + (1 - f) / n), reporting the serial fraction ``f`` and the fit's residual.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from paralab.errors import InvalidInput
from paralab.lab.scenario import Lab, ProcessParams

Mode = Literal["sequential", "threads", "processes"]
R = TypeVar("R")
T = TypeVar("T")
P = TypeVar("P", bound="LabParams")

Workers = Annotated[int, msgspec.Meta(ge=1, le=16, description="threads or processes")]
MIB = 1 << 20
ARRAY_LIMIT_ENV = "PARALAB_MAX_ARRAY_MIB"
DEFAULT_ARRAY_LIMIT_MIB = 1024


class LabParams(ProcessParams, frozen=True, kw_only=True):
    """Every lab: how to parallelise, with how many workers, and whether to sweep."""

    mode: Annotated[Mode, msgspec.Meta(description="sequential, threads or processes")] = (
        "processes"
    )
    workers: Workers = 2
    sweep: Annotated[
        bool, msgspec.Meta(description="measure every worker count from 1 to workers")
    ] = False


Measure = Callable[[P, Lab, Mode, int], R]


@dataclass(frozen=True)
class Point:
    mode: Mode
    workers: int
    wall_s: float
    speedup: float

    @property
    def efficiency(self) -> float:
        return self.speedup / self.workers


def timed(fn: Callable[[], R]) -> tuple[R, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run_lab(
    p: P, lab: Lab, measure: Measure[P, R], same: Callable[[R, R], bool] | None = None
) -> tuple[R, list[Point]]:
    """Sequential baseline, then the asked mode (or a sweep of it); every result must
    equal the baseline's. Returns the result and the measured points (baseline first)."""
    same = same or (lambda a, b: bool(a == b))
    print("sequential baseline ...")
    expected, baseline_s = timed(lambda: measure(p, lab, "sequential", 1))
    points = [Point("sequential", 1, baseline_s, 1.0)]
    report(points[0])
    if p.mode == "sequential":
        return expected, points
    counts = range(1, p.workers + 1) if p.sweep else [p.workers]
    for done, workers in enumerate(counts, start=1):
        print(f"{p.mode} with {workers} worker{'s' if workers > 1 else ''} ...")
        result, wall_s = timed(partial(measure, p, lab, p.mode, workers))
        if not same(result, expected):
            raise AssertionError(f"{p.mode} x {workers} gave a different result")
        point = Point(p.mode, workers, wall_s, baseline_s / wall_s)
        points.append(point)
        report(point)
        lab.progress(done, len(counts), f"{p.mode} workers")
    if p.sweep:
        report_fit(points[1:])
    return expected, points


def report(point: Point) -> None:
    labels: dict[str, Any] = {"mode": point.mode, "workers": point.workers}
    Lab.metric("wall_s", point.wall_s, "s", **labels)
    Lab.metric("speedup", point.speedup, "x", **labels)
    Lab.metric("efficiency", point.efficiency, "", **labels)
    print(
        f"  {point.mode:>10} x{point.workers:<2} {point.wall_s:8.3f} s   "
        f"speed-up {point.speedup:5.2f}x   efficiency {point.efficiency:4.0%}"
    )


def amdahl(serial_fraction: float, workers: int) -> float:
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / workers)


def fit_serial_fraction(points: Sequence[Point]) -> tuple[float, float]:
    """Least squares on 1/S - 1/n = f (1 - 1/n), the linear form of Amdahl's law.
    Returns (f clamped to 0..1, RMS residual of the speed-ups)."""
    xs = [1 - 1 / q.workers for q in points]
    ys = [1 / q.speedup - 1 / q.workers for q in points]
    denominator = sum(x * x for x in xs)
    f = sum(x * y for x, y in zip(xs, ys, strict=True)) / denominator if denominator else 0.0
    f = min(max(f, 0.0), 1.0)
    residual = math.sqrt(
        sum((q.speedup - amdahl(f, q.workers)) ** 2 for q in points) / max(len(points), 1)
    )
    return f, residual


def report_fit(points: Sequence[Point]) -> None:
    f, residual = fit_serial_fraction(points)
    mode = points[0].mode
    Lab.metric("serial_fraction", f, "", mode=mode)
    Lab.metric("fit_residual", residual, "x", mode=mode)
    print(f"Amdahl fit: serial fraction {f:.3f} (RMS residual {residual:.3f}x)")
    cores = os.cpu_count() or 1
    if max(q.workers for q in points) > cores:
        print(
            f"this machine has {cores} cores: past {cores} workers they take turns on the "
            "same cores (oversubscription), so the speed-up cannot keep growing"
        )


def map_in_mode(
    lab: Lab, mode: Mode, workers: int, fn: Callable[[T], R], items: Sequence[T]
) -> list[R]:
    """``fn`` over ``items`` in order: in this thread, or one item per task handed to
    ``workers`` threads or processes as they free up (so one long item does not leave
    the others idle behind a fixed split)."""
    if mode == "sequential":
        return [fn(item) for item in items]
    if mode == "threads":
        with lab.ThreadPoolExecutor(workers, name=f"threads x{workers}") as threads:
            return list(threads.map(fn, items))
    with lab.mp.ProcessPoolExecutor(workers, name=f"processes x{workers}") as processes:
        return list(processes.map(fn, items))


def split(items: Sequence[R], parts: int) -> list[list[R]]:
    """Deal items round-robin into ``parts`` lists (a balanced split of mixed work)."""
    return [list(items[i::parts]) for i in range(parts)]


def check_array_size(nbytes: int, what: str) -> None:
    """The machine's cap on a lab's arrays: the server passes its setting, the CLI reads
    the same variable, so no way of starting a lab can exceed it."""
    raw = os.environ.get(ARRAY_LIMIT_ENV) or str(DEFAULT_ARRAY_LIMIT_MIB)
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput(f"{ARRAY_LIMIT_ENV}={raw!r} is not a whole number of MiB.") from None
    if nbytes > limit * MIB:
        raise InvalidInput(
            f"{what} needs a {nbytes / MIB:.0f} MiB array, above this machine's limit of "
            f"{limit} MiB ({ARRAY_LIMIT_ENV}); ask for less or raise the limit."
        )

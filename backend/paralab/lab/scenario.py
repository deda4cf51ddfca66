"""What a scenario is: declarative data (id, titles, parameters) plus a small function."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from paralab.errors import InvalidInput
from paralab.lab import bootstrap, traced
from paralab.lab.events import StartMethod
from paralab.lab.traced import processes

Seed = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1, description="random seed")]
TimeScale = Annotated[
    float,
    msgspec.Meta(ge=0.001, le=10.0, description="multiplies every sleep (1 = real durations)"),
]


class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every scenario's parameters have a seed and a time scale; subclasses add their own."""

    seed: Seed = 0
    time_scale: TimeScale = 1.0


class ProcessParams(Params, frozen=True, kw_only=True):
    """Scenarios that start processes choose how they are started."""

    start_method: Annotated[
        StartMethod,
        msgspec.Meta(
            description="how processes start: fork (a copy of the parent, fast), spawn (a "
            "fresh interpreter, slow), forkserver (forked from a clean server process)"
        ),
    ] = processes.DEFAULT_START_METHOD


class Lab:
    """The toolbox a scenario function receives: traced primitives, scaled sleep, a seeded rng."""

    Thread = traced.Thread
    Lock = traced.Lock
    RLock = traced.RLock
    Semaphore = traced.Semaphore
    BoundedSemaphore = traced.BoundedSemaphore
    Barrier = traced.Barrier
    Event = traced.Event
    Queue = traced.Queue
    ThreadPoolExecutor = traced.ThreadPoolExecutor

    mp = processes
    """The process primitives (``lab.mp.Process``, ``lab.mp.Queue()``, ``lab.mp.Pool(4)``...),
    bound to the scenario's start method."""

    def __init__(self, params: Params) -> None:
        self.rng = random.Random(params.seed)
        self.time_scale = params.time_scale
        if isinstance(params, ProcessParams):
            processes.use_start_method(params.start_method)

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of scenario time (real time = seconds * time_scale)."""
        traced.sleep(seconds * self.time_scale)

    @staticmethod
    def print(*values: object, sep: str = " ") -> None:
        traced.print_lines(*values, sep=sep)

    @staticmethod
    def metric(name: str, value: float, unit: str = "", **labels: object) -> None:
        """Report a measurement; ``labels`` place it on a curve (``mode=..., workers=4``)."""
        traced.metric(name, value, unit, **labels)

    @staticmethod
    def save_artifact(name: str, data: bytes, media_type: str, description: str = "") -> None:
        """Keep a file with the run (served at ``/api/runs/{id}/artifacts/{name}``)."""
        bootstrap.save_artifact(name, data, media_type, description)

    @staticmethod
    def progress(done: int, total: int, label: str = "") -> None:
        traced.progress(done, total, label)


ScenarioFunction = Callable[[Any, Lab], None]


@dataclass(frozen=True)
class Scenario:
    id: str
    """``T4.2`` = part T, section 4, scenario 2."""
    section_title: str
    title: str
    observe: str
    """What to look at on the timeline and in the output."""
    params: type[Params]
    run: ScenarioFunction

    @property
    def part(self) -> str:
        return self.id[0]

    @property
    def section(self) -> str:
        return self.id.split(".")[0]

    def validate(self, params: dict[str, Any], strict: bool = True) -> Params:
        """Typed, bounded parameters, or ``InvalidInput`` saying what is wrong. ``strict``
        off lets strings stand for numbers (command-line values)."""
        try:
            return msgspec.convert(params, self.params, strict=strict)
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"Invalid parameters for {self.id}: {exc}") from None

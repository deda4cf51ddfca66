"""The core every instrumented primitive shares: where this process's events go, and how
objects get their default names. Thread and process primitives both build on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from paralab.lab.emitter import Emitter
from paralab.lab.events import (
    Acquired,
    GaveUp,
    Metric,
    Output,
    Primitive,
    Progress,
    TaskEnd,
    TaskStart,
    Wait,
)
from paralab.lab.events import Event as LabEvent

T = TypeVar("T")
R = TypeVar("R")

_emitter: Emitter | None = None


def install(emitter: Emitter | None) -> None:
    """Route this process's events to ``emitter`` (``None``: drop them)."""
    global _emitter
    _emitter = emitter


def current_emitter() -> Emitter | None:
    return _emitter


def emit(
    event_type: type[LabEvent], /, actor: str | None = None, at_ns: int | None = None, **fields: Any
) -> None:
    """Emit from the calling thread (``actor`` overrides its name; ``at_ns`` the time)."""
    if _emitter is not None:
        _emitter.emit(event_type, actor=actor, at_ns=at_ns, **fields)


def now_ns() -> int:
    """The run's clock (0 when no emitter is installed)."""
    return _emitter.now() if _emitter is not None else 0


def name_counter(prefix: str) -> Callable[[], str]:
    """``lock-1``, ``lock-2``, ...: default names for objects a scenario did not name."""
    count = 0
    lock = threading.Lock()

    def next_name() -> str:
        nonlocal count
        with lock:
            count += 1
            return f"{prefix}-{count}"

    return next_name


def wait_timeout(blocking: bool = True, timeout: float | None = None) -> float | None:
    """A wait event's ``timeout_s``: 0 for a non-blocking try, ``None`` for a wait without
    end (``timeout`` ``None`` or negative, as ``Lock.acquire`` takes it)."""
    if not blocking:
        return 0.0
    return None if timeout is None or timeout < 0 else float(timeout)


def gave_up(primitive: Primitive, obj: str, blocking: bool = True) -> None:
    emit(GaveUp, primitive=primitive, obj=obj, reason="timeout" if blocking else "would_block")


def sleep(seconds: float) -> None:
    """Sleep for real, shown as a ``sleep`` wait on the timeline."""
    emit(Wait, primitive="sleep", obj=f"{seconds:.3f}s")
    time.sleep(seconds)
    emit(Acquired, primitive="sleep", obj=f"{seconds:.3f}s")


def print_lines(*values: object, sep: str = " ") -> None:
    """``print`` for scenarios: each line becomes an ``output`` event of the caller."""
    text = sep.join(str(value) for value in values)
    for line in text.splitlines() or [""]:
        emit(Output, line=line)


def metric(name: str, value: float, unit: str = "", **labels: object) -> None:
    emit(
        Metric,
        name=name,
        value=float(value),
        unit=unit,
        labels={key: str(label) for key, label in labels.items()},
    )


def progress(done: int, total: int, label: str = "") -> None:
    emit(Progress, done=done, total=total, label=label)


class Task(Generic[T, R]):
    """A pool's work item ``(index, item)``, shown as a task span in the lane of the thread
    or process that ran it."""

    def __init__(self, pool: str, fn: Callable[[T], R]) -> None:
        self.pool = pool
        self.fn = fn

    def __call__(self, numbered: tuple[int, T]) -> R:
        index, item = numbered
        emit(TaskStart, pool=self.pool, task=index)
        try:
            return self.fn(item)
        finally:
            emit(TaskEnd, pool=self.pool, task=index)


class Call(Generic[R]):
    """``fn(*args, **kwargs)`` as a one-argument function, for ``Task``."""

    def __init__(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self, _: object) -> R:
        return self.fn(*self.args, **self.kwargs)

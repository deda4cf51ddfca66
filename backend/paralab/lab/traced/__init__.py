"""Instrumented primitives: the real stdlib objects underneath, emitting events.

This is the surface scenario code sees (through ``Lab``); the child runner calls
``install`` once to route the process's events to its emitter.
"""

from paralab.lab.traced.emit import emit, install, metric, print_lines, progress, sleep
from paralab.lab.traced.threads import (
    Barrier,
    BoundedSemaphore,
    Event,
    Lock,
    Queue,
    RLock,
    Semaphore,
    Thread,
    ThreadPoolExecutor,
)

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "Event",
    "Lock",
    "Queue",
    "RLock",
    "Semaphore",
    "Thread",
    "ThreadPoolExecutor",
    "emit",
    "install",
    "metric",
    "print_lines",
    "progress",
    "sleep",
]

"""Chrome Trace Event JSON (opens in ui.perfetto.dev and chrome://tracing) from run events.

Per thread: an ``alive`` slice from actor_start to actor_end, ``wait <obj>`` slices from
wait to acquired, ``hold <obj>`` slices while a lock or semaphore is held; instants for
queue, barrier, output and lifecycle events; counters for metrics and progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Event,
    GaveUp,
    Metric,
    Output,
    Progress,
    QueueGet,
    QueuePut,
    Released,
    RunLifecycle,
    TaskEnd,
    TaskStart,
    Wait,
)
from paralab.runs.models import Run

HOLDABLE = {"lock", "rlock", "semaphore"}
RUN_TID = 0


def _us(t_ns: int) -> float:
    return t_ns / 1000.0


class _Builder:
    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []
        self.open: dict[tuple[Any, ...], Event] = {}
        self.threads: dict[tuple[int, int], str] = {}
        self.last_ns = 0

    def slice(self, start: Event, end_ns: int, name: str, cat: str, args: dict[str, Any]) -> None:
        self.out.append(
            {
                "ph": "X",
                "name": name,
                "cat": cat,
                "pid": start.pid,
                "tid": start.tid,
                "ts": _us(start.t_ns),
                "dur": max(_us(end_ns - start.t_ns), 0.001),
                "args": args,
            }
        )

    def instant(self, event: Event, name: str, cat: str, args: dict[str, Any]) -> None:
        self.out.append(
            {
                "ph": "i",
                "s": "t",
                "name": name,
                "cat": cat,
                "pid": event.pid,
                "tid": event.tid,
                "ts": _us(event.t_ns),
                "args": args,
            }
        )

    def counter(self, event: Event, name: str, value: float) -> None:
        self.out.append(
            {
                "ph": "C",
                "name": name,
                "pid": event.pid,
                "ts": _us(event.t_ns),
                "args": {name: value},
            }
        )

    def add(self, event: Event) -> None:
        self.last_ns = max(self.last_ns, event.t_ns)
        if event.tid or event.actor != "run":
            self.threads.setdefault((event.pid, event.tid), event.actor)
        match event:
            case ActorStart():
                self.open[("alive", event.pid, event.tid)] = event
            case ActorEnd():
                start = self.open.pop(("alive", event.pid, event.tid), None)
                if start:
                    args: dict[str, Any] = {"kind": event.kind, "exit_code": event.exit_code}
                    self.slice(start, event.t_ns, event.actor, "actor", args)
            case Wait():
                self.open[("wait", event.tid, event.primitive, event.obj)] = event
            case Acquired():
                self._acquired(event)
            case GaveUp():
                waited = self.open.pop(("wait", event.tid, event.primitive, event.obj), None)
                if waited:
                    name = f"wait {event.primitive} {event.obj} (gave up: {event.reason})"
                    self.slice(waited, event.t_ns, name, "blocked", {"reason": event.reason})
            case Released():
                self._released(event)
            case QueuePut() | QueueGet():
                args = {"item": event.item, "size": event.size}
                verb = "put" if isinstance(event, QueuePut) else "get"
                self.instant(event, f"{verb} {event.queue}", "queue", args)
            case TaskStart():
                self.open[("task", event.tid, event.pool, event.task)] = event
            case TaskEnd():
                start = self.open.pop(("task", event.tid, event.pool, event.task), None)
                if start:
                    self.slice(
                        start, event.t_ns, f"task {event.task}", "pool", {"pool": event.pool}
                    )
            case Output():
                self.instant(
                    event, event.line[:80], "output", {"line": event.line, "stream": event.stream}
                )
            case Metric():
                self.counter(
                    event, f"{event.name} ({event.unit})" if event.unit else event.name, event.value
                )
            case Progress():
                self.counter(event, event.label or "progress", event.done / max(event.total, 1))
            case RunLifecycle():
                self.instant(event, f"run {event.status}", "run", {"detail": event.detail})

    def _acquired(self, event: Acquired) -> None:
        waited = self.open.pop(("wait", event.tid, event.primitive, event.obj), None)
        if waited:
            name = (
                f"sleep {event.obj}"
                if event.primitive == "sleep"
                else f"wait {event.primitive} {event.obj}"
            )
            self.slice(
                waited, event.t_ns, name, "blocked", {"value": getattr(waited, "value", None)}
            )
        if event.primitive == "barrier":
            self.instant(event, f"passed {event.obj}", "barrier", {"index": event.value})
        first_hold = event.primitive != "rlock" or event.value == 1
        if event.primitive in HOLDABLE and first_hold:
            self.open[("hold", event.tid, event.obj)] = event

    def _released(self, event: Released) -> None:
        if event.primitive == "rlock" and event.value:
            return
        held = self.open.pop(("hold", event.tid, event.obj), None)
        if held:
            self.slice(
                held, event.t_ns, f"hold {event.obj}", "holding", {"primitive": event.primitive}
            )
        else:
            self.instant(
                event, f"release {event.primitive} {event.obj}", "sync", {"value": event.value}
            )

    def close_open_spans(self) -> None:
        for key, start in list(self.open.items()):
            self.slice(start, self.last_ns, f"{key[0]} (unfinished)", "unfinished", {})
        self.open.clear()


def chrome_trace(run: Run, events: Iterable[Event]) -> dict[str, Any]:
    """The whole run as a Chrome Trace Event document."""
    builder = _Builder()
    for event in events:
        builder.add(event)
    builder.close_open_spans()
    pids = {pid for pid, _ in builder.threads}
    metadata: list[dict[str, Any]] = [
        {
            "ph": "M",
            "name": "process_name",
            "pid": pid,
            "args": {"name": f"{run.scenario_id} pid {pid}"},
        }
        for pid in sorted(pids)
    ]
    metadata += [
        {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": actor}}
        for (pid, tid), actor in sorted(builder.threads.items())
    ]
    return {
        "traceEvents": metadata + builder.out,
        "displayTimeUnit": "ms",
        "metadata": {"run_id": run.id, "scenario_id": run.scenario_id, "status": run.status},
    }

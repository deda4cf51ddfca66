"""Chrome Trace Event JSON (opens in ui.perfetto.dev and chrome://tracing) from run events.

Per thread: an ``alive`` slice from actor_start to actor_end, ``wait <obj>`` slices from
wait to acquired, ``hold <obj>`` slices while a lock or semaphore is held; instants for
queue, barrier, output and lifecycle events; counters for metrics and progress.

The document is produced in chunks (``chrome_trace_chunks``), page by page of events, so
a run of millions of events is exported in bounded memory and never all at once.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import msgspec

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
from paralab.runs.records import Run

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
                self._drop_signal_acquisitions(event.tid)
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

    def _drop_signal_acquisitions(self, tid: int) -> None:
        """A semaphore used as a signal is acquired by one thread and released by another:
        the acquiring thread never held anything. Show its acquisitions as instants."""
        for key, acquired in list(self.open.items()):
            if (
                key[0] == "hold"
                and key[1] == tid
                and getattr(acquired, "primitive", "") == "semaphore"
            ):
                del self.open[key]
                args = {"value": getattr(acquired, "value", None)}
                self.instant(acquired, f"acquire semaphore {key[2]}", "sync", args)

    def take(self) -> list[dict[str, Any]]:
        out, self.out = self.out, []
        return out

    def close_open_spans(self) -> None:
        for key, start in list(self.open.items()):
            self.slice(start, self.last_ns, f"{key[0]} (unfinished)", "unfinished", {})
        self.open.clear()


def chrome_trace_chunks(run: Run, pages: Iterable[Iterable[Event]]) -> Generator[bytes, None, None]:
    """The whole run as a Chrome Trace Event JSON document, one chunk per page of events.
    (Chrome and Perfetto accept metadata events anywhere, so thread names come last.)"""
    encoder = msgspec.json.Encoder()
    builder = _Builder()
    yield b'{"traceEvents":['
    separator = b""
    for page in pages:
        for event in page:
            builder.add(event)
        if chunk := builder.take():
            yield separator + encoder.encode(chunk)[1:-1]
            separator = b","
    builder.close_open_spans()
    if tail := builder.take() + _metadata(run, builder.threads):
        yield separator + encoder.encode(tail)[1:-1]
    document_metadata = {"run_id": run.id, "scenario_id": run.scenario_id, "status": run.status}
    yield b'],"displayTimeUnit":"ms","metadata":' + encoder.encode(document_metadata) + b"}"


def _metadata(run: Run, threads: dict[tuple[int, int], str]) -> list[dict[str, Any]]:
    pids = {pid for pid, _ in threads}
    names: list[dict[str, Any]] = [
        {
            "ph": "M",
            "name": "process_name",
            "pid": pid,
            "args": {"name": f"{run.scenario_id} pid {pid}"},
        }
        for pid in sorted(pids)
    ]
    names += [
        {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": actor}}
        for (pid, tid), actor in sorted(threads.items())
    ]
    return names

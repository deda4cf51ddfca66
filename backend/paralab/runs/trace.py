"""Chrome Trace Event JSON (opens in ui.perfetto.dev and chrome://tracing) from run events.

The lanes are the spans and instants of ``paralab.runs.spans`` (one rule set, shared with
the web timeline): an ``X`` slice per span, category = its kind (running, starting, blocked,
sleeping, holding, task), args = its details; an ``i`` instant per instant, category = its
kind, args = the event's fields. Spans that never closed end at the last event, named
``... (unfinished)`` with ``args.unfinished``. Beyond the lanes: ``run <status>`` instants,
counters for metrics and progress, and process / thread names: one process track per pid,
``<name> (pid N)`` for a process the run started (named by its spawn or its own start),
``<scenario> pid N`` for the run's main process, parents sorted before their children.

The document is produced in chunks (``chrome_trace_chunks``), page by page of events, so
a run of millions of events is exported in bounded memory and never all at once.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import msgspec

from paralab.lab.events import ActorStart, Event, Metric, ProcessSpawn, Progress, RunLifecycle
from paralab.runs.records import Run
from paralab.runs.spans import Instant, Record, Span, SpanBuilder

EVENT_BASE = {"t_ns", "pid", "tid", "actor"}


def _us(t_ns: int) -> float:
    return t_ns / 1000.0


class _Builder:
    def __init__(self) -> None:
        self.spans = SpanBuilder()
        self.out: list[dict[str, Any]] = []
        self.unfinished: list[Span] = []
        self.threads: dict[tuple[int, int], str] = {}
        self.processes = _Processes()
        self.last_ns = 0

    def add(self, event: Event) -> None:
        self.last_ns = max(self.last_ns, event.t_ns)
        if event.tid or event.actor != "run":
            self.threads.setdefault((event.pid, event.tid), event.actor)
            self.processes.add(event)
        if not isinstance(event, (Metric, Progress, RunLifecycle)):
            self.spans.add(event)
            return
        # What the spans finished so far goes first, so the order does not depend on paging.
        self.render(self.spans.take())
        match event:
            case Metric():
                name = f"{event.name} ({event.unit})" if event.unit else event.name
                self.counter(event, name, event.value)
            case Progress():
                self.counter(event, event.label or "progress", event.done / max(event.total, 1))
            case RunLifecycle():
                self.out.append(
                    {
                        "ph": "i",
                        "s": "t",
                        "name": f"run {event.status}",
                        "cat": "run",
                        "pid": event.pid,
                        "tid": event.tid,
                        "ts": _us(event.t_ns),
                        "args": {"detail": event.detail},
                    }
                )

    def render(self, records: list[Record]) -> None:
        for record in records:
            if isinstance(record, Instant):
                self.out.append(_instant(record))
                continue
            if record.kind == "starting":  # its thread may never have sent an event
                self.threads.setdefault((record.pid, record.tid), record.actor)
            if record.end_ns is None:
                self.unfinished.append(record)  # its end is the last event, not known yet
            else:
                self.out.append(_slice(record, record.end_ns))

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

    def take(self) -> list[dict[str, Any]]:
        self.render(self.spans.take())
        out, self.out = self.out, []
        return out

    def close_open_spans(self) -> None:
        self.render(self.spans.finish())
        self.out += [_slice(span, self.last_ns, unfinished=True) for span in self.unfinished]
        self.unfinished.clear()


def _slice(span: Span, end_ns: int, unfinished: bool = False) -> dict[str, Any]:
    name, args = _name_and_args(span)
    if unfinished:
        name += " (unfinished)"
        args["unfinished"] = True
    return {
        "ph": "X",
        "name": name,
        "cat": span.kind,
        "pid": span.pid,
        "tid": span.tid,
        "ts": _us(span.start_ns),
        "dur": max(_us(end_ns - span.start_ns), 0.001),
        "args": args,
    }


def _name_and_args(span: Span) -> tuple[str, dict[str, Any]]:
    """Args: the span's details it has (spelled out per kind: this runs once per slice)."""
    args: dict[str, Any] = {}
    if span.kind in ("running", "starting"):
        name = span.actor if span.kind == "running" else f"{span.start_method} start-up"
        if span.start_method is not None:
            args["start_method"] = span.start_method
        if span.exit_code is not None:
            args["exit_code"] = span.exit_code
        if span.killed_by is not None:
            args["killed_by"] = span.killed_by
            name += f" (killed: {span.killed_by})"
        return name, args
    if span.kind == "task":
        return f"task {span.task}", {"pool": span.pool, "task": span.task}
    args = {"primitive": span.primitive, "obj": span.obj}
    if span.kind == "holding":
        return f"hold {span.obj}", args
    if span.value is not None:
        args["value"] = span.value
    name = f"sleep {span.obj}" if span.kind == "sleeping" else f"wait {span.primitive} {span.obj}"
    if span.gave_up:
        args["gave_up"] = span.gave_up
        name += f" (gave up: {span.gave_up})"
    return name, args


def _instant(instant: Instant) -> dict[str, Any]:
    event = instant.event
    args = {f: getattr(event, f) for f in event.__struct_fields__ if f not in EVENT_BASE}
    return {
        "ph": "i",
        "s": "t",
        "name": instant.text[:80],
        "cat": instant.kind,
        "pid": instant.pid,
        "tid": instant.tid,
        "ts": _us(instant.t_ns),
        "args": args,
    }


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
    if tail := builder.take() + _metadata(run, builder.threads, builder.processes):
        yield separator + encoder.encode(tail)[1:-1]
    document_metadata = {"run_id": run.id, "scenario_id": run.scenario_id, "status": run.status}
    yield b'],"displayTimeUnit":"ms","metadata":' + encoder.encode(document_metadata) + b"}"


class _Processes:
    """The run's processes: when each started (spawned, else first seen), its name and parent."""

    def __init__(self) -> None:
        self.started: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.parents: dict[int, int] = {}

    def add(self, event: Event) -> None:
        self.started.setdefault(event.pid, event.t_ns)
        if isinstance(event, ProcessSpawn):
            self.started[event.child_pid] = event.t_ns  # its own events may have come first
            self.names.setdefault(event.child_pid, event.child)
            self.parents.setdefault(event.child_pid, event.pid)
        elif isinstance(event, ActorStart) and event.kind == "process":
            self.names[event.pid] = event.actor

    def ordered(self, pids: set[int]) -> list[int]:
        """Depth first: each parent before its children, siblings in the order they started."""
        known = sorted((pid for pid in self.started if pid in pids), key=self.started.__getitem__)
        seen = known + sorted(pids - set(self.started))
        children: dict[int | None, list[int]] = {}
        for pid in seen:
            parent = self.parents.get(pid)
            children.setdefault(parent if parent in pids else None, []).append(pid)
        order: list[int] = []
        stack = list(reversed(children.get(None, [])))
        while stack:
            pid = stack.pop()
            if pid not in order:
                order.append(pid)
                stack += reversed(children.get(pid, []))
        return order + [pid for pid in seen if pid not in order]


def _metadata(
    run: Run, threads: dict[tuple[int, int], str], processes: _Processes
) -> list[dict[str, Any]]:
    pids = {pid for pid, _ in threads}
    names: list[dict[str, Any]] = []
    for index, pid in enumerate(processes.ordered(pids)):
        name = processes.names.get(pid)
        label = f"{name} (pid {pid})" if name else f"{run.scenario_id} pid {pid}"
        names.append({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": label}})
        names.append(
            {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": index}}
        )
    names += [
        {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": actor}}
        for (pid, tid), actor in sorted(threads.items())
    ]
    return names

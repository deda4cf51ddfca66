"""The span rules, once: run events in, per-actor spans and instants out.

``frontend/components/timeline-model.js`` follows the same rules, and
``tests/golden/span-rules.json`` checks both against one set of hand-written cases.

An actor is one thread: its events share ``pid``, ``tid`` and ``actor``. Spans:

- ``running``: actor_start -> actor_end.
- ``blocked``: wait -> acquired or gave_up (``gave_up`` keeps the reason), for every
  primitive but sleep; ``sleeping``: wait sleep -> acquired sleep. ``value`` is the wait's.
- ``holding`` a lock or rlock: from its first acquire to the release that leaves it free
  (an rlock's release at depth 0). A lock has one holder at a time, so its holds never
  overlap: a Lock released by another actor ends the hold there.
- ``holding`` a semaphore: acquired -> released by the SAME actor (the release pairs with
  that actor's latest unpaired acquire). An acquire that is never paired, because the actor
  acquires it again, ends, or the run ends first, is a signal: an instant, not a hold.
- ``task``: task_start -> task_end.

A span that never gets its closing event ends as ``end_ns=None`` (unfinished): still open
at the end of the events, left open when its actor ended, or opened again by a new start.

Instants (kind: text): ``barrier`` arrive / pass / broke; ``signal`` for an event set, a
semaphore release or acquire that is a signal, and a release by anyone but the holder;
``queue`` put / get; ``output`` lines. Run lifecycle, metrics and progress are not on lanes.

``SpanBuilder`` takes events in order, page by page; its memory is bounded by what is open
(actors x objects), never by the number of events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Event,
    GaveUp,
    Output,
    QueueGet,
    QueuePut,
    Released,
    TaskEnd,
    TaskStart,
    Wait,
)

SpanKind = Literal["running", "blocked", "sleeping", "holding", "task"]
InstantKind = Literal["barrier", "signal", "queue", "output"]

ActorKey = tuple[int, int, str]
LockKey = tuple[int, str, str]


class Span(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    actor: str
    pid: int
    tid: int
    kind: SpanKind
    start_ns: int
    end_ns: int | None
    primitive: str | None = None
    obj: str | None = None
    value: int | None = None
    gave_up: str | None = None
    pool: str | None = None
    task: int | None = None
    exit_code: int | None = None


class Instant(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    actor: str
    pid: int
    tid: int
    kind: InstantKind
    t_ns: int
    text: str
    event: Event


Record = Span | Instant


class _Actor:
    """What one actor has open: the events that started it."""

    __slots__ = ("running", "semaphores", "tasks", "waits")

    def __init__(self) -> None:
        self.running: ActorStart | None = None
        self.waits: dict[tuple[str, str], Wait] = {}
        self.tasks: dict[tuple[str, int], TaskStart] = {}
        self.semaphores: dict[str, Acquired] = {}  # the unpaired acquire, by semaphore


def _key(event: Event) -> ActorKey:
    return (event.pid, event.tid, event.actor)


def _span(start: Event, kind: SpanKind, end_ns: int | None, **details: Any) -> Span:
    return Span(
        actor=start.actor,
        pid=start.pid,
        tid=start.tid,
        kind=kind,
        start_ns=start.t_ns,
        end_ns=end_ns,
        **details,
    )


def _running(start: ActorStart, end: ActorEnd | None = None) -> Span:
    exit_code = end.exit_code if end else None
    return _span(start, "running", end.t_ns if end else None, exit_code=exit_code)


def _waited(wait: Wait, end_ns: int | None = None, gave_up: str | None = None) -> Span:
    kind: SpanKind = "sleeping" if wait.primitive == "sleep" else "blocked"
    details = {"primitive": wait.primitive, "obj": wait.obj, "value": wait.value}
    return _span(wait, kind, end_ns, gave_up=gave_up, **details)


def _held(acquired: Acquired, end_ns: int | None = None) -> Span:
    return _span(acquired, "holding", end_ns, primitive=acquired.primitive, obj=acquired.obj)


def _task(start: TaskStart, end_ns: int | None = None) -> Span:
    return _span(start, "task", end_ns, pool=start.pool, task=start.task)


def _instant(event: Event, kind: InstantKind, text: str) -> Instant:
    return Instant(
        actor=event.actor,
        pid=event.pid,
        tid=event.tid,
        kind=kind,
        t_ns=event.t_ns,
        text=text,
        event=event,
    )


class SpanBuilder:
    """Feed it every event in order (``add``), collect what is finished (``take``) as often
    as you like, and call ``finish`` once after the last event."""

    def __init__(self) -> None:
        self._actors: dict[ActorKey, _Actor] = {}
        self._locks: dict[LockKey, tuple[ActorKey, Acquired]] = {}  # holder, its acquire
        self._done: list[Record] = []

    def add(self, event: Event) -> None:
        # By type, not ``match``: a dict lookup is much faster than a chain of isinstance.
        if handle := _HANDLERS.get(type(event)):
            handle(self, event)

    def take(self) -> list[Record]:
        """The spans and instants finished since the last call."""
        done, self._done = self._done, []
        return done

    def finish(self) -> list[Record]:
        """After the last event: what is still open, unfinished (``end_ns=None``)."""
        for actor in self._actors.values():
            self._drop(actor)
        self._done += [_held(acquired) for _, acquired in self._locks.values()]
        self._actors.clear()
        self._locks.clear()
        return self.take()

    def _actor_start(self, event: ActorStart) -> None:
        actor = self._actor(event)
        if actor.running:
            self._done.append(_running(actor.running))
        actor.running = event

    def _actor_end(self, event: ActorEnd) -> None:
        actor = self._actors.pop(_key(event), None)
        if actor is None:
            return
        if actor.running:
            self._done.append(_running(actor.running, event))
            actor.running = None
        self._drop(actor)

    def _wait(self, event: Wait) -> None:
        waits = self._actor(event).waits
        if waited := waits.get((event.primitive, event.obj)):
            self._done.append(_waited(waited))
        waits[(event.primitive, event.obj)] = event
        if event.primitive == "barrier":
            self._mark(event, "barrier", f"arrive barrier {event.obj}")

    def _acquired(self, event: Acquired) -> None:
        self._end_wait(event)
        if event.primitive == "barrier":
            self._mark(event, "barrier", f"pass barrier {event.obj}")
        elif event.primitive in ("lock", "rlock"):
            lock = (event.pid, event.primitive, event.obj)
            if held := self._locks.get(lock):
                holder, acquired = held
                if holder == _key(event):
                    return  # an rlock re-entered: still the same hold
                self._done.append(_held(acquired, event.t_ns))  # one holder at a time
            self._locks[lock] = (_key(event), event)
        elif event.primitive == "semaphore":
            semaphores = self._actor(event).semaphores
            if unpaired := semaphores.get(event.obj):
                self._mark(unpaired, "signal", f"acquire semaphore {event.obj}")
            semaphores[event.obj] = event

    def _gave_up(self, event: GaveUp) -> None:
        self._end_wait(event, event.reason)
        if event.primitive == "barrier":
            self._mark(event, "barrier", f"barrier {event.obj} broke")

    def _released(self, event: Released) -> None:
        if event.primitive in ("lock", "rlock"):
            lock = (event.pid, event.primitive, event.obj)
            held = self._locks.get(lock)
            mine = held is not None and held[0] == _key(event)
            # Any thread may release a Lock; an RLock only its owner, back to depth 0.
            if held and (event.primitive == "lock" or (mine and not event.value)):
                del self._locks[lock]
                self._done.append(_held(held[1], event.t_ns))
            if not mine:
                self._mark(event, "signal", f"release {event.primitive} {event.obj}")
        elif event.primitive == "semaphore":
            actor = self._actors.get(_key(event))
            acquired = actor.semaphores.pop(event.obj, None) if actor else None
            if acquired:
                self._done.append(_held(acquired, event.t_ns))
            else:
                self._mark(event, "signal", f"release semaphore {event.obj}")
        elif event.primitive == "event":
            self._mark(event, "signal", f"set event {event.obj}")
        else:
            self._mark(event, "signal", f"release {event.primitive} {event.obj}")

    def _queue_put(self, event: QueuePut) -> None:
        self._mark(event, "queue", f"put {event.item} on {event.queue}")

    def _queue_get(self, event: QueueGet) -> None:
        self._mark(event, "queue", f"get {event.item} from {event.queue}")

    def _task_start(self, event: TaskStart) -> None:
        tasks = self._actor(event).tasks
        if started := tasks.get((event.pool, event.task)):
            self._done.append(_task(started))
        tasks[(event.pool, event.task)] = event

    def _task_end(self, event: TaskEnd) -> None:
        if started := self._actor(event).tasks.pop((event.pool, event.task), None):
            self._done.append(_task(started, event.t_ns))

    def _output(self, event: Output) -> None:
        self._mark(event, "output", event.line)

    def _actor(self, event: Event) -> _Actor:
        key = _key(event)
        actor = self._actors.get(key)
        if actor is None:
            actor = self._actors[key] = _Actor()
        return actor

    def _mark(self, event: Event, kind: InstantKind, text: str) -> None:
        self._done.append(_instant(event, kind, text))

    def _end_wait(self, event: Acquired | GaveUp, gave_up: str | None = None) -> None:
        if waited := self._actor(event).waits.pop((event.primitive, event.obj), None):
            self._done.append(_waited(waited, event.t_ns, gave_up))

    def _drop(self, actor: _Actor) -> None:
        """The actor can close nothing more: its open spans stay unfinished and its
        unpaired semaphore acquires were signals."""
        if actor.running:
            self._done.append(_running(actor.running))
        self._done += [_waited(wait) for wait in actor.waits.values()]
        self._done += [_task(start) for start in actor.tasks.values()]
        for acquired in actor.semaphores.values():
            self._mark(acquired, "signal", f"acquire semaphore {acquired.obj}")


# Run lifecycle, metrics and progress are not on an actor's lane.
_HANDLERS: dict[type[Event], Callable[[SpanBuilder, Any], None]] = {
    ActorStart: SpanBuilder._actor_start,
    ActorEnd: SpanBuilder._actor_end,
    Wait: SpanBuilder._wait,
    Acquired: SpanBuilder._acquired,
    GaveUp: SpanBuilder._gave_up,
    Released: SpanBuilder._released,
    QueuePut: SpanBuilder._queue_put,
    QueueGet: SpanBuilder._queue_get,
    TaskStart: SpanBuilder._task_start,
    TaskEnd: SpanBuilder._task_end,
    Output: SpanBuilder._output,
}

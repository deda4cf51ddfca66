"""The span rules, once: run events in, per-actor spans and instants out.

``frontend/components/timeline-model.js`` follows the same rules, and
``tests/golden/span-rules.json`` checks both against one set of hand-written cases.

An actor is one thread: its events share ``pid``, ``tid`` and ``actor``; two threads of one
name in different processes are two actors. Spans:

- ``running``: actor_start -> actor_end.
- ``starting``: process_spawn -> the child's own actor_start (kind process), on the child's
  lane (``actor`` = the spawn's ``child``, ``pid`` = its pid, ``tid`` = the actor_start's, or
  the pid while unknown: a Linux process's main thread has its pid as native id); keeps
  ``start_method``. It is the start-up cost, so both orders of arrival give it (the parent's
  buffer may be written after a quick fork child's).
- A process that ends without its own actor_end was killed (or left through ``os._exit``):
  at its process_exit every actor of that pid still open ends there (its open waits, tasks
  and lock holds stay unfinished), and so does its starting span if its code never ran,
  with ``exit_code`` and ``killed_by``: the ``reason`` of the last process_stop sent to it
  (terminate, kill, parent_exit), else the signal's name for a negative exit code
  (``SIGKILL``: killed from outside). With no process_exit they stay unfinished, still
  ``killed_by`` the stop if one was sent. An actor_end closes its running span without
  ``killed_by``: the code finished after all.
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
``queue`` put / get; ``output`` lines; ``process`` on the parent's lane: ``start P (spawn)``,
``terminate P`` / ``kill P`` / ``parent exit kills daemon P``, ``P exited 0`` /
``P killed by SIGTERM (-15)``; ``shm``: ``create seg uint8[4, 4]`` (the array, else the
size: ``unlink seg 16 bytes``). Run lifecycle, metrics, progress and artifacts are not on
lanes.

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
    ProcessExit,
    ProcessSpawn,
    ProcessStop,
    QueueGet,
    QueuePut,
    Released,
    SharedMemoryOp,
    TaskEnd,
    TaskStart,
    Wait,
)

SpanKind = Literal["running", "starting", "blocked", "sleeping", "holding", "task"]
InstantKind = Literal["barrier", "signal", "queue", "output", "process", "shm"]

ActorKey = tuple[int, int, str]
LockKey = tuple[int, str, str]

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}
"""Named in texts (the SPA has the same table); any other signal is ``signal N``."""
STOP_TEXTS = {
    "terminate": "terminate {}",
    "kill": "kill {}",
    "parent_exit": "parent exit kills daemon {}",
}


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
    start_method: str | None = None
    killed_by: str | None = None


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


def _running(
    start: ActorStart,
    end_ns: int | None = None,
    exit_code: int | None = None,
    killed_by: str | None = None,
) -> Span:
    return _span(start, "running", end_ns, exit_code=exit_code, killed_by=killed_by)


def _starting(
    spawn: ProcessSpawn,
    end_ns: int | None = None,
    tid: int | None = None,
    exit_code: int | None = None,
    killed_by: str | None = None,
) -> Span:
    return Span(
        actor=spawn.child,
        pid=spawn.child_pid,
        tid=spawn.child_pid if tid is None else tid,
        kind="starting",
        start_ns=spawn.t_ns,
        end_ns=end_ns,
        start_method=spawn.start_method,
        exit_code=exit_code,
        killed_by=killed_by,
    )


def signal_name(number: int) -> str:
    return SIGNAL_NAMES.get(number, f"signal {number}")


def exit_text(event: ProcessExit) -> str:
    if event.exit_code < 0:
        return f"{event.child} killed by {signal_name(-event.exit_code)} ({event.exit_code})"
    return f"{event.child} exited {event.exit_code}"


def shm_text(event: SharedMemoryOp) -> str:
    return f"{event.op} {event.segment} {event.array or f'{event.size} bytes'}"


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
        # By child pid: the spawn still starting, a child started before its spawn arrived,
        # and the reason of the last stop sent.
        self._spawns: dict[int, ProcessSpawn] = {}
        self._unspawned: dict[int, ActorStart] = {}
        self._stops: dict[int, str] = {}
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
        self._done += [
            _starting(spawn, killed_by=self._stops.get(pid)) for pid, spawn in self._spawns.items()
        ]
        self._actors.clear()
        self._locks.clear()
        self._spawns.clear()
        self._unspawned.clear()
        self._stops.clear()
        return self.take()

    def _actor_start(self, event: ActorStart) -> None:
        actor = self._actor(event)
        if actor.running:
            self._done.append(self._cut(actor.running))
        actor.running = event
        if event.kind == "process":
            if spawn := self._spawns.pop(event.pid, None):
                self._done.append(_starting(spawn, event.t_ns, event.tid))
            else:
                self._unspawned[event.pid] = event

    def _actor_end(self, event: ActorEnd) -> None:
        actor = self._actors.pop(_key(event), None)
        if actor is None:
            return
        if actor.running:
            self._done.append(_running(actor.running, event.t_ns, event.exit_code))
            actor.running = None
        self._drop(actor)

    def _process_spawn(self, event: ProcessSpawn) -> None:
        self._mark(event, "process", f"start {event.child} ({event.start_method})")
        pid = event.child_pid
        if started := self._unspawned.pop(pid, None):
            self._done.append(_starting(event, started.t_ns, started.tid))
            return
        if spawn := self._spawns.get(pid):
            self._done.append(_starting(spawn, killed_by=self._stops.get(pid)))
        self._spawns[pid] = event

    def _process_stop(self, event: ProcessStop) -> None:
        self._mark(event, "process", STOP_TEXTS[event.reason].format(event.child))
        self._stops[event.child_pid] = event.reason

    def _process_exit(self, event: ProcessExit) -> None:
        """Whatever of that process is still open ended with it."""
        self._mark(event, "process", exit_text(event))
        pid, end_ns, code = event.child_pid, event.t_ns, event.exit_code
        killed_by = self._stops.pop(pid, None)
        if killed_by is None and code < 0:
            killed_by = signal_name(-code)
        if spawn := self._spawns.pop(pid, None):
            self._done.append(_starting(spawn, end_ns, exit_code=code, killed_by=killed_by))
        self._unspawned.pop(pid, None)
        for key in [key for key in self._actors if key[0] == pid]:
            actor = self._actors.pop(key)
            if actor.running:
                self._done.append(_running(actor.running, end_ns, code, killed_by))
                actor.running = None
            self._drop(actor)
        for lock in [lock for lock in self._locks if lock[0] == pid]:
            self._done.append(_held(self._locks.pop(lock)[1]))

    def _shm(self, event: SharedMemoryOp) -> None:
        self._mark(event, "shm", shm_text(event))

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

    def _cut(self, start: ActorStart) -> Span:
        """A running span that will never see its actor_end: unfinished, and killed by
        the stop sent to its process, if any."""
        return _running(start, killed_by=self._stops.get(start.pid))

    def _drop(self, actor: _Actor) -> None:
        """The actor can close nothing more: its open spans stay unfinished and its
        unpaired semaphore acquires were signals."""
        if actor.running:
            self._done.append(self._cut(actor.running))
        self._done += [_waited(wait) for wait in actor.waits.values()]
        self._done += [_task(start) for start in actor.tasks.values()]
        for acquired in actor.semaphores.values():
            self._mark(acquired, "signal", f"acquire semaphore {acquired.obj}")


# Run lifecycle, metrics, progress and artifacts are not on an actor's lane.
_HANDLERS: dict[type[Event], Callable[[SpanBuilder, Any], None]] = {
    ActorStart: SpanBuilder._actor_start,
    ActorEnd: SpanBuilder._actor_end,
    ProcessSpawn: SpanBuilder._process_spawn,
    ProcessStop: SpanBuilder._process_stop,
    ProcessExit: SpanBuilder._process_exit,
    SharedMemoryOp: SpanBuilder._shm,
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

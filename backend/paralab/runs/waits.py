"""Deadlocks and stalls, found from a run's event stream: a wait-for graph.

``WaitForGraph`` takes the run's events one by one (``add``) and keeps who is alive, who
waits for what, and who holds what. ``check(now_ns)`` answers with a ``Deadlock`` event
once actors that can never go on have stayed so for ``after_ns``; the caller passes the
time, on the run's clock, so nothing here reads a clock or does I/O.

An actor is one thread, keyed like the span rules: ``(pid, tid, actor)``. It is alive from
its first event to its ``actor_end``, or to the end of its process (a process's own
``actor_end``, or the ``process_exit`` its parent saw). Any event of an actor but a
``wait`` means it runs: a thread that blocks sends nothing more.

A wait counts only if it waits for good: not a sleep, not a wait with a timeout (it ends
by itself), not an rlock its actor already holds, a free lock, a semaphore with permits
left, or a join of an actor that has ended or is still starting. Who can end a wait:

- lock, rlock: the holder (``acquired`` until the ``released`` that frees it; an rlock at
  depth 0). An rlock whose holder has ended is never freed; a Lock whose holder ended
  may be released by anyone.
- join: the joined thread (same process, by name) or process (by the spawn's name), until
  it ends; a name that is neither (a pool, a joinable queue): anyone.
- semaphore, barrier, queue, event, condition: anyone alive who is not stuck himself
  (any thread may release, arrive, put or set). Permit holders (acquired, not yet
  released by the same actor) are only used to draw a cycle; an actor's own permits of
  the semaphore it waits for are signals it consumed, not a hold on itself.

The stuck actors are the largest set of waiting actors none of whose possible wakers is
outside the set (a process still starting counts as a waker). A cycle among them, each
waiting for what the next one holds or for the next one to end, is a ``deadlock``; without
a cycle, it is a ``stall`` only if every live actor is stuck.

Events from several processes can arrive a little out of order (each process buffers
its own): a lock's ``released`` or a semaphore's counter older than what is known is
ignored, and a finding must hold for ``after_ns`` before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    Blocked,
    Deadlock,
    Event,
    ProcessExit,
    ProcessSpawn,
    QueueGet,
    QueuePut,
    Released,
    Wait,
)

ActorKey = tuple[int, int, str]
ObjKey = tuple[int, str, str]
"""(pid, or 0 for an object shared by the run's processes; primitive; name)."""
Waits = frozenset[tuple[ActorKey, int]]
"""Stuck actors with the time their wait began: the identity of a finding."""
Wakers = frozenset[ActorKey] | Literal["anyone"] | None
"""Who could end a wait: these actors, anyone alive, or ``None``: the wait is not stuck
(it ends by itself, or is about to get what it waits for)."""


@dataclass(slots=True)
class _Actor:
    key: ActorKey
    kind: str = ""
    wait: Wait | None = None


@dataclass(slots=True)
class _Hold:
    holder: ActorKey
    t_ns: int
    depth: int = 1


@dataclass(slots=True)
class _Finding:
    kind: Literal["deadlock", "stall"]
    cycle: list[ActorKey]
    stuck: list[ActorKey]
    """Every stuck actor, the cycle first."""
    signature: Waits
    """What must still be stuck for the finding to hold: the cycle, or every actor."""
    waits: Waits
    """Every stuck actor."""


def _key(event: Event) -> ActorKey:
    return (event.pid, event.tid, event.actor)


def _obj(event: Wait | Acquired | Released) -> ObjKey:
    return (0 if event.shared else event.pid, event.primitive, event.obj)


class WaitForGraph:
    """Feed it every event of a run (``add``) and call ``check`` now and then."""

    def __init__(self, after_ns: int) -> None:
        self.after_ns = after_ns
        self._actors: dict[ActorKey, _Actor] = {}
        self._ended: set[tuple[int, str]] = set()  # (pid, name) of threads that ended
        self._dead_pids: set[int] = set()
        self._starting: set[int] = set()  # spawned, not yet running
        self._children: dict[tuple[int, str], int] = {}  # (parent pid, child name) -> pid
        self._locks: dict[ObjKey, _Hold] = {}
        self._permits: dict[ObjKey, set[ActorKey]] = {}  # unpaired acquires, as spans pair them
        self._counters: dict[ObjKey, tuple[int, int]] = {}  # semaphore value, as of t_ns
        self._queue_sizes: dict[str, int] = {}
        self._last_ns = 0
        self._dirty = False
        self._pending: _Finding | None = None
        self._since_ns = 0
        self._reported: Waits | None = None

    # --- events -------------------------------------------------------------------

    def add(self, event: Event) -> None:
        if event.tid == 0:  # the runner's own (run lifecycle, raw stderr): nobody's lane
            return
        if event.pid in self._dead_pids and not isinstance(event, ActorStart):
            return  # a late event of a process known to be gone
        self._last_ns = max(self._last_ns, event.t_ns)
        self._dirty = True
        actor = self._actors.get(_key(event))
        if actor is None:
            actor = self._actors[_key(event)] = _Actor(_key(event))
        actor.wait = event if isinstance(event, Wait) else None
        match event:
            case ActorStart():
                actor.kind = event.kind
                if event.kind == "process":
                    self._starting.discard(event.pid)
            case ActorEnd():
                self._end_actor(actor.key)
                if event.kind == "process":
                    self._end_process(event.pid)
            case ProcessSpawn():
                self._children[(event.pid, event.child)] = event.child_pid
                started = any(key[0] == event.child_pid for key in self._actors)
                if not started and event.child_pid not in self._dead_pids:
                    self._starting.add(event.child_pid)
            case ProcessExit():
                self._end_process(event.child_pid)
            case Wait():
                self._count(event, event.value)
                if event.primitive == "queue" and event.value is not None:
                    self._queue_sizes[event.obj] = event.value
            case Acquired():
                self._acquired(event)
            case Released():
                self._released(event)
            case QueuePut() | QueueGet():
                self._queue_sizes[event.queue] = event.size

    def _acquired(self, event: Acquired) -> None:
        obj, who = _obj(event), _key(event)
        if event.primitive in ("lock", "rlock"):
            hold = self._locks.get(obj)
            if hold is not None and hold.holder == who:
                hold.depth = event.value or hold.depth + 1
            elif hold is None or event.t_ns >= hold.t_ns:  # else: an older hold, late
                self._locks[obj] = _Hold(who, event.t_ns, event.value or 1)
        elif event.primitive == "semaphore":
            # Taken again before it was given back: the first one was a signal, not a hold.
            self._permits.setdefault(obj, set()).add(who)
            self._count(event, event.value)

    def _released(self, event: Released) -> None:
        obj, who = _obj(event), _key(event)
        if event.primitive in ("lock", "rlock"):
            hold = self._locks.get(obj)
            if hold is None or event.t_ns < hold.t_ns:
                return  # the end of an older hold, arriving late
            if event.primitive == "lock" or (hold.holder == who and not event.value):
                del self._locks[obj]  # any thread may release a Lock; an RLock its owner
            elif hold.holder == who:
                hold.depth = event.value or 0
        elif event.primitive == "semaphore":
            self._permits.get(obj, set()).discard(who)
            self._count(event, event.value)

    def _count(self, event: Wait | Acquired | Released, value: int | None) -> None:
        if event.primitive != "semaphore" or value is None:
            return
        obj = _obj(event)
        known = self._counters.get(obj)
        if known is None or event.t_ns >= known[1]:
            self._counters[obj] = (value, event.t_ns)

    def _end_actor(self, key: ActorKey) -> None:
        self._actors.pop(key, None)
        self._ended.add((key[0], key[2]))

    def _end_process(self, pid: int) -> None:
        for key in [key for key in self._actors if key[0] == pid]:
            self._end_actor(key)
        self._dead_pids.add(pid)
        self._starting.discard(pid)

    # --- the graph ------------------------------------------------------------------

    def check(self, now_ns: int) -> Deadlock | None:
        """A ``Deadlock`` event (``pid`` 0, ``actor`` ``run``: the caller may restamp it)
        once actors have been unable to go on for ``after_ns`` at ``now_ns``. Each finding
        is reported once."""
        if self._dirty:
            self._dirty = False
            found, old = self._find(), self._pending
            if found is not None and old is not None and _still(old, found):
                found.kind, found.cycle, found.signature = old.kind, old.cycle, old.signature
                found.stuck = old.cycle + [key for key in found.stuck if key not in old.cycle]
            elif found is not None:
                self._since_ns = self._last_ns
            self._pending = found
        pending = self._pending
        if pending is None or now_ns - self._since_ns < self.after_ns:
            return None
        if pending.signature == self._reported:
            return None
        self._reported = pending.signature
        return self._event(pending, now_ns)

    def _find(self) -> _Finding | None:
        wakers = {k: w for k, a in self._actors.items() if (w := self._wakers(a)) is not None}
        stuck = set(wakers)
        changed = True
        while changed:
            changed = False
            free = len(stuck) < len(self._actors) or bool(self._starting)
            for key in sorted(stuck):
                can_wake = wakers[key]
                if free if can_wake == "anyone" else not can_wake <= stuck:
                    stuck.discard(key)
                    changed = free = True
        if not stuck:
            return None
        order = sorted(stuck, key=self._since)
        waits = self._waits(order)
        cycle = _cycle({key: self._edges(key, stuck) for key in order}, order)
        if cycle:
            members = cycle + [key for key in order if key not in cycle]
            return _Finding("deadlock", cycle, members, self._waits(cycle), waits)
        if len(stuck) < len(self._actors) or self._starting:
            return None  # stuck, but others still run: not a stall (yet)
        return _Finding("stall", [], order, waits, waits)

    def _wakers(self, actor: _Actor) -> Wakers:
        wait = actor.wait
        if wait is None or wait.primitive == "sleep" or wait.timeout_s is not None:
            return None
        if wait.primitive in ("lock", "rlock"):
            hold = self._locks.get(_obj(wait))
            if hold is None or (hold.holder == actor.key and wait.primitive == "rlock"):
                return None  # free, or re-entered: it is about to get it
            if hold.holder in self._actors:
                return frozenset({hold.holder})
            return frozenset() if wait.primitive == "rlock" else "anyone"
        if wait.primitive == "semaphore":
            value = self._counters.get(_obj(wait), (0, 0))[0]
            return None if value > 0 else "anyone"
        if wait.primitive == "join":
            return self._join_wakers(actor.key, wait.obj)
        return "anyone"

    def _join_wakers(self, joiner: ActorKey, name: str) -> Wakers:
        pid = joiner[0]
        child = self._children.get((pid, name))
        if child is not None:
            if child in self._dead_pids or child in self._starting:
                return None
            main = [k for k, a in self._actors.items() if k[0] == child and a.kind == "process"]
            return frozenset(main) if main else None
        threads = [k for k in self._actors if k[0] == pid and k[2] == name and k != joiner]
        if threads:
            return frozenset(threads)
        return None if (pid, name) in self._ended else "anyone"

    def _edges(self, key: ActorKey, stuck: set[ActorKey]) -> list[ActorKey]:
        """Whom a stuck actor waits for, among the stuck: a cycle runs along these."""
        return [k for k in self._blockers(key) if k in stuck]

    def _blockers(self, key: ActorKey) -> list[ActorKey]:
        """Who holds what the actor waits for (alive or not), or the actors it joins."""
        wait = self._actors[key].wait
        assert wait is not None
        if wait.primitive in ("lock", "rlock"):
            hold = self._locks.get(_obj(wait))
            return [hold.holder] if hold else []
        if wait.primitive == "semaphore":  # its own permits are signals it took
            return sorted(self._permits.get(_obj(wait), set()) - {key})
        wakers = self._wakers(self._actors[key])
        return sorted(wakers) if isinstance(wakers, frozenset) else []

    def _since(self, key: ActorKey) -> tuple[int, ActorKey]:
        wait = self._actors[key].wait
        return (wait.t_ns if wait else 0, key)

    def _waits(self, keys: list[ActorKey]) -> Waits:
        return frozenset((key, self._since(key)[0]) for key in keys)

    # --- the finding as an event ----------------------------------------------------

    def _event(self, finding: _Finding, now_ns: int) -> Deadlock:
        names = _names(finding.stuck)
        blocked = {key: self._blocked(key, names) for key in finding.stuck}
        cycle = [blocked[key] for key in finding.cycle]
        return Deadlock(
            t_ns=now_ns,
            pid=0,
            tid=0,
            actor="run",
            kind=finding.kind,
            cycle=cycle,
            actors=list(blocked.values()),
            detail=self._detail(finding, names),
        )

    def _blocked(self, key: ActorKey, names: dict[ActorKey, str]) -> Blocked:
        wait = self._actors[key].wait
        assert wait is not None
        return Blocked(
            actor=key[2],
            pid=key[0],
            tid=key[1],
            primitive=wait.primitive,
            obj=wait.obj,
            since_ns=wait.t_ns,
            blocked_by=[self._name(k, names) for k in self._blockers(key)],
            holds=self._holdings(key),
        )

    def _holdings(self, key: ActorKey) -> list[str]:
        wait = self._actors[key].wait
        waited = _obj(wait) if wait else None
        locks = [obj[2] for obj, hold in self._locks.items() if hold.holder == key]
        permits = [obj[2] for obj, who in self._permits.items() if key in who and obj != waited]
        return sorted(locks) + sorted(permits)

    def _name(self, key: ActorKey, names: dict[ActorKey, str]) -> str:
        if key in names:
            return names[key]
        return key[2] if key in self._actors else f"{key[2]} (ended)"

    def _detail(self, finding: _Finding, names: dict[ActorKey, str]) -> str:
        parts = [self._says(key, names) for key in finding.stuck]
        if finding.kind == "deadlock":
            return "Deadlock: " + "; ".join(parts) + "."
        return (
            "Stalled: every live actor waits and none can wake another: " + "; ".join(parts) + "."
        )

    def _says(self, key: ActorKey, names: dict[ActorKey, str]) -> str:
        wait = self._actors[key].wait
        assert wait is not None
        who, what = names[key], f"{wait.primitive} {wait.obj}"
        blockers = ", ".join(self._name(k, names) for k in self._blockers(key))
        match wait.primitive:
            case "lock" | "rlock":
                return f"{who} waits for {what}, held by {blockers or 'nobody'}"
            case "join":
                return f"{who} waits for {wait.obj} to end"
            case "semaphore":
                held = f" (permits held by {blockers})" if blockers else ""
                return f"{who} waits for {what}, which has no permit left{held}"
            case "queue":
                size = self._queue_sizes.get(wait.obj)
                return f"{who} waits on {what}" + (f" (size {size})" if size is not None else "")
            case "barrier":
                return f"{who} waits at {what} ({wait.value or '?'} arrived)"
            case _:
                return f"{who} waits for {what}"


def _still(old: _Finding, new: _Finding) -> bool:
    """The old finding still holds: same kind, and what it was about is still stuck."""
    return old.kind == new.kind and old.signature <= new.waits


def _cycle(edges: dict[ActorKey, list[ActorKey]], order: list[ActorKey]) -> list[ActorKey]:
    """The first cycle found walking ``edges`` from each of ``order`` in turn."""
    done: set[ActorKey] = set()
    for root in order:
        if root in done:
            continue
        path, on_path = [root], {root}
        todo = [iter(edges[root])]
        while todo:
            step = next(todo[-1], None)
            if step is None:
                todo.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if step in on_path:
                return path[path.index(step) :]
            if step not in done:
                path.append(step)
                on_path.add(step)
                todo.append(iter(edges[step]))
    return []


def _names(keys: list[ActorKey]) -> dict[ActorKey, str]:
    """Actor names, with the pid where two stuck actors share one."""
    counts: dict[str, int] = {}
    for key in keys:
        counts[key[2]] = counts.get(key[2], 0) + 1
    return {key: key[2] if counts[key[2]] == 1 else f"{key[2]} (pid {key[0]})" for key in keys}

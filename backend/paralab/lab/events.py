"""The one event schema: a tagged union of frozen msgspec Structs.

Shared by the scenario child process, the server, the run store, the trace exporter and
(as JSON) WebSocket consumers. Every event carries ``t_ns`` (nanoseconds since the run
started, from the system-wide monotonic clock), ``pid``, ``tid`` (native thread id) and
``actor`` (the thread or process name it belongs to). ``seq`` is assigned by the server:
1, 2, 3, ... per run, continuous, so consumers can resume and detect gaps.
"""

from __future__ import annotations

from typing import Literal

import msgspec

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
MAX_SEQ = 2**62
"""The largest sequence number (and offset) a client may ask for."""

Primitive = Literal[
    "lock", "rlock", "semaphore", "barrier", "join", "queue", "event", "condition", "sleep"
]
"""What a ``wait``/``acquired``/``released`` event is about. For barrier, join, queue,
event, condition and sleep, ``acquired`` means "the wait is over"."""


class EventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    t_ns: int
    pid: int
    tid: int
    actor: str
    seq: int = 0


class RunLifecycle(EventBase, frozen=True, tag="run"):
    """The run changed status; the final one carries the error (with traceback) if any."""

    status: RunStatus
    detail: str = ""


class ActorStart(EventBase, frozen=True, tag="actor_start"):
    """A thread or process began running ``actor``'s code. For a process, ``parent`` is the
    process that started it and ``start_method`` how (fork, spawn, forkserver)."""

    kind: Literal["thread", "process", "main"]
    daemon: bool = False
    parent: str = ""
    start_method: str = ""


class ActorEnd(EventBase, frozen=True, tag="actor_end"):
    kind: Literal["thread", "process", "main"]
    exit_code: int | None = None


StartMethod = Literal["fork", "spawn", "forkserver"]


class ProcessSpawn(EventBase, frozen=True, tag="process_spawn"):
    """``actor`` asked for process ``child`` to be started (``Process.start()`` was called,
    stamped before the call). The child's own ``actor_start`` follows once its code runs:
    the gap between the two is the start-up cost of ``start_method``."""

    child: str
    child_pid: int
    start_method: StartMethod
    daemon: bool = False


class ProcessStop(EventBase, frozen=True, tag="process_stop"):
    """``actor`` sent ``signal`` to process ``child``: ``terminate()`` (SIGTERM), ``kill()``
    (SIGKILL), or ``parent_exit``: the parent is exiting and a daemon child still runs."""

    child: str
    child_pid: int
    signal: Literal["SIGTERM", "SIGKILL"]
    reason: Literal["terminate", "kill", "parent_exit"]


class ProcessExit(EventBase, frozen=True, tag="process_exit"):
    """``actor`` saw process ``child`` end with ``exit_code`` (negative: killed by that
    signal, e.g. -15 after SIGTERM). A killed process cannot say so itself."""

    child: str
    child_pid: int
    exit_code: int


class SharedMemoryOp(EventBase, frozen=True, tag="shm"):
    """``actor`` did ``op`` on shared-memory segment ``segment`` (``size`` bytes; ``array``
    describes the numpy view, e.g. ``uint8[1080, 1920, 3]``). The creator owns the segment
    and unlinks it; others attach and close."""

    op: Literal["create", "attach", "close", "unlink"]
    segment: str
    size: int
    array: str = ""


class Wait(EventBase, frozen=True, tag="wait"):
    """``actor`` blocks on ``obj`` (a named primitive). ``value``: semaphore counter,
    barrier arrivals so far, or queue size, at the moment of the call. ``timeout_s``: the
    wait gives up by itself after that long (0: a non-blocking try; ``None``: it waits
    for good). ``shared``: ``obj`` is a multiprocessing object, the same one in every
    process of the run (otherwise each process has its own)."""

    primitive: Primitive
    obj: str
    value: int | None = None
    timeout_s: float | None = None
    shared: bool = False


class Acquired(EventBase, frozen=True, tag="acquired"):
    primitive: Primitive
    obj: str
    value: int | None = None
    shared: bool = False


class GaveUp(EventBase, frozen=True, tag="gave_up"):
    """The wait on ``obj`` ended without getting it: a non-blocking attempt that found it
    taken (``would_block``), a timeout, or a broken barrier. Closes the ``wait``."""

    primitive: Primitive
    obj: str
    reason: Literal["would_block", "timeout", "broken"]


class Released(EventBase, frozen=True, tag="released"):
    primitive: Primitive
    obj: str
    value: int | None = None
    shared: bool = False


class QueuePut(EventBase, frozen=True, tag="queue_put"):
    queue: str
    item: str
    size: int


class QueueGet(EventBase, frozen=True, tag="queue_get"):
    queue: str
    item: str
    size: int


class TaskStart(EventBase, frozen=True, tag="task_start"):
    """A pool worker starts task ``task`` (its index in the submitted work)."""

    pool: str
    task: int


class TaskEnd(EventBase, frozen=True, tag="task_end"):
    pool: str
    task: int


class Output(EventBase, frozen=True, tag="output"):
    """One line the scenario printed (``stream`` is ``stderr`` for raw process output)."""

    line: str
    stream: Literal["stdout", "stderr"] = "stdout"


class Metric(EventBase, frozen=True, tag="metric"):
    """A measurement. ``labels`` say which point of a curve it is, e.g.
    ``{"mode": "processes", "workers": "4"}`` for one point of a lab's sweep."""

    name: str
    value: float
    unit: str = ""
    labels: dict[str, str] = {}


class Artifact(EventBase, frozen=True, tag="artifact"):
    """The run saved a file (a picture, a table): ``GET /api/runs/{id}/artifacts/{name}``."""

    name: str
    media_type: str
    size: int
    description: str = ""


class Progress(EventBase, frozen=True, tag="progress"):
    done: int
    total: int
    label: str = ""


class Blocked(msgspec.Struct, frozen=True, kw_only=True):
    """One actor of a ``deadlock`` event: what it waits for, since when, who could end
    the wait (``blocked_by``: the holder of the lock, the joined actor, the holders of
    the semaphore's permits) and what it holds itself (locks, rlocks, semaphore permits)."""

    actor: str
    pid: int
    tid: int
    primitive: Primitive
    obj: str
    since_ns: int
    blocked_by: list[str] = []
    holds: list[str] = []


class Deadlock(EventBase, frozen=True, tag="deadlock"):
    """The runner found actors that can never go on (``runs/waits.py``). ``deadlock``:
    a cycle, each actor of ``cycle`` waiting for what the next one holds (the last for
    the first's); ``stall``: every live actor waits and none of them can end another's
    wait. ``actors``: every actor that can never go on, the cycle first."""

    kind: Literal["deadlock", "stall"]
    cycle: list[Blocked] = []
    actors: list[Blocked] = []
    detail: str = ""


Event = (
    RunLifecycle
    | ActorStart
    | ActorEnd
    | ProcessSpawn
    | ProcessStop
    | ProcessExit
    | SharedMemoryOp
    | Wait
    | Acquired
    | GaveUp
    | Released
    | QueuePut
    | QueueGet
    | TaskStart
    | TaskEnd
    | Output
    | Metric
    | Artifact
    | Progress
    | Deadlock
)

json_encoder = msgspec.json.Encoder()
json_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)
msgpack_encoder = msgspec.msgpack.Encoder()
msgpack_decoder: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(Event)

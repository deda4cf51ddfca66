"""Instrumented ``multiprocessing`` primitives: the real objects underneath, emitting events.

Every process started here joins the run's event stream, whatever its start method: a
forked child inherits the emitter, a spawned or forkserver child is handed an
``EmitterLink`` and connects (``paralab.lab.bootstrap``). The parent reports what only it
can see: that it started a child (``process_spawn``, stamped before ``start()``, so the
gap to the child's own ``actor_start`` is the start-up cost), that it signalled one, and
the exit code it observed (a killed child cannot report its own end).

Objects are bound to the run's start method (``use_start_method``, set from a scenario's
``start_method`` parameter); a ``Process`` may also name its own.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import itertools
import multiprocessing
import multiprocessing.pool
import multiprocessing.process
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast

from paralab.lab import bootstrap, shm
from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    ProcessExit,
    ProcessSpawn,
    ProcessStop,
    QueueGet,
    QueuePut,
    Released,
    StartMethod,
    Wait,
)
from paralab.lab.traced import threads
from paralab.lab.traced.emit import Call, Task, emit, gave_up, name_counter, now_ns, wait_timeout

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_START_METHOD = cast(StartMethod, multiprocessing.get_start_method())
_start_method: StartMethod = DEFAULT_START_METHOD
_queue_name = name_counter("queue")
_pool_name = name_counter("pool")


if bootstrap.RUN_ID_ENV in os.environ:  # every process of a run imports this module
    shm.name_semaphores(bootstrap.current_run_id())


def use_start_method(method: StartMethod) -> None:
    """Start this run's processes (and make its primitives) with ``method``."""
    global _start_method
    _start_method = method


def context(method: StartMethod | None = None) -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(method or _start_method)


def _current_name() -> str:
    return threading.current_thread().name


# --- processes ------------------------------------------------------------------------


class Process(multiprocessing.process.BaseProcess):
    """A real process (``multiprocessing.Process``) that reports its start, end, the
    signals it gets and the joins that wait for it. Subclasses may override ``run``."""

    def __init__(
        self,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
        start_method: StartMethod | None = None,
    ) -> None:
        super().__init__(target=target, name=name, args=args, kwargs=kwargs or {}, daemon=daemon)
        self.start_method: StartMethod = start_method or _start_method
        self._start_method = self.start_method  # what multiprocessing's children read
        self._parent_name = _current_name()
        self._link: bootstrap.EmitterLink | None = None
        self._exit_seen = False

    def _Popen(self, process_obj: Any) -> Any:
        return context(self.start_method).Process._Popen(process_obj)  # type: ignore[attr-defined]

    # parent side

    def start(self) -> None:
        self._link = bootstrap.current_link()
        asked_ns = now_ns()
        super().start()
        _watch_at_exit(self)
        emit(
            ProcessSpawn,
            at_ns=asked_ns,
            child=self.name,
            child_pid=self.pid or 0,
            start_method=self.start_method,
            daemon=self.daemon,
        )

    def join(self, timeout: float | None = None) -> None:
        emit(Wait, primitive="join", obj=self.name, timeout_s=wait_timeout(True, timeout))
        super().join(timeout)
        if super().exitcode is None:
            gave_up("join", self.name)
            return
        emit(Acquired, primitive="join", obj=self.name)
        self._report_exit()

    def terminate(self) -> None:
        self._stop("SIGTERM", "terminate")
        super().terminate()

    def kill(self) -> None:
        self._stop("SIGKILL", "kill")
        super().kill()

    def is_alive(self) -> bool:
        alive = super().is_alive()
        if not alive and self._popen is not None:  # type: ignore[attr-defined]
            self._report_exit()
        return alive

    @property
    def exitcode(self) -> int | None:
        code = super().exitcode
        if code is not None:
            self._report_exit()
        return code

    def _stop(self, sig: str, reason: str) -> None:
        emit(ProcessStop, child=self.name, child_pid=self.pid or 0, signal=sig, reason=reason)

    def _report_exit(self) -> None:
        code = super().exitcode
        if code is not None and not self._exit_seen:
            self._exit_seen = True
            emit(ProcessExit, child=self.name, child_pid=self.pid or 0, exit_code=code)

    # child side

    def _bootstrap(self, parent_sentinel: Any = None) -> int:
        _started.clear()  # a forked child inherits its parent's list: those are not its own
        bootstrap.connect(self._link, self.name)
        emit(
            ActorStart,
            kind="process",
            daemon=self.daemon,
            parent=self._parent_name,
            start_method=self.start_method,
        )
        body = self.run

        def traced_run() -> None:
            try:
                body()
            finally:
                # multiprocessing kills daemon children silently when a process ends:
                # do it first, and say so.
                stop_children()

        self.run = traced_run  # type: ignore[method-assign]
        exit_code = 1
        try:
            exit_code = int(super()._bootstrap(parent_sentinel))  # type: ignore[misc]
        finally:
            emit(ActorEnd, kind="process", exit_code=exit_code)
            bootstrap.flush()
        return exit_code


_started: list[Process] = []
_exit_hook: list[bool] = []


def _watch_at_exit(process: Process) -> None:
    _started.append(process)
    if not _exit_hook:
        # Registered after the emitter's flush at exit, so it runs first (atexit is LIFO).
        atexit.register(stop_children)
        _exit_hook.append(True)


def stop_children() -> None:
    """What multiprocessing does when a process exits, with events: daemon children are
    terminated (they never get to finish), the others are waited for."""
    for child in list(_started):
        if child._popen is None or child._exit_seen:  # type: ignore[attr-defined]
            continue
        if child.daemon and multiprocessing.process.BaseProcess.is_alive(child):
            child._stop("SIGTERM", "parent_exit")
            multiprocessing.process.BaseProcess.terminate(child)
        child.join()
    _started.clear()


def current_process_name() -> str:
    return multiprocessing.current_process().name


# --- synchronisation --------------------------------------------------------------------


class Lock(threads.Lock):
    """``multiprocessing.Lock``: one holder across all processes of the run."""

    shared = True

    def _make(self) -> Any:
        return context().Lock()

    def locked(self) -> bool:
        got: bool = self._lock.acquire(False)
        if got:
            self._lock.release()
        return not got


class RLock(threads.RLock):
    shared = True

    def _make(self) -> Any:
        return context().RLock()

    def _depth_if_mine(self) -> int:
        return self._depth if self._lock._semlock._is_mine() else 0


class Semaphore(threads.Semaphore):
    shared = True

    def _make(self, value: int) -> Any:
        return context().Semaphore(value)

    @property
    def value(self) -> int:
        return int(self._sem.get_value())  # type: ignore[attr-defined]

    def release(self, n: int = 1) -> None:
        emit(Released, primitive="semaphore", obj=self.name, value=self.value + n, shared=True)
        for _ in range(n):  # multiprocessing's release() takes no count
            self._sem.release()


class BoundedSemaphore(Semaphore):
    def _make(self, value: int) -> Any:
        return context().BoundedSemaphore(value)


class Barrier(threads.Barrier):
    shared = True

    def __init__(self, parties: int, name: str | None = None, timeout: float | None = None):
        super().__init__(parties, name, timeout)
        self._barrier = context().Barrier(parties, timeout=timeout)


class Event(threads.Event):
    shared = True

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._event = context().Event()  # type: ignore[assignment]


class Queue(Generic[T]):
    """``multiprocessing.Queue`` reporting every put and get with the queue's size right
    after it (``qsize()``, which counts items not yet taken by any process)."""

    def __init__(self, maxsize: int = 0, name: str | None = None) -> None:
        self.name = name or _queue_name()
        self.maxsize = maxsize
        self._queue = self._make(maxsize)

    def _make(self, maxsize: int) -> Any:
        return context().Queue(maxsize)

    def qsize(self) -> int:
        return int(self._queue.qsize())

    def empty(self) -> bool:
        return bool(self._queue.empty())

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        waits = block and self.maxsize > 0 and self._queue.full()
        if waits:
            emit(
                Wait,
                primitive="queue",
                obj=self.name,
                value=self.qsize(),
                timeout_s=wait_timeout(True, timeout),
                shared=True,
            )
        try:
            self._queue.put(item, block, timeout)
        except Exception:
            if waits:
                gave_up("queue", self.name)
            raise
        if waits:
            emit(Acquired, primitive="queue", obj=self.name, value=self.qsize(), shared=True)
        emit(QueuePut, queue=self.name, item=repr(item), size=self.qsize())

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        emit(
            Wait,
            primitive="queue",
            obj=self.name,
            value=self.qsize(),
            timeout_s=wait_timeout(block, timeout),
            shared=True,
        )
        try:
            item: T = self._queue.get(block, timeout)
        except Exception:
            gave_up("queue", self.name, block)
            raise
        emit(Acquired, primitive="queue", obj=self.name, value=self.qsize(), shared=True)
        emit(QueueGet, queue=self.name, item=repr(item), size=self.qsize())
        return item

    def close(self) -> None:
        self._queue.close()

    def join_thread(self) -> None:
        self._queue.join_thread()


class JoinableQueue(Queue[T]):
    """``multiprocessing.JoinableQueue``: ``join`` waits until every item is done."""

    def _make(self, maxsize: int) -> Any:
        return context().JoinableQueue(maxsize)

    def task_done(self) -> None:
        self._queue.task_done()

    def join(self) -> None:
        emit(Wait, primitive="join", obj=self.name)
        self._queue.join()
        emit(Acquired, primitive="join", obj=self.name)


# --- pools ------------------------------------------------------------------------------


def _worker_started(link: bootstrap.EmitterLink | None, parent: str, method: str) -> None:
    """Pool worker initializer: join the run's stream and say so; report the end when
    multiprocessing finalises the worker."""
    name = current_process_name()
    bootstrap.connect(link, name)
    emit(ActorStart, kind="process", parent=parent, start_method=method)
    multiprocessing.util.Finalize(None, _worker_ended, exitpriority=100)


def _worker_ended() -> None:
    emit(ActorEnd, kind="process", exit_code=0)
    bootstrap.flush()


class Pool:
    """``multiprocessing.Pool``: each item of ``map`` is a task span in the worker that
    ran it."""

    def __init__(self, processes: int | None = None, name: str | None = None) -> None:
        self.name = name or _pool_name()
        method = _start_method
        self._pool = context(method).Pool(
            processes,
            initializer=_worker_started,
            initargs=(bootstrap.current_link(), _current_name(), method),
        )

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], chunksize: int | None = None
    ) -> list[R]:
        return self._pool.map(Task(self.name, fn), enumerate(items), chunksize)

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return self._pool.imap(Task(self.name, fn), enumerate(items))

    def close(self) -> None:
        self._pool.close()

    def terminate(self) -> None:
        self._pool.terminate()

    def join(self) -> None:
        emit(Wait, primitive="join", obj=self.name)
        self._pool.join()
        emit(Acquired, primitive="join", obj=self.name)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.terminate()


class ProcessPoolExecutor(concurrent.futures.ProcessPoolExecutor):
    """``concurrent.futures.ProcessPoolExecutor`` whose work items are task spans in the
    worker process that ran them."""

    def __init__(self, max_workers: int | None = None, name: str | None = None) -> None:
        self.name = name or _pool_name()
        method = _start_method
        super().__init__(
            max_workers,
            mp_context=context(method),
            initializer=_worker_started,
            initargs=(bootstrap.current_link(), _current_name(), method),
        )
        self._task_numbers = itertools.count()  # next() on a count is atomic under the GIL

    def submit(
        self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[R]:
        numbered = (next(self._task_numbers), None)
        return super().submit(Task(self.name, Call(fn, args, kwargs)), numbered)

"""Instrumented threading primitives: the real stdlib objects underneath, emitting events.

Event times are taken so that the timeline never shows something impossible: ``acquired``
is stamped after the real acquire and ``released`` before the real release, so two hold
spans of one lock can never overlap on the timeline.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from paralab.lab.events import (
    Acquired,
    ActorEnd,
    ActorStart,
    GaveUp,
    Primitive,
    QueueGet,
    QueuePut,
    Released,
    Wait,
)
from paralab.lab.traced.emit import Call, Task, emit, gave_up, name_counter, wait_timeout

T = TypeVar("T")
R = TypeVar("R")

_lock_name = name_counter("lock")
_sem_name = name_counter("semaphore")
_barrier_name = name_counter("barrier")
_queue_name = name_counter("queue")
_event_name = name_counter("event")
_pool_name = name_counter("threadpool")


class Thread(threading.Thread):
    """A real thread that reports its start, end and the joins that wait for it."""

    def __init__(
        self,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        super().__init__(target=target, name=name, args=args, kwargs=kwargs, daemon=daemon)
        self._parent_name = threading.current_thread().name

    def start(self) -> None:
        # Wrap run() (not override it) so Thread subclasses that define run() are traced too.
        body = self.run

        def traced_run() -> None:
            emit(ActorStart, kind="thread", daemon=self.daemon, parent=self._parent_name)
            exit_code = 1
            try:
                body()
                exit_code = 0
            finally:
                emit(ActorEnd, kind="thread", exit_code=exit_code)

        self.run = traced_run  # type: ignore[method-assign]
        super().start()

    def join(self, timeout: float | None = None) -> None:
        emit(Wait, primitive="join", obj=self.name, timeout_s=wait_timeout(True, timeout))
        super().join(timeout)
        if self.is_alive():
            gave_up("join", self.name)
        else:
            emit(Acquired, primitive="join", obj=self.name)


class Lock:
    """``threading.Lock`` that reports wait, acquired and released."""

    primitive: Primitive = "lock"
    shared = False
    """True for the multiprocessing ones: one object across the run's processes."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or _lock_name()
        self._lock = self._make()

    def _make(self) -> Any:
        return threading.Lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        emit(
            Wait,
            primitive=self.primitive,
            obj=self.name,
            timeout_s=wait_timeout(blocking, timeout),
            shared=self.shared,
        )
        got: bool = self._lock.acquire(blocking, timeout)
        if got:
            emit(Acquired, primitive=self.primitive, obj=self.name, shared=self.shared)
        else:
            gave_up(self.primitive, self.name, blocking)
        return got

    def release(self) -> None:
        emit(Released, primitive=self.primitive, obj=self.name, shared=self.shared)
        self._lock.release()

    def locked(self) -> bool:
        return bool(self._lock.locked())

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class RLock(Lock):
    """``threading.RLock``; events carry the recursion depth in ``value``."""

    primitive: Primitive = "rlock"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._depth = 0

    def _make(self) -> Any:
        return threading.RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        emit(
            Wait,
            primitive="rlock",
            obj=self.name,
            value=self._depth_if_mine(),
            timeout_s=wait_timeout(blocking, timeout),
            shared=self.shared,
        )
        got: bool = self._lock.acquire(blocking, timeout)
        if got:
            self._depth += 1
            emit(Acquired, primitive="rlock", obj=self.name, value=self._depth, shared=self.shared)
        else:
            gave_up("rlock", self.name, blocking)
        return got

    def release(self) -> None:
        self._depth -= 1
        emit(Released, primitive="rlock", obj=self.name, value=self._depth, shared=self.shared)
        self._lock.release()

    def _depth_if_mine(self) -> int:
        return self._depth if self._lock._is_owned() else 0

    def locked(self) -> bool:
        return self._depth > 0


class Semaphore:
    """``threading.Semaphore``; events carry the counter value in ``value``."""

    shared = False

    def __init__(self, value: int = 1, name: str | None = None) -> None:
        self.name = name or _sem_name()
        self._sem = self._make(value)

    def _make(self, value: int) -> threading.Semaphore:
        return threading.Semaphore(value)

    @property
    def value(self) -> int:
        return int(self._sem._value)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        emit(
            Wait,
            primitive="semaphore",
            obj=self.name,
            value=self.value,
            timeout_s=wait_timeout(blocking, timeout),
            shared=self.shared,
        )
        got = self._sem.acquire(blocking, timeout)
        if got:
            emit(
                Acquired, primitive="semaphore", obj=self.name, value=self.value, shared=self.shared
            )
        else:
            gave_up("semaphore", self.name, blocking)
        return got

    def release(self, n: int = 1) -> None:
        emit(
            Released, primitive="semaphore", obj=self.name, value=self.value + n, shared=self.shared
        )
        self._sem.release(n)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    def _make(self, value: int) -> threading.Semaphore:
        return threading.BoundedSemaphore(value)


class Barrier:
    """``threading.Barrier``; ``wait`` carries arrivals so far, ``acquired`` the pass."""

    shared = False

    def __init__(self, parties: int, name: str | None = None, timeout: float | None = None):
        self.name = name or _barrier_name()
        self._barrier = threading.Barrier(parties, timeout=timeout)
        self._timeout = timeout

    @property
    def parties(self) -> int:
        return self._barrier.parties

    def wait(self, timeout: float | None = None) -> int:
        emit(
            Wait,
            primitive="barrier",
            obj=self.name,
            value=self._barrier.n_waiting + 1,
            timeout_s=wait_timeout(True, self._timeout if timeout is None else timeout),
            shared=self.shared,
        )
        try:
            index = self._barrier.wait(timeout)
        except threading.BrokenBarrierError:
            emit(GaveUp, primitive="barrier", obj=self.name, reason="broken")
            raise
        emit(Acquired, primitive="barrier", obj=self.name, value=index, shared=self.shared)
        return index


class Event:
    """``threading.Event``: ``set`` is reported as ``released``, ``wait`` as wait/acquired."""

    shared = False

    def __init__(self, name: str | None = None) -> None:
        self.name = name or _event_name()
        self._event = threading.Event()

    def set(self) -> None:
        emit(Released, primitive="event", obj=self.name, shared=self.shared)
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def clear(self) -> None:
        self._event.clear()

    def wait(self, timeout: float | None = None) -> bool:
        emit(
            Wait,
            primitive="event",
            obj=self.name,
            timeout_s=wait_timeout(True, timeout),
            shared=self.shared,
        )
        flag = self._event.wait(timeout)
        if flag:
            emit(Acquired, primitive="event", obj=self.name, shared=self.shared)
        else:
            gave_up("event", self.name)
        return flag


class Queue(queue.Queue[T], Generic[T]):
    """``queue.Queue`` reporting every put and get with the size right after it.

    The events are emitted from ``_put``/``_get``, which run under the queue's own
    mutex, so the event order is the real order of puts and gets.
    """

    def __init__(self, maxsize: int = 0, name: str | None = None) -> None:
        super().__init__(maxsize)
        self.name = name or _queue_name()

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        waits = block and self.maxsize > 0 and self.full()
        if waits:
            emit(
                Wait,
                primitive="queue",
                obj=self.name,
                value=self.qsize(),
                timeout_s=wait_timeout(True, timeout),
            )
        try:
            super().put(item, block, timeout)
        except queue.Full:
            if waits:
                gave_up("queue", self.name)
            raise
        if waits:
            emit(Acquired, primitive="queue", obj=self.name, value=self.qsize())

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        waits = block and self.empty()
        if waits:
            emit(
                Wait,
                primitive="queue",
                obj=self.name,
                value=0,
                timeout_s=wait_timeout(True, timeout),
            )
        try:
            item = super().get(block, timeout)
        except queue.Empty:
            if waits:
                gave_up("queue", self.name)
            raise
        if waits:
            emit(Acquired, primitive="queue", obj=self.name, value=self.qsize())
        return item

    def _put(self, item: T) -> None:
        super()._put(item)
        emit(QueuePut, queue=self.name, item=repr(item), size=len(self.queue))

    def _get(self) -> T:
        item: T = super()._get()
        emit(QueueGet, queue=self.name, item=repr(item), size=len(self.queue))
        return item


class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """``concurrent.futures.ThreadPoolExecutor`` whose work items are task spans in the
    thread that ran them."""

    def __init__(self, max_workers: int | None = None, name: str | None = None) -> None:
        self.name = name or _pool_name()
        super().__init__(max_workers, thread_name_prefix=self.name)
        self._task_numbers = itertools.count()  # next() on a count is atomic under the GIL

    def submit(
        self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[R]:
        numbered = (next(self._task_numbers), None)
        return super().submit(Task(self.name, Call(fn, args, kwargs)), numbered)

"""Write events from a scenario process to the server.

Each frame is a 4-byte big-endian length followed by a msgpack-encoded event. Frames are
gathered in a small buffer and written when it would pass PIPE_BUF (4096 bytes) or every
``FLUSH_INTERVAL_S``: one write per many events instead of one per event, and every write
stays atomic, so writes from several threads or forked processes sharing the pipe never
interleave. Call ``flush()`` before the process ends (the child runner does).
"""

from __future__ import annotations

import os
import struct
import threading
import time
from typing import Any

from paralab.lab.events import Event, msgpack_encoder

HEADER = struct.Struct(">I")
MAX_WRITE = 4000
"""Below PIPE_BUF (4096): a write this size is atomic, so writers never interleave."""
MAX_BODY = MAX_WRITE - HEADER.size
MAX_LINE = 1500
FLUSH_INTERVAL_S = 0.01


class Emitter:
    def __init__(self, fd: int, origin_ns: int) -> None:
        self.fd = fd
        self.origin_ns = origin_ns
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """A fresh buffer and lock: a forked child must not inherit a half-written buffer
        or a lock another thread of the parent held at the fork."""
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._flusher: threading.Thread | None = None

    def now(self) -> int:
        return time.monotonic_ns() - self.origin_ns

    def emit(
        self,
        event_type: type[Event],
        /,
        actor: str | None = None,
        at_ns: int | None = None,
        **fields: Any,
    ) -> None:
        """Stamp time (default: now), pid, native thread id and actor (default: the
        current thread)."""
        event = event_type(
            t_ns=self.now() if at_ns is None else at_ns,
            pid=os.getpid(),
            tid=threading.get_native_id(),
            actor=actor if actor is not None else threading.current_thread().name,
            **fields,
        )
        self.write(event)

    def write(self, event: Event) -> None:
        body = msgpack_encoder.encode(event)
        if len(body) > MAX_BODY:
            body = msgpack_encoder.encode(_shortened(event))
        frame = HEADER.pack(len(body)) + body
        with self._lock:
            if len(self._buffer) + len(frame) > MAX_WRITE:
                self._write_buffer()
            self._buffer += frame
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_periodically, daemon=True)
                self._flusher.start()

    def flush(self, timeout_s: float = -1) -> None:
        """Write what is buffered. A signal handler passes a timeout: the thread it
        interrupted may hold the lock, and waiting for it forever would deadlock."""
        if self._lock.acquire(timeout=timeout_s):
            try:
                self._write_buffer()
            finally:
                self._lock.release()

    def _write_buffer(self) -> None:
        view = memoryview(self._buffer)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        view.release()
        self._buffer.clear()

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            self.flush()


def _shortened(event: Event) -> Event:
    """Cut long text fields so a frame stays below PIPE_BUF (and its write atomic)."""
    import msgspec

    # Keep both ends: a traceback's last line is the exception itself.
    head, tail = MAX_LINE // 3, MAX_LINE - MAX_LINE // 3
    changes = {
        name: f"{value[:head]} …[{len(value) - MAX_LINE:,} characters cut]… {value[-tail:]}"
        for name in ("line", "detail", "item", "obj", "actor", "label", "name")
        if isinstance(value := getattr(event, name, None), str) and len(value) > MAX_LINE
    }
    return msgspec.structs.replace(event, **changes)


class FrameReader:
    """Split a byte stream of frames back into events (the server side)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        start = 0
        end = len(self._buffer)
        while end - start >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer, start)
            if end - start - HEADER.size < length:
                break
            frames.append(bytes(self._buffer[start + HEADER.size : start + HEADER.size + length]))
            start += HEADER.size + length
        del self._buffer[:start]
        return frames

"""Write events from a scenario process to the server: one atomic pipe write per event.

Each frame is a 4-byte big-endian length followed by a msgpack-encoded event. A frame is
kept under PIPE_BUF (4096 bytes), so writes from several threads or forked processes
sharing the pipe never interleave, and nothing sits in a buffer to be lost on a crash.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from typing import Any

from paralab.lab.events import Event, Output, msgpack_encoder

HEADER = struct.Struct(">I")
MAX_FRAME = 4000
MAX_LINE = 1500


class Emitter:
    def __init__(self, fd: int, origin_ns: int) -> None:
        self.fd = fd
        self.origin_ns = origin_ns

    def now(self) -> int:
        return time.monotonic_ns() - self.origin_ns

    def emit(self, event_type: type[Event], /, actor: str | None = None, **fields: Any) -> None:
        """Stamp time, pid, native thread id and actor (default: the current thread)."""
        event = event_type(
            t_ns=self.now(),
            pid=os.getpid(),
            tid=threading.get_native_id(),
            actor=actor if actor is not None else threading.current_thread().name,
            **fields,
        )
        self.write(event)

    def write(self, event: Event) -> None:
        body = msgpack_encoder.encode(event)
        if len(body) > MAX_FRAME and isinstance(event, Output):
            body = msgpack_encoder.encode(_shortened(event))
        os.write(self.fd, HEADER.pack(len(body)) + body)


def _shortened(event: Output) -> Output:
    import msgspec

    return msgspec.structs.replace(event, line=event.line[:MAX_LINE] + " …[truncated]")


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

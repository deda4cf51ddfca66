"""``/ws/runs/{run_id}``: a run's events, replayed from the store and then live.

Server frames (JSON text):
  {"type": "events", "events": [...]}       several events per frame, seq continuous
  {"type": "end", "status": "...", "last_seq": N}   then close 1000
  {"type": "end", "status": "...", "last_seq": N, "going_away": true, "next_seq": K,
   "detail": "..."}                         the server is stopping: then close 1001;
                                            reconnect later with from_seq=K
  {"type": "pong"}                          answer to {"type": "ping"}
  {"type": "error", "error": "bad_message", "detail": "..."}  the connection stays open
Close codes: 1000 run finished and everything sent; 1001 server going away; 1007 invalid
UTF-8; 1008 too many messages, or a client that took nothing for ``ws_send_timeout_s``;
1009 a message over ``ws_max_message_bytes``; 4404 unknown run; 4400 bad from_seq.

Every subscriber gets every event once and in order, however slowly it reads: the
server waits for a slow reader (the socket's buffers bound what is in flight) and gives
up only on one that takes nothing at all for ``ws_send_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery

from paralab.api.shutdown import Shutdown
from paralab.errors import NotFound
from paralab.lab.events import MAX_SEQ
from paralab.runs.service import RunService
from paralab.settings import Settings

CLOSE_UNKNOWN_RUN = 4404
CLOSE_BAD_REQUEST = 4400
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
GOODBYE_TIMEOUT_S = 5.0
Socket = WebSocket[object, object, State]


class ClientMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The only message a client sends today: ``{"type": "ping"}``."""

    type: Literal["ping"]


class EndFrame(msgspec.Struct, frozen=True, tag_field="type", tag="end", omit_defaults=True):
    status: str
    last_seq: int
    going_away: bool = False
    next_seq: int | None = None
    detail: str = ""


@dataclass
class Sent:
    """How far this connection's stream got: the next seq it has not sent, and whether
    its end frame has gone (nothing may be sent after it)."""

    next_seq: int
    ending: bool = False


class ErrorFrame(msgspec.Struct, frozen=True, tag_field="type", tag="error"):
    error: Literal["bad_message"]
    detail: str


_client_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()
PONG = b'{"type":"pong"}'


def events_frame(bodies: list[bytes]) -> bytes:
    """Stored event JSON is spliced in as-is: no decode/encode per event."""
    return b'{"type":"events","events":[' + b",".join(bodies) + b"]}"


@websocket("/ws/runs/{run_id:str}")
async def run_events_socket(
    socket: Socket,
    run_id: FromPath[str],
    runs: NamedDependency[RunService],
    shutdown: NamedDependency[Shutdown],
    from_seq: FromQuery[str] = "1",
) -> None:
    settings: Settings = socket.app.state.settings
    await socket.accept()
    try:
        runs.get(run_id)
    except NotFound:
        await socket.close(code=CLOSE_UNKNOWN_RUN, reason="unknown run")
        return
    first = _parse_from_seq(from_seq)
    if first is None:
        await socket.close(code=CLOSE_BAD_REQUEST, reason=f"from_seq must be 1..{MAX_SEQ}")
        return
    sent = Sent(first)
    outbox = Outbox(socket)
    # Whichever ends first, the stream, the client or the server, ends the others: a
    # client that goes away during a quiet stretch of a run is noticed at once.
    with shutdown.tracking():
        sender = asyncio.create_task(
            _send_events(outbox, runs, run_id, sent, shutdown, settings.server.ws_send_timeout_s)
        )
        listener = asyncio.create_task(
            _answer_client(socket, outbox, RateLimit(settings.server.ws_messages_per_s))
        )
        stopping = asyncio.create_task(shutdown.started.wait())
        tasks = {sender, listener, stopping}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if listener in done and (refusal := listener.result()) is not None:
                await _cancel(sender)
                await outbox.close(*refusal)
            elif stopping in done and not sent.ending:
                await _cancel(sender, listener)
                await _end(outbox, runs, run_id, sent, going_away=True, timeout_s=GOODBYE_TIMEOUT_S)
        finally:
            await _cancel(*tasks)


class Outbox:
    """Every frame this connection sends, one at a time, and nothing after the close
    (the sender, the listener's pongs and the server's goodbye all write here)."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.closed = False
        self._lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self._lock:
            if self.closed:
                raise WebSocketDisconnect(detail="the connection is closing")
            await self.socket.send_text(text)

    async def close(self, code: int, reason: str = "", timeout_s: float = 1.0) -> None:
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError):
            async with asyncio.timeout(timeout_s), self._lock:
                if not self.closed:
                    self.closed = True
                    await self.socket.close(code, reason)


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
            await task


def _parse_from_seq(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_SEQ else None


async def _send_events(
    outbox: Outbox,
    runs: RunService,
    run_id: str,
    sent: Sent,
    shutdown: Shutdown,
    send_timeout_s: float,
) -> None:
    async def send(text: str) -> None:
        # A reader may be as slow as it likes; one that takes nothing at all for this
        # long is taken for gone (a dead peer whose TCP connection never closed).
        # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation that
        # arrives as the send completes, and the stream would outlive its connection.
        try:
            async with asyncio.timeout(send_timeout_s):
                await outbox.send(text)
        except TimeoutError:
            await outbox.close(CLOSE_POLICY, "client took no data")
            raise WebSocketDisconnect(detail="client took no data") from None

    async with contextlib.aclosing(runs.stream(run_id, sent.next_seq)) as stream:
        async for batch in stream:
            await send(events_frame([body for _, body in batch]).decode())
            sent.next_seq = batch[-1][0] + 1
    # A run that ended because the server is stopping still says the server is going away.
    await _end(outbox, runs, run_id, sent, going_away=shutdown.stopping, timeout_s=send_timeout_s)


async def _end(
    outbox: Outbox, runs: RunService, run_id: str, sent: Sent, going_away: bool, timeout_s: float
) -> None:
    """The end frame, then the close: 1000 when the run is over and all of it was sent,
    1001 (with where to resume) when the server is going away."""
    sent.ending = True
    run = runs.get(run_id)
    frame = EndFrame(status=run.status, last_seq=run.last_seq)
    if going_away:
        frame = EndFrame(
            status=run.status,
            last_seq=run.last_seq,
            going_away=True,
            next_seq=sent.next_seq,
            detail="The server is shutting down; reconnect later with "
            f"from_seq={sent.next_seq} for the rest.",
        )
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError):
        async with asyncio.timeout(timeout_s):
            await outbox.send(_encoder.encode(frame).decode())
    if going_away:
        await outbox.close(CLOSE_GOING_AWAY, "server shutting down")
    else:
        await outbox.close(1000)


class RateLimit:
    """A token bucket: ``per_s`` messages a second on average, bursts of twice that."""

    def __init__(self, per_s: float) -> None:
        self.per_s = per_s
        self.capacity = 2 * per_s
        self.tokens = self.capacity
        self.last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.per_s)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def _answer_client(
    socket: Socket, outbox: Outbox, limit: RateLimit
) -> tuple[int, str] | None:
    """Pongs and error frames until the client goes (None), or the close a client that
    sends too fast deserves."""
    while True:
        try:
            text = await socket.receive_text()
        except (WebSocketDisconnect, OSError):
            return None
        if not limit.allow():
            return CLOSE_POLICY, "too many messages"
        try:
            _client_decoder.decode(text)
        except msgspec.DecodeError as exc:
            frame = ErrorFrame(error="bad_message", detail=f'{exc}; send {{"type": "ping"}}')
            await outbox.send(_encoder.encode(frame).decode())
            continue
        await outbox.send(PONG.decode())

"""``/ws/runs/{run_id}``: a run's events, replayed from the store and then live.

Server frames (JSON text):
  {"type": "events", "events": [...]}       several events per frame, seq continuous
  {"type": "end", "status": "...", "last_seq": N}   then close 1000
  {"type": "pong"}                          answer to {"type": "ping"}
  {"type": "error", "error": "bad_message", "detail": "..."}  the connection stays open
Close codes: 1000 run finished and everything sent; 4404 unknown run; 4400 bad from_seq.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

import msgspec
from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery

from paralab.errors import NotFound
from paralab.lab.events import MAX_SEQ
from paralab.runs.service import RunService

CLOSE_UNKNOWN_RUN = 4404
CLOSE_BAD_REQUEST = 4400
Socket = WebSocket[object, object, State]


class ClientMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The only message a client sends today: ``{"type": "ping"}``."""

    type: Literal["ping"]


class EndFrame(msgspec.Struct, frozen=True, tag_field="type", tag="end"):
    status: str
    last_seq: int


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
    from_seq: FromQuery[str] = "1",
) -> None:
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
    # Whichever ends first, the stream or the client, ends the other: a client that goes
    # away during a quiet stretch of a run is noticed at once.
    sender = asyncio.create_task(_send_events(socket, runs, run_id, first))
    listener = asyncio.create_task(_answer_client(socket))
    try:
        await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, listener):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                await task


def _parse_from_seq(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_SEQ else None


async def _send_events(socket: Socket, runs: RunService, run_id: str, from_seq: int) -> None:
    async with contextlib.aclosing(runs.stream(run_id, from_seq)) as stream:
        async for batch in stream:
            await socket.send_text(events_frame([body for _, body in batch]).decode())
    run = runs.get(run_id)
    end = EndFrame(status=run.status, last_seq=run.last_seq)
    await socket.send_text(_encoder.encode(end).decode())
    await socket.close(code=1000)


async def _answer_client(socket: Socket) -> None:
    while True:
        try:
            text = await socket.receive_text()
        except (WebSocketDisconnect, OSError):
            return
        try:
            _client_decoder.decode(text)
        except msgspec.DecodeError as exc:
            frame = ErrorFrame(error="bad_message", detail=f'{exc}; send {{"type": "ping"}}')
            await socket.send_text(_encoder.encode(frame).decode())
            continue
        await socket.send_text(PONG.decode())

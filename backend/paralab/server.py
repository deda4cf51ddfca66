"""Serving the app with uvicorn, its limits set on purpose, and an honest shutdown.

- Connections: at most ``max_connections`` at once (503 beyond); a client has
  ``header_timeout_s`` to send a request's headers (uvicorn itself waits forever for a
  client that trickles them a byte at a time); idle keep-alive closes after
  ``keep_alive_timeout_s``.
- WebSockets: client messages of at most ``ws_max_message_bytes``; keepalive pings go
  out but never time out, and the closing handshake waits up to ``ws_send_timeout_s``
  (a slow reader's pong, or its close, waits behind the data it has not read yet: the
  stream itself notices a reader that takes nothing at all); invalid UTF-8 closes the
  connection 1007 and is logged as the client's fault, not as a server error.
- SIGTERM: stop accepting, cancel runs (each records why), end every stream with a
  going-away frame and close 1001, let requests in flight finish within
  ``shutdown_grace_s``, stop the services (the inference pool; the runner has swept
  each run's shared memory) and exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import socket
from typing import Any

import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from paralab.app import create_app
from paralab.settings import Settings

log = logging.getLogger("paralab.server")


def serve(settings: Settings) -> int:
    """Serve until SIGTERM or Ctrl-C; 0 once everything has stopped cleanly."""
    app = create_app(settings)
    config = uvicorn_config(app, settings)
    _raise_open_file_limit()
    logging.getLogger("uvicorn.error").addFilter(ClientUTF8Errors())
    # uvicorn re-raises the signal it stopped for once it has shut down; with this
    # handler in place that is a no-op, and a clean SIGTERM exits 0.
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        GracefulServer(config, app, settings.server.shutdown_grace_s).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def uvicorn_config(app: Litestar, settings: Settings) -> uvicorn.Config:
    server = settings.server
    HeaderTimeoutProtocol.header_timeout_s = server.header_timeout_s
    PatientWebSocketProtocol.close_timeout_s = server.ws_send_timeout_s
    return uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        log_level="info",
        http=HeaderTimeoutProtocol,
        ws=PatientWebSocketProtocol,
        limit_concurrency=server.max_connections,
        timeout_keep_alive=server.keep_alive_timeout_s,
        timeout_graceful_shutdown=max(1, round(server.shutdown_grace_s)),
        ws_max_size=server.ws_max_message_bytes,
        ws_ping_interval=server.ws_ping_interval_s,
        ws_ping_timeout=None,
    )


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, plus a deadline for each request's headers, counted from
    the connection (or the request's first byte) and not reset by each byte that trickles in."""

    header_timeout_s = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        # The next request on a kept-alive connection: its first byte starts the clock
        # (an idle kept-alive connection is uvicorn's keep-alive time-out's business).
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class PatientWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, waiting as long as a slow reader may take for the
    client's answer to our close frame. uvicorn waits 10 s, then closes the socket: a
    reader still busy with the megabytes in its buffers then answers into a closed
    socket, gets a reset, and loses the end of the stream it had not read yet."""

    close_timeout_s = 120.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = self.close_timeout_s


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Litestar, grace_s: float) -> None:
        super().__init__(config)
        self.paralab_app = app
        self.grace_s = grace_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:  # stop accepting before anything else
            server.close()
        try:
            await self.paralab_app.state.services.go_away(self.grace_s)
        except Exception:
            log.exception("saying goodbye to runs and streams failed; shutting down anyway")
        await super().shutdown(sockets)


class ClientUTF8Errors(logging.Filter):
    """uvicorn logs a client's invalid UTF-8 text frame as an ERROR with a traceback, and
    closes the connection 1007 (which is right): log it as what it is, one INFO line."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == self.MESSAGE:
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "WebSocket closed 1007: the client sent invalid UTF-8", ()
            record.exc_info = record.exc_text = None
        return True


def _stopped(signum: int, frame: Any) -> None:
    """The default action for a SIGTERM that uvicorn re-raises after shutting down."""


def _raise_open_file_limit() -> None:
    """Every connection is a file descriptor: allow as many as the hard limit lets us."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))

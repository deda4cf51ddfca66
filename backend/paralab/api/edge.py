"""The app's edge: what every HTTP request and WebSocket handshake passes before routing.

- a request id (``X-Request-ID``: the client's if it is a sane token, else a new one),
  kept in ``scope["state"]`` for the error handlers and sent back on every response;
- paths with control characters (``%00``) refused (400);
- a ``Host`` allow-list (400 otherwise: a DNS-rebinding page cannot talk to us);
- cross-site protection: a WebSocket handshake or a state-changing request that carries
  a foreign ``Origin`` (or comes ``Sec-Fetch-Site: cross-site``) is refused (403); such
  requests must also have a documented content type, never one a plain HTML form can
  send cross-site without asking (415);
- ``HEAD`` answered wherever ``GET`` is, without the body;
- security headers (a Content-Security-Policy allowing only our own scripts and styles,
  ``nosniff``, no framing, no referrer) on every HTTP response.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from paralab.settings import ServerSettings

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded"})
"""What a cross-site ``<form>`` (or a "simple" fetch) sends without a CORS preflight."""
JSON_ONLY = frozenset({("POST", "/api/runs")})
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def request_id_of(scope: Mapping[str, Any]) -> str:
    """The id the edge gave this request ("" outside the app, e.g. in unit tests)."""
    return str(scope.get("state", {}).get("request_id", ""))


@dataclass(frozen=True)
class Refusal:
    status_code: int
    error: str
    detail: str


class Edge:
    def __init__(self, settings: ServerSettings) -> None:
        names = (*LOOPBACK_HOSTS, settings.host, *settings.allowed_hosts)
        self.hosts = frozenset(name.lower().strip("[]") for name in names)
        self.origins = frozenset(origin.rstrip("/").lower() for origin in settings.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        headers = _headers(scope)
        request_id = headers.get("x-request-id", "")
        if not REQUEST_ID.fullmatch(request_id):
            request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        refusal = self.refusal(scope, headers)
        if scope["type"] == "websocket":
            if refusal:  # before accept: the handshake is answered 403
                await send({"type": "websocket.close", "code": 1008, "reason": refusal.detail})
                return
            await app(scope, receive, send)
            return
        send = _with_headers(send, _response_headers(headers.get("host", ""), request_id))
        if refusal:
            await _send_refusal(send, refusal, request_id)
            return
        if scope["method"] == "HEAD":
            scope, send = {**scope, "method": "GET"}, _without_body(send)
        await app(scope, receive, send)

    def refusal(self, scope: Scope, headers: Mapping[str, str]) -> Refusal | None:
        if CONTROL_CHARACTERS.search(scope.get("path", "")):
            return Refusal(400, "bad_path", "The path contains control characters.")
        host = headers.get("host", "")
        if not HOST_HEADER.fullmatch(host) or _host_name(host) not in self.hosts:
            return Refusal(
                400,
                "bad_host",
                f"This server does not answer to the host {host[:100]!r}; "
                "add it to PARALAB_ALLOWED_HOSTS to allow it.",
            )
        websocket = scope["type"] == "websocket"
        if not websocket and scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and not self.same_or_allowed(origin, host):
            return Refusal(
                403,
                "cross_origin",
                f"Requests from the origin {origin[:100]!r} are not allowed; "
                "add it to PARALAB_ALLOWED_ORIGINS to allow it.",
            )
        if origin is None and headers.get("sec-fetch-site") == "cross-site":
            return Refusal(403, "cross_origin", "Cross-site requests are not allowed.")
        if websocket:
            return None
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type in FORM_CONTENT_TYPES or (
            (scope["method"], scope["path"]) in JSON_ONLY and media_type != "application/json"
        ):
            return Refusal(
                415,
                "unsupported_media_type",
                f"Content type {media_type or 'none'!r} is not accepted here: send "
                + (
                    "application/json."
                    if (scope["method"], scope["path"]) in JSON_ONLY
                    else "the content type the API documents (see /schema)."
                ),
            )
        return None

    def same_or_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc == host.lower()


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the first of repeated ones)."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _host_name(host: str) -> str:
    """``[::1]:8000`` -> ``::1``; ``localhost:8000`` -> ``localhost``."""
    if host.startswith("["):
        return host[1 : host.index("]")].lower()
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


def content_security_policy(host: str) -> str:
    # WebSockets back to this host: older browsers do not count ws: as 'self'.
    sockets = f" ws://{host} wss://{host}" if HOST_HEADER.fullmatch(host) else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; font-src 'self'; "
        f"connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _response_headers(host: str, request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(host).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"x-request-id", request_id.encode()),
    ]


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", ())}
            added = [(name, value) for name, value in extra if name not in present]
            message = {**message, "headers": [*message.get("headers", ()), *added]}
        await send(message)

    return sending


def _without_body(send: Send) -> Send:
    """HEAD: the GET answer's status and headers (Content-Length included), no body."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return sending


async def _send_refusal(send: Send, refusal: Refusal, request_id: str) -> None:
    body = msgspec.json.encode(
        {
            "status_code": refusal.status_code,
            "error": refusal.error,
            "detail": refusal.detail,
            "request_id": request_id,
        }
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})

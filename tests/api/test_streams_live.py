"""A real server's WebSocket streams: every reader, however slow, gets every event once
and in order, then the end frame and close 1000; what clients may send is bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.live_server import LiveServer, live_server

EVENTS_PER_ACQUISITION = 3
STORM = {"threads": 8, "acquisitions": 20_000}  # 480,000 events and a few more


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Pings every second: a reader that pauses for many ping intervals must not be
    # dropped for pongs that wait behind the data it has not read yet.
    with live_server(
        tmp_path_factory.mktemp("streams"),
        ws_ping_interval_s="1",
        ws_messages_per_s="5",
        max_concurrent_runs="4",
    ) as live:
        yield live


def connect(server: LiveServer, path: str, **options: Any) -> Any:
    # No client pings (a client that does not read cannot see the pongs either), and a
    # small client queue: the server really has to wait for this reader.
    return websockets.connect(
        f"{server.ws_url}{path}", ping_interval=None, max_size=None, max_queue=2, **options
    )


class Reader:
    """Reads a run's stream at some pace; records seqs, the end frame and the close."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seqs: list[int] = []
        self.end: dict[str, Any] | None = None
        self.close_code: int | None = None
        self.frames = 0

    async def pause_after_frame(self) -> None:
        """The reader's pace: nothing by default."""

    async def read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                frame = json.loads(message)
                if frame["type"] == "events":
                    self.seqs.extend(event["seq"] for event in frame["events"])
                    self.frames += 1
                    await self.pause_after_frame()
                elif frame["type"] == "end":
                    self.end = frame
        except websockets.ConnectionClosed:
            pass
        self.close_code = ws.close_code


class PausesOnceNearTheEnd(Reader):
    async def pause_after_frame(self) -> None:
        if len(self.seqs) >= 300_000 and not getattr(self, "paused", False):
            self.paused = True
            await asyncio.sleep(25)  # the run ends meanwhile; 25 pings go unanswered


class SlowFromTheStart(Reader):
    async def pause_after_frame(self) -> None:
        await asyncio.sleep(0.02)


class PausesRepeatedly(Reader):
    async def pause_after_frame(self) -> None:
        if self.frames % 40 == 0:
            await asyncio.sleep(2)


async def read_after_the_run_ended(
    server: LiveServer, run_id: str, reader: Reader, client: httpx.AsyncClient
) -> None:
    async with connect(server, f"/ws/runs/{run_id}") as ws:
        while (await client.get(f"/api/runs/{run_id}")).json()["status"] in ("queued", "running"):
            await asyncio.sleep(0.5)
        await reader.read(ws)


async def follow(server: LiveServer, run_id: str, reader: Reader) -> None:
    async with connect(server, f"/ws/runs/{run_id}") as ws:
        await reader.read(ws)


def test_every_reader_gets_every_event_once_in_order_then_end_and_close_1000(
    server: LiveServer,
) -> None:
    async def scenario() -> tuple[dict[str, Any], list[Reader]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            created = await client.post("/api/runs", json={"scenario_id": "C1.1", "params": STORM})
            run_id = created.json()["id"]
            readers = [
                PausesOnceNearTheEnd("pauses 25 s near the end"),
                SlowFromTheStart("slow from the start"),
                PausesRepeatedly("pauses repeatedly"),
                Reader("reads only after the run ended"),
            ]
            async with asyncio.timeout(240):
                await asyncio.gather(
                    *(follow(server, run_id, reader) for reader in readers[:3]),
                    read_after_the_run_ended(server, run_id, readers[3], client),
                )
            run = (await client.get(f"/api/runs/{run_id}")).json()
        return run, readers

    run, readers = asyncio.run(scenario())
    assert run["status"] == "succeeded"
    assert run["last_seq"] > STORM["threads"] * STORM["acquisitions"] * EVENTS_PER_ACQUISITION
    for reader in readers:
        assert reader.seqs == list(range(1, run["last_seq"] + 1)), reader.name
        assert reader.end == {"type": "end", "status": "succeeded", "last_seq": run["last_seq"]}
        assert reader.close_code == 1000, reader.name
    assert "keepalive ping timeout" not in server.log_text()


def finished_run(server: LiveServer) -> str:
    created = httpx.post(f"{server.url}/api/runs", json={"scenario_id": "T1.1"}).json()
    while httpx.get(f"{server.url}/api/runs/{created['id']}").json()["status"] == "queued":
        time.sleep(0.05)
    return str(created["id"])


async def close_code_after(server: LiveServer, run_id: str, *messages: str | bytes) -> int | None:
    async with connect(server, f"/ws/runs/{run_id}") as ws:
        for message in messages:
            try:
                await ws.send(message)
            except websockets.ConnectionClosed:
                break
        try:
            async with asyncio.timeout(30):
                async for _ in ws:
                    pass
        except websockets.ConnectionClosed:
            pass
        return ws.close_code


def test_a_message_over_the_size_limit_closes_the_socket_1009(server: LiveServer) -> None:
    run_id = finished_run(server)
    code = asyncio.run(close_code_after(server, run_id, '{"type": "ping"}' + " " * 5000))
    assert code == 1009


def live_run(server: LiveServer) -> str:
    """A run that ticks for 20 s: its stream stays open meanwhile."""
    created = httpx.post(
        f"{server.url}/api/runs",
        json={"scenario_id": "C1.2", "params": {"rate": 10, "seconds": 20}},
    ).json()
    return str(created["id"])


def test_a_client_sending_too_fast_is_closed_1008(server: LiveServer) -> None:
    async def flood() -> tuple[int | None, int]:
        pongs = 0
        # A live run keeps the stream open: the socket closes only because of the flood.
        run_id = live_run(server)
        async with connect(server, f"/ws/runs/{run_id}") as ws:
            try:
                for _ in range(100):
                    await ws.send('{"type": "ping"}')
                async with asyncio.timeout(30):
                    async for message in ws:
                        pongs += json.loads(message)["type"] == "pong"
            except websockets.ConnectionClosed:
                pass
            httpx.post(f"{server.url}/api/runs/{run_id}/cancel")
            return ws.close_code, pongs

    code, pongs = asyncio.run(flood())
    assert code == 1008
    assert 1 <= pongs <= 15  # about the burst the limit allows (twice 5 a second)


def test_invalid_utf8_closes_1007_without_an_error_in_the_log(server: LiveServer) -> None:
    run_id = live_run(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            f"GET /ws/runs/{run_id} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 101")
        payload, mask = b"\xff\xfe\xfd", b"\x01\x02\x03\x04"
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        received = received.partition(b"\r\n\r\n")[2]
        while not 0 <= received.find(b"\x88\x02") < len(received) - 3:
            chunk = sock.recv(65536)
            assert chunk, "closed without a close frame"
            received += chunk
    httpx.post(f"{server.url}/api/runs/{run_id}/cancel")
    close = received.rfind(b"\x88\x02")
    assert close >= 0, "no close frame"
    assert int.from_bytes(received[close + 2 : close + 4], "big") == 1007
    log = server.log_text()
    assert "invalid UTF-8" in log
    assert "Traceback" not in log, log
    assert "ERROR" not in log


def test_websocket_handshakes_from_a_foreign_origin_are_refused(server: LiveServer) -> None:
    run_id = finished_run(server)

    async def handshake(origin: str | None) -> int:
        try:
            async with connect(server, f"/ws/runs/{run_id}", origin=origin) as ws:
                async for _ in ws:
                    pass
                return 101
        except websockets.InvalidStatus as refused:
            return int(refused.response.status_code)

    assert asyncio.run(handshake("http://evil.example")) == 403
    assert asyncio.run(handshake(f"http://127.0.0.1:{server.port}")) == 101
    assert asyncio.run(handshake(None)) == 101  # a program, not a browser page


def test_clients_that_trickle_their_headers_are_cut_off(tmp_path: Path) -> None:
    with live_server(tmp_path, header_timeout_s="1") as server:
        sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
        closed = 0
        for sock in sockets:
            sock.settimeout(0.1)
        request = f"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        for byte in request.encode()[:40]:  # one byte each 0.1 s, never the blank line
            for sock in list(sockets):
                try:
                    sock.sendall(bytes([byte]))
                    if sock.recv(1) == b"":
                        raise ConnectionResetError
                except TimeoutError:
                    continue
                except OSError:
                    closed += 1
                    sockets.remove(sock)
                    sock.close()
            if not sockets:
                break
        # Meanwhile, a client that sends its request at once is served.
        assert httpx.get(f"{server.url}/health/live").status_code == 200
        for sock in sockets:
            sock.close()
    assert closed == 50


def test_connections_beyond_the_cap_are_answered_503(tmp_path: Path) -> None:
    with live_server(tmp_path, max_connections="4") as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
        try:
            answer = httpx.get(f"{server.url}/health/live")
        finally:
            for sock in idle:
                sock.close()
        assert answer.status_code == 503
        assert httpx.get(f"{server.url}/health/live").status_code == 200

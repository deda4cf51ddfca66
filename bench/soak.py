"""Soak test: a real server under mixed load for minutes, then a 1,000-client fan-out.

Starts its own server (a free 127.0.0.1 port, a temporary data dir, the shipped models),
waits for ``/health/ready``, then:

  1. for ``--minutes``: ``--ws-clients`` clients each start a short run and follow it over
     its WebSocket to the end, again and again (every event, in order, no gaps, the end
     frame, close 1000), while ``--http-clients`` clients send predict requests with the
     sample photos (both models, every variant);
  2. ``--fanout-clients`` WebSocket clients follow one run at once: every one must receive
     every event.

Progress every ~15 s; at the end a table of measured value, goal and whether it was met:
errors (goal 0), p99 latencies, and the resident memory (VmRSS) of the server and of each
inference worker after a short warm-up and at the end (goal: growth < 10%). Exits 1 when a
goal is missed.

Usage: python bench/soak.py [--minutes 5] [--ws-clients 10] [--http-clients 8]
                            [--fanout-clients 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "frontend" / "samples"
VARIANTS = ("keras", "tflite-fp16", "tflite-int8")
PROGRESS_EVERY_S = 15.0
RSS_GROWTH_GOAL = 0.10
FOLLOW_RUN = {"scenario_id": "T1.2", "params": {"threads": 4, "work": 1.0, "time_scale": 0.1}}
"""About 0.1 s of threads plus the child's start-up: many short runs."""
FANOUT_RUN = {"scenario_id": "T1.1", "params": {"threads": 24, "work": 1.0, "time_scale": 0.5}}
"""24 threads one after another, 0.5 s each: ~12 s of live events while clients join."""
SERVER_ENV = {
    # 10 followers each keep at most one run live: room for all of them, so a 429 is an error.
    "PARALAB_MAX_CONCURRENT_RUNS": "4",
    "PARALAB_RUN_QUEUE_SIZE": "32",
}


# --- the server and its processes --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_open_file_limit() -> int:
    """As far as the hard limit allows (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def running_server() -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="paralab-soak-") as tmp:
        log = Path(tmp) / "server.log"
        env = {**os.environ, **SERVER_ENV, "PARALAB_DATA_DIR": str(Path(tmp) / "var")}
        with log.open("wb") as sink:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "paralab",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            yield f"http://127.0.0.1:{port}", server, log
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float) -> float:
    started = time.monotonic()
    deadline = started + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            response = httpx.get(f"{url}/health/ready", timeout=5)
            if response.status_code == 200:
                return time.monotonic() - started
            last = response.text
        time.sleep(0.25)
    sys.exit(f"the server was not ready after {timeout_s:g} s: {last}")


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                found += [
                    int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                ]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def inference_workers(server_pid: int) -> list[int]:
    """The pool's workers: children of the forkserver the server started (the forkserver
    itself only forks them)."""
    workers: list[int] = []
    for child in children(server_pid):
        if "multiprocessing.forkserver" in cmdline(child):
            workers += children(child)
    return sorted(workers)


# --- load -----------------------------------------------------------------------------


@dataclass
class Stats:
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    predict_ms: list[float] = field(default_factory=list)
    predictions: int = 0
    runs_followed: int = 0
    events_received: int = 0
    ws_first_event_ms: list[float] = field(default_factory=list)

    def error(self, kind: str, example: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, example[:300])


def p99(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def predict_jobs() -> list[tuple[str, str, str, bytes]]:
    """(model, variant, file name, bytes): each sample photo to its model, every variant."""
    jobs = []
    for path in sorted(SAMPLES.glob("*.jpg")):
        model = "cifar10-cnn" if path.name.startswith("cifar10-") else "oxford-pets-fcn"
        for variant in VARIANTS:
            jobs.append((model, variant, path.name, path.read_bytes()))
    return jobs


async def http_client(url: str, index: int, stop: float, stats: Stats) -> None:
    jobs = predict_jobs()
    order = itertools.islice(itertools.cycle(jobs), index, None)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for model, variant, name, image in order:
            if time.monotonic() >= stop:
                return
            started = time.perf_counter()
            try:
                response = await client.post(
                    f"/api/models/{model}/predict",
                    params={"variant": variant},
                    content=image,
                    headers={"content-type": "image/jpeg"},
                )
            except httpx.HTTPError as exc:
                stats.error("predict transport", f"{model} {variant} {name}: {exc!r}")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                stats.error(f"predict {response.status_code}", response.text)
                continue
            stats.predictions += 1
            stats.predict_ms.append(elapsed_ms)


async def follow(ws_url: str) -> tuple[int, int, str, int | None, float]:
    """Read one run's stream to its end: (events, last seq, end status, close code, ms to
    the first events frame). Raises AssertionError on a gap, a repeat or a bad end."""
    received = 0
    last = 0
    first_ms = math.nan
    started = time.perf_counter()
    async with connect(ws_url, max_size=None, open_timeout=60, close_timeout=30) as ws:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "events":
                if math.isnan(first_ms):
                    first_ms = (time.perf_counter() - started) * 1000
                for event in frame["events"]:
                    if event["seq"] != last + 1:
                        raise AssertionError(f"seq {event['seq']} after {last}")
                    last = event["seq"]
                    received += 1
            elif frame["type"] == "end":
                if frame["last_seq"] != last:
                    raise AssertionError(f"end says last_seq {frame['last_seq']}, got {last}")
                status = str(frame["status"])
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.wait_closed(), timeout=30)
                return received, last, status, ws.close_code, first_ms
            else:
                raise AssertionError(f"unexpected frame {frame['type']!r}")
    raise AssertionError(f"closed ({ws.close_code}) before the end frame, after seq {last}")


async def ws_client(url: str, stop: float, stats: Stats) -> None:
    ws_base = url.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.monotonic() < stop:
            try:
                response = await client.post("/api/runs", json=FOLLOW_RUN)
            except httpx.HTTPError as exc:
                stats.error("create run transport", repr(exc))
                await asyncio.sleep(1)
                continue
            if response.status_code != 201:
                stats.error(f"create run {response.status_code}", response.text)
                await asyncio.sleep(1)
                continue
            run_id = response.json()["id"]
            try:
                events, _, status, code, first_ms = await follow(f"{ws_base}/ws/runs/{run_id}")
            except (AssertionError, OSError, websockets.WebSocketException) as exc:
                stats.error("follow", f"run {run_id}: {exc!r}")
                continue
            if status != "succeeded" or code != 1000:
                stats.error("run end", f"run {run_id}: status {status}, close {code}")
                continue
            stats.runs_followed += 1
            stats.events_received += events
            stats.ws_first_event_ms.append(first_ms)


def rss_snapshot(server_pid: int) -> dict[str, int | None]:
    snapshot: dict[str, int | None] = {"server": rss_kib(server_pid)}
    for pid in inference_workers(server_pid):
        snapshot[f"worker {pid}"] = rss_kib(pid)
    return snapshot


async def progress(started: float, stop: float, stats: Stats, server_pid: int) -> None:
    while True:
        await asyncio.sleep(min(PROGRESS_EVERY_S, max(0.0, stop - time.monotonic()) + 0.01))
        if time.monotonic() >= stop:
            return
        rss = rss_kib(server_pid) or 0
        print(
            f"  {time.monotonic() - started:6.0f} s  predictions {stats.predictions:6d} "
            f"(p99 {p99(stats.predict_ms):7.1f} ms)  runs followed {stats.runs_followed:4d}  "
            f"events {stats.events_received:7d}  errors {sum(stats.errors.values())}  "
            f"server RSS {rss / 1024:.0f} MiB",
            flush=True,
        )


async def mixed_load(
    url: str, seconds: float, ws_clients: int, http_clients: int, stats: Stats, server_pid: int
) -> None:
    started = time.monotonic()
    stop = started + seconds
    reporter = asyncio.create_task(progress(started, stop, stats, server_pid))
    await asyncio.gather(
        *(ws_client(url, stop, stats) for _ in range(ws_clients)),
        *(http_client(url, i, stop, stats) for i in range(http_clients)),
    )
    reporter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reporter


@dataclass
class Fanout:
    clients: int
    complete: int = 0
    events: int = 0
    last_seq: int = 0
    connect_s: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    example: str = ""


async def fanout(url: str, clients: int) -> Fanout:
    result = Fanout(clients)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post("/api/runs", json=FANOUT_RUN)
        if response.status_code != 201:
            result.failures[f"create run {response.status_code}"] += 1
            result.example = response.text
            return result
        run_id = response.json()["id"]
        ws_url = url.replace("http://", "ws://") + f"/ws/runs/{run_id}"
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(follow(ws_url) for _ in range(clients)), return_exceptions=True
        )
        result.connect_s = time.monotonic() - started
        run = (await client.get(f"/api/runs/{run_id}")).json()
    result.last_seq = int(run["last_seq"])
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.failures[type(outcome).__name__] += 1
            result.example = result.example or repr(outcome)[:300]
            continue
        events, last, status, code, _ = outcome
        if events == result.last_seq and last == result.last_seq and code == 1000:
            result.complete += 1
            result.events += events
        else:
            result.failures["incomplete"] += 1
            result.example = result.example or (
                f"{events} events, last seq {last} of {result.last_seq}, {status}, close {code}"
            )
    return result


# --- report -----------------------------------------------------------------------------


def growth(before: int | None, after: int | None) -> float:
    if not before or after is None:
        return math.inf
    return (after - before) / before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ws-clients", type=int, default=10)
    parser.add_argument("--http-clients", type=int, default=8)
    parser.add_argument("--fanout-clients", type=int, default=1000)
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=20.0,
        help="load before the first RSS reading (first requests fill caches and pools)",
    )
    args = parser.parse_args()

    nofile = raise_open_file_limit()
    print(f"open-file limit {nofile}", flush=True)
    if nofile < args.fanout_clients + 200:
        print(f"warning: {nofile} open files may be too few for {args.fanout_clients} clients")

    rows: list[tuple[str, str, str, bool | None]] = []
    with running_server() as (url, server, log):
        print(f"server {url} (pid {server.pid}); waiting for the models ...", flush=True)
        warm_s = wait_ready(url, server, log, timeout_s=300)
        workers_at_ready = inference_workers(server.pid)
        print(f"ready after {warm_s:.1f} s; inference workers {workers_at_ready}", flush=True)

        print(f"warm-up: {args.warmup_seconds:g} s of the same load (not counted)", flush=True)
        asyncio.run(
            mixed_load(
                url, args.warmup_seconds, args.ws_clients, args.http_clients, Stats(), server.pid
            )
        )
        before = rss_snapshot(server.pid)

        seconds = args.minutes * 60
        print(
            f"[1/2] {args.ws_clients} WebSocket followers + {args.http_clients} predict "
            f"clients for {seconds:g} s",
            flush=True,
        )
        stats = Stats()
        asyncio.run(mixed_load(url, seconds, args.ws_clients, args.http_clients, stats, server.pid))
        after = rss_snapshot(server.pid)

        print(f"[2/2] {args.fanout_clients} WebSocket clients on one run ...", flush=True)
        spread = asyncio.run(fanout(url, args.fanout_clients))
        alive = server.poll() is None

    errors = sum(stats.errors.values())
    rows.append(("errors (load)", str(errors), "0", errors == 0))
    rows.append(("predictions", f"{stats.predictions:,}", "", None))
    rows.append(("predict p99 latency", f"{p99(stats.predict_ms):.1f} ms", "", None))
    rows.append(("runs followed to their end", f"{stats.runs_followed:,}", "", None))
    rows.append(("events received (followers)", f"{stats.events_received:,}", "", None))
    rows.append(
        (
            "WebSocket p99 connect -> first events",
            f"{p99(stats.ws_first_event_ms):.1f} ms",
            "",
            None,
        )
    )
    for name in sorted(set(before) | set(after), key=lambda n: (n != "server", n)):
        start, end = before.get(name), after.get(name)
        change = growth(start, end)
        shown = (
            f"{(start or 0) / 1024:.0f} -> {(end or 0) / 1024:.0f} MiB ({change:+.1%})"
            if math.isfinite(change)
            else f"{start} -> {end} (process gone or new)"
        )
        rows.append((f"RSS {name}", shown, "< +10%", change < RSS_GROWTH_GOAL))
    rows.append(
        (
            "inference workers unchanged",
            "yes"
            if workers_at_ready
            == sorted(int(n.split()[1]) for n in after if n.startswith("worker "))
            else "no",
            "yes",
            workers_at_ready == sorted(int(n.split()[1]) for n in after if n.startswith("worker ")),
        )
    )
    rows.append(
        (
            f"fan-out: clients with every event (of {spread.last_seq})",
            f"{spread.complete:,} / {spread.clients:,}",
            f"{spread.clients:,}",
            spread.complete == spread.clients and spread.last_seq > 0,
        )
    )
    rows.append(("fan-out: time to serve all clients", f"{spread.connect_s:.1f} s", "", None))
    rows.append(("server alive at the end", "yes" if alive else "no", "yes", alive))

    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    print()
    print(f"{'measure':<{width}}  {'measured':<{value_width}}  {'goal':<8}  met")
    for name, value, goal, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{name:<{width}}  {value:<{value_width}}  {goal:<8}  {mark}")
    for kind, count in stats.errors.most_common():
        print(f"  error {kind} x{count}: {stats.examples[kind]}")
    for kind, count in spread.failures.most_common():
        print(f"  fan-out failure {kind} x{count}: {spread.example}")
    return 0 if all(met is not False for *_, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

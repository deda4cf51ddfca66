"""Event pipeline benchmark: scenario child -> server -> WebSocket clients.

Prints, measured in one run against a real uvicorn server:
  1. events/s delivered to one WebSocket client (goal >= 100,000/s), next to the rate the
     scenario child produced them at (the ratio shows what the server costs);
  2. p50/p99 latency of events at 1,000 events/s to 10 clients (goal p99 <= 50 ms).

Usage: python bench/events.py [--storm-acquisitions N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import running_server


def start_run(url: str, scenario_id: str, **params: object) -> str:
    response = httpx.post(f"{url}/api/runs", json={"scenario_id": scenario_id, "params": params})
    response.raise_for_status()
    run_id: str = response.json()["id"]
    return run_id


async def drain(ws_url: str, on_events: object = None) -> tuple[int, float, float, list[dict]]:
    """Read a run's stream to its end: (count, first_frame_time, end_time, tick events)."""
    count, first, ticks = 0, 0.0, []
    async with websockets.connect(ws_url, max_size=None) as ws:
        async for raw in ws:
            now = time.monotonic_ns()
            frame = json.loads(raw)
            if frame["type"] == "end":
                return count, first, time.perf_counter(), ticks
            if frame["type"] == "events":
                if not first:
                    first = time.perf_counter()
                count += len(frame["events"])
                for event in frame["events"]:
                    if event["type"] == "output" and event["line"].startswith("tick "):
                        ticks.append({"sent": int(event["line"].split()[2]), "received": now})
    raise RuntimeError("stream closed without an end frame")


def throughput(url: str, acquisitions: int) -> None:
    print(f"[1/2] event storm: 2 threads x {acquisitions:,} lock acquisitions ...", flush=True)
    run_id = start_run(url, "C1.1", threads=2, acquisitions=acquisitions)
    ws_url = url.replace("http", "ws") + f"/ws/runs/{run_id}"
    count, first, end, _ = asyncio.run(drain(ws_url))
    events = httpx.get(f"{url}/api/runs/{run_id}/events", params={"limit": 3}).json()
    run = httpx.get(f"{url}/api/runs/{run_id}").json()
    stored = [e for e in _all_events(url, run_id) if e["type"] not in ("run",)]
    produced_s = (stored[-1]["t_ns"] - stored[0]["t_ns"]) / 1e9
    delivered_rate = count / (end - first)
    produced_rate = len(stored) / produced_s
    print(f"      events delivered to 1 client: {count:,} in {end - first:.2f} s")
    print(f"      delivered: {delivered_rate:,.0f} events/s   (goal >= 100,000/s)")
    print(f"      produced by the child: {produced_rate:,.0f} events/s")
    print(f"      delivered / produced: {delivered_rate / produced_rate:.2f}")
    print(f"      run status {run['status']}, last_seq {events['last_seq']:,}")


def _all_events(url: str, run_id: str) -> list[dict]:
    events: list[dict] = []
    from_seq = 1
    while True:
        page = httpx.get(
            f"{url}/api/runs/{run_id}/events", params={"from_seq": from_seq, "limit": 10_000}
        ).json()
        events += page["events"]
        if not page["events"]:
            return events
        from_seq = page["next_seq"]


async def latency_clients(ws_url: str, clients: int) -> list[list[dict]]:
    results = await asyncio.gather(*(drain(ws_url) for _ in range(clients)))
    return [ticks for *_, ticks in results]


def latency(url: str, seconds: float, clients: int = 10) -> None:
    print(f"[2/2] metronome: 1,000 events/s for {seconds:g} s to {clients} clients ...", flush=True)
    run_id = start_run(url, "C1.2", rate=1000, seconds=seconds)
    ws_url = url.replace("http", "ws") + f"/ws/runs/{run_id}"
    per_client = asyncio.run(latency_clients(ws_url, clients))
    # Skip the first 0.5 s: clients connecting may receive a replayed backlog.
    delays = sorted(
        (t["received"] - t["sent"]) / 1e6
        for ticks in per_client
        for t in ticks
        if t is not None and ticks and t["sent"] - ticks[0]["sent"] > 500_000_000
    )
    p50 = statistics.median(delays)
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(f"      {len(delays):,} latencies over {clients} clients")
    print(
        f"      p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {delays[-1]:.2f} ms   (goal p99 <= 50 ms)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storm-acquisitions", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print("starting a ParaLab server ...", flush=True)
    with running_server(PARALAB_RUN_TIME_LIMIT_S="300") as url:
        throughput(url, args.storm_acquisitions)
        latency(url, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: accepted events per second over HTTP into Kafka, against raw producer throughput.

    python bench/bench_ingest.py                     # embedded broker (reused or started)
    python bench/bench_ingest.py --seconds 5 --concurrency 16

Starts `impactline serve ingest` as its own process on a free port (no database: a static key),
drives it with a small keep-alive HTTP/1.1 client for a few seconds per scenario, and compares
with the rate a bare aiokafka producer reaches in the same run for the same messages. Every
request must be answered 202: an accepted event is durable on the broker (acks=all).
Prints the figures and writes them to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop

from impactline.core import cloudevents, topics
from impactline.core.catalog import load_catalog
from impactline.core.contracts import TelemetryEvent
from impactline.ingest.sink import KafkaSink
from impactline.runtime.embedded import EmbeddedKafka
from impactline.runtime.kafka import ensure_topics, new_producer, topic_name
from impactline.runtime.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
KEY = "bench-ingest-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# CIs of the demo catalog that ingest loads, so every event is bound as in production.
DEMO_CIS = sorted(load_catalog([Path(__file__).resolve().parent.parent / "deploy" / "catalog"]).cis)
NOW = datetime.now(UTC).isoformat()  # inside ingest's event-time window whenever it runs


def event(n: int, run: str) -> dict[str, Any]:
    return {
        "id": f"{run}-{n}",
        "ci_id": DEMO_CIS[n % len(DEMO_CIS)],
        "state": "degraded" if n % 3 else "ok",
        "time": NOW,
        "source": "bench",
        "summary": "p99 latency above threshold",
        "metric": "latency_p99_ms",
        "value": 812.5,
    }


class Connection:
    """One keep-alive HTTP/1.1 connection: just enough client to measure the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, path: str, body: bytes, content_type: str = "application/json") -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    port: int, bodies: list[bytes], per_request: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    """POST the bodies round robin from `concurrency` connections for `seconds`."""
    connections = [await Connection.open(port) for _ in range(concurrency)]
    latencies: list[float] = []
    failures: dict[int, int] = {}
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker(conn: Connection) -> None:
        while time.perf_counter() < stop_at:
            body = bodies[next(counter) % len(bodies)]
            start = time.perf_counter()
            status = await conn.post("/v1/events", body)
            latencies.append(time.perf_counter() - start)
            if status != 202:
                failures[status] = failures.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.close()
    ok = len(latencies) - sum(failures.values())
    latencies.sort()
    return {
        "requests": len(latencies),
        "events_per_request": per_request,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(ok / elapsed, 1),
        "events_per_s": round(ok * per_request / elapsed, 1),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "failures": failures,
    }


async def baseline(
    bootstrap: str, prefix: str, count: int, run: str, *, batched: bool, concurrency: int = 4
) -> dict[str, Any]:
    """Bare aiokafka: the same CloudEvents messages (encoded beforehand), same producer settings,
    `concurrency` senders each producing chunks of 1000 and waiting for their acks, no HTTP.

    `batched` hands the events to ingest's own sink instead, so it includes the CloudEvents
    encoding that the pre-encoded figure leaves out: the cost of ingest without HTTP.
    """
    producer = new_producer(bootstrap, "bench-baseline")
    await producer.start()
    name = topic_name(topics.TELEMETRY, prefix)
    sink = KafkaSink(producer, prefix)
    try:
        # One chunk of 1000 sent over and over: Kafka does not mind repeated ids, and a small heap
        # keeps the comparison about producing rather than about memory.
        events = [
            (e.ci_id, e)
            for e in (TelemetryEvent.model_validate(event(n, run)) for n in range(1000))
        ]
        chunk = [
            (key, *cloudevents.encode(topics.TELEMETRY, e, source="bench", subject=key))
            for key, e in events
        ]

        async def sender(rounds: int) -> None:
            for _ in range(rounds):
                if batched:
                    await sink.put(topics.TELEMETRY, events)
                    continue
                pending = [
                    await producer.send(name, value=value, key=key.encode(), headers=headers)
                    for key, value, headers in chunk
                ]
                await asyncio.gather(*pending)

        await sender(1)  # warm-up: metadata, connections, first segment writes
        rounds = max(1, count // 1000 // concurrency)
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(sender(rounds) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()
    sent = rounds * concurrency * 1000
    return {
        "events": sent,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "events_per_s": round(sent / elapsed, 1),
        "cpu_us_per_event": round(cpu / sent * 1e6, 1),
    }


def start_ingest(bootstrap: str, prefix: str, port: int, log_level: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "IMPACTLINE_TOPIC_PREFIX": prefix,
            "IMPACTLINE_API_KEYS": f"{KEY}=ingest",
            "IMPACTLINE_INGEST_RATE_PER_S": "1000000",
            "IMPACTLINE_INGEST_BURST": "1000000",
            "IMPACTLINE_INGEST_RAW_INPUT": "false",
            # No database: only the static key, so the figures are the broker path alone.
            "DATABASE_URL": "",
        }
    )
    args = [
        sys.executable,
        "-m",
        "impactline.cli.main",
        "serve",
        "ingest",
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ingest exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("ingest did not become ready")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    kafka = None
    bootstrap = settings.kafka_bootstrap_servers
    if not bootstrap:
        kafka = EmbeddedKafka(settings)
        bootstrap = await kafka.start()
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    run = uuid.uuid4().hex[:6]
    await ensure_topics(
        bootstrap, topics.REGISTRY, prefix=prefix, default_partitions=settings.topic_partitions
    )
    results: dict[str, Any] = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "baseline_aiokafka_send": await baseline(
            bootstrap, prefix, args.baseline_events, run + "a", batched=False
        ),
        "baseline_ingest_sink": await baseline(
            bootstrap, prefix, args.baseline_events, run + "b", batched=True
        ),
        "http": {},
    }
    for label, key in (
        ("aiokafka send, pre-encoded", "baseline_aiokafka_send"),
        ("ingest's sink, no HTTP", "baseline_ingest_sink"),
    ):
        figures = results[key]
        print(
            f"{label:>30}: {figures['events_per_s']:>9,.0f} events/s, "
            f"CPU {figures['cpu_us_per_event']} us/event"
        )
    singles = [json.dumps(event(n, f"{run}-s")).encode() for n in range(5000)]
    scenarios = [
        ("single event", singles, 1, args.concurrency),
        (
            "batch of 100",
            [
                json.dumps([event(n * 100 + i, f"{run}-b{n}") for i in range(100)]).encode()
                for n in range(50)
            ],
            100,
            8,
        ),
        (
            "batch of 1000",
            [
                json.dumps([event(n * 1000 + i, f"{run}-k{n}") for i in range(1000)]).encode()
                for n in range(10)
            ],
            1000,
            4,
        ),
    ]
    for log_level in args.log_levels:
        port = free_port()
        proc = start_ingest(bootstrap, prefix, port, log_level)
        try:
            await wait_ready(port, proc)
            for name, bodies, per_request, concurrency in scenarios:
                # Fresh ids per round: a repeated id would be skipped as a duplicate.
                bodies = [b.replace(run.encode(), f"{run}{log_level[0]}".encode()) for b in bodies]
                cpu = cpu_seconds(proc.pid)
                figures = await drive(port, bodies, per_request, concurrency, args.seconds)
                ok_events = figures["events_per_s"] * figures["seconds"]
                figures["server_cpu_us_per_event"] = round(
                    (cpu_seconds(proc.pid) - cpu) / max(ok_events, 1) * 1e6, 1
                )
                results["http"][f"{name} (log {log_level})"] = figures
                print(
                    f"{name:>14} x{concurrency:<3} log {log_level:<7}: "
                    f"{figures['events_per_s']:>9,.0f} events/s "
                    f"({figures['requests_per_s']:,.0f} req/s, p50 {figures['latency_p50_ms']} ms, "
                    f"p99 {figures['latency_p99_ms']} ms), server CPU "
                    f"{figures['server_cpu_us_per_event']} us/event, "
                    f"failures {figures['failures'] or 'none'}"
                )
        finally:
            proc.terminate()
            proc.wait(20)
    # Again after the HTTP scenarios: brackets the comparison on a machine whose load changes.
    results["baseline_aiokafka_send_after"] = await baseline(
        bootstrap, prefix, args.baseline_events, run + "c", batched=False
    )
    figures = results["baseline_aiokafka_send_after"]
    print(
        f"{'aiokafka send, again':>30}: {figures['events_per_s']:>9,.0f} events/s, "
        f"CPU {figures['cpu_us_per_event']} us/event"
    )
    if kafka is not None and kafka.started_here:
        kafka.stop()
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="connections, single events")
    parser.add_argument("--baseline-events", type=int, default=150_000)
    parser.add_argument(
        "--log-levels",
        nargs="+",
        default=["warning"],
        help="ingest log levels to run the scenarios at (e.g. warning info)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    # The same event loop as the ingest process (uvicorn uses uvloop), so the baselines compare
    # like with like: aiokafka's per-record futures are much cheaper on it.
    figures = uvloop.run(main(parse_args()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {RESULTS}")

"""The load the system benchmarks send: CIs whose every state change reaches a business service,
toggled down and up again, and the watch that matches impact events to what caused them.

Each CI picked affects business services no other picked CI affects, so every toggle changes
the state of those services and so reaches impact. One sender owns each CI and sends its
batches one after the other, which keeps every CI's events in order on the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from impactline.core.catalog import Catalog, ServiceHealth
from impactline.core.states import State


@dataclass(frozen=True, slots=True)
class Target:
    ci_id: str
    services: tuple[str, ...]


def impactful_cis(catalog: Catalog) -> list[Target]:
    """CIs whose failure changes business services that no other chosen CI touches.

    CIs that affect the fewest services go first, so the pick is large and one event causes
    about one impact event (shared links and storage would fan out to a whole site).
    """
    graph = catalog.graph
    health = ServiceHealth(graph)
    candidates: list[tuple[int, str, frozenset[str]]] = []
    for ci_id in graph.ci_ids:
        changed = health.set_ci_state(ci_id, State.DOWN)
        health.set_ci_state(ci_id, State.OK)
        if changed and all(s in catalog.services for s in changed):
            candidates.append((len(changed), ci_id, frozenset(changed)))
    candidates.sort(key=lambda c: (c[0], c[1]))
    used: set[str] = set()
    picked: list[Target] = []
    for _, ci_id, services in candidates:
        if not services & used:
            used |= services
            picked.append(Target(ci_id, tuple(sorted(services))))
    return picked


class TelemetryFeed:
    """Native telemetry for the CIs one sender owns: each CI alternates down, ok, down, ..."""

    def __init__(self, cis: Sequence[str], run: str) -> None:
        self._cis = list(cis)
        self._next = itertools.cycle(self._cis)
        self._down: dict[str, bool] = {}
        self._run = run
        self._seq = itertools.count()

    def items(self, n: int) -> list[tuple[str, str, bool]]:
        """(event id, CI, goes down) for the next `n` events."""
        out = []
        for _ in range(n):
            ci = next(self._next)
            down = not self._down.get(ci, False)
            self._down[ci] = down
            out.append((f"{self._run}-{next(self._seq)}", ci, down))
        return out

    def batch(self, n: int) -> tuple[bytes, list[str]]:
        now = datetime.now(UTC).isoformat()
        items = self.items(n)
        body = [
            {
                "id": event_id,
                "ci_id": ci,
                "state": "down" if down else "ok",
                "time": now,
                "source": "bench",
                "summary": "synthetic load",
            }
            for event_id, ci, down in items
        ]
        return orjson.dumps(body), [event_id for event_id, _, _ in items]


def split(targets: Sequence[Target], parts: int) -> list[list[str]]:
    cis = [t.ci_id for t in targets]
    return [cis[i::parts] for i in range(parts) if cis[i::parts]]


class Feed(Protocol):
    def batch(self, n: int) -> tuple[bytes, list[str]]:
        """A request body with `n` items, and the ids their arrival will be matched by."""


async def wait_for(first: dict[str, float], ids: Sequence[str], timeout_s: float) -> int:
    """Wait until every id is in `first` or the deadline passed; returns how many are missing."""
    deadline = time.monotonic() + timeout_s
    missing = [i for i in ids if i not in first]
    while missing and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        missing = [i for i in missing if i not in first]
    return len(missing)


class ImpactWatch:
    """Reads an impact topic from its end and notes when each cause first shows up."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.first: dict[str, float] = {}
        self.impact_times: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.perf_counter()
            for records in batches.values():
                for msg in records:
                    cause = orjson.loads(msg.value).get("cause_event_id")
                    self.impact_times.append(now)
                    if cause is not None and cause not in self.first:
                        self.first[cause] = now

    async def wait_for(self, ids: Sequence[str], timeout_s: float) -> int:
        return await wait_for(self.first, ids, timeout_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


@dataclass
class Sent:
    """What a load phase sent: each event id with the time its request started."""

    at: dict[str, float] = field(default_factory=dict)
    accepted_at: list[tuple[float, int]] = field(default_factory=list)  # (answer time, events)
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0


class Poster:
    """Sends request bodies to one ingest route, retrying what the server asks to retry."""

    def __init__(self, url: str, key: str, connections: int) -> None:
        self.url = url
        headers = {"Content-Type": "application/json"}
        if key:  # Alertmanager takes no key; an empty bearer is not even a legal header
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.AsyncClient(
            headers=headers,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            timeout=30.0,
        )

    async def post(self, path: str, body: bytes, sent: Sent) -> httpx.Response | None:
        for _ in range(20):
            sent.requests += 1
            try:
                response = await self.client.post(self.url + path, content=body)
            except httpx.TransportError as exc:
                sent.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.2)
                continue
            if response.status_code in (429, 503):
                sent.errors[str(response.status_code)] += 1
                await asyncio.sleep(min(1.0, float(response.headers.get("retry-after", "1"))))
                continue
            if response.status_code >= 300:
                sent.errors[str(response.status_code)] += 1
            return response
        return None

    async def close(self) -> None:
        await self.client.aclose()


async def saturate(
    poster: Poster,
    feeds: Sequence[Feed],
    watch: ImpactWatch | None,
    *,
    duration_s: float,
    batch: int,
    min_backlog: int = 0,
    queued_s: float = 1.0,
    path: str = "/v1/events",
) -> Sent:
    """Closed loop: every sender posts as soon as its last answer came, while the events on
    their way to impact stay under about `queued_s` seconds of output (at least
    `min_backlog`). Without a watch: as fast as ingest accepts."""
    sent = Sent(started=time.perf_counter())
    end = sent.started + duration_s
    base = len(watch.first) if watch is not None else 0
    limit = max(min_backlog, 1)

    async def control() -> None:
        # The allowed backlog follows the output rate: enough to keep every stage busy, not so
        # much that the queue (and the time to drain it) grows without bound.
        nonlocal limit
        assert watch is not None
        smoothed = 0.0
        last_t, last_n = time.perf_counter(), len(watch.first)
        while True:
            await asyncio.sleep(0.25)
            now, n = time.perf_counter(), len(watch.first)
            current = (n - last_n) / (now - last_t)
            smoothed = current if smoothed == 0.0 else 0.7 * smoothed + 0.3 * current
            last_t, last_n = now, n
            limit = max(min_backlog, int(smoothed * queued_s))

    async def sender(feed: Feed) -> None:
        while time.perf_counter() < end:
            if watch is not None:
                # Counters moved by other tasks: polling them is the simple, cheap way.
                while len(sent.at) - (len(watch.first) - base) > limit:
                    if time.perf_counter() >= end:
                        break
                    await asyncio.sleep(0.002)
                if time.perf_counter() >= end:
                    break
            body, ids = feed.batch(batch)
            started = time.perf_counter()
            for event_id in ids:
                sent.at[event_id] = started
            response = await poster.post(path, body, sent)
            if response is not None and 200 <= response.status_code < 300:
                sent.accepted_at.append((time.perf_counter(), len(ids)))

    controller = asyncio.create_task(control()) if watch is not None else None
    try:
        await asyncio.gather(*(sender(f) for f in feeds))
    finally:
        if controller is not None:
            controller.cancel()
    sent.ended = time.perf_counter()
    return sent


async def paced(
    poster: Poster,
    feeds: Sequence[Feed],
    *,
    rate: float,
    duration_s: float,
    interval_s: float = 0.02,
    path: str = "/v1/events",
) -> Sent:
    """Open loop: a batch every `interval_s` at `rate` events/s in all, handed to the senders in
    turn; each sender posts its batches in order."""
    sent = Sent(started=time.perf_counter())
    queues: list[asyncio.Queue[int | None]] = [asyncio.Queue() for _ in feeds]

    async def sender(feed: Feed, queue: asyncio.Queue[int | None]) -> None:
        while (size := await queue.get()) is not None:
            body, ids = feed.batch(size)
            started = time.perf_counter()
            for event_id in ids:
                sent.at[event_id] = started
            response = await poster.post(path, body, sent)
            if response is not None and 200 <= response.status_code < 300:
                sent.accepted_at.append((time.perf_counter(), len(ids)))

    tasks = [asyncio.create_task(sender(f, q)) for f, q in zip(feeds, queues, strict=True)]
    owed = 0.0
    for tick in range(max(1, int(duration_s / interval_s))):
        owed += rate * interval_s
        size = int(owed)
        owed -= size
        if size:
            queues[tick % len(queues)].put_nowait(size)
        await asyncio.sleep(max(0.0, sent.started + (tick + 1) * interval_s - time.perf_counter()))
    for queue in queues:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    sent.ended = time.perf_counter()
    return sent


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def rate_in(times: Sequence[float], start: float, end: float) -> float:
    """Events per second among `times` that fall in [start, end]."""
    if end <= start:
        return 0.0
    return sum(1 for t in times if start <= t <= end) / (end - start)

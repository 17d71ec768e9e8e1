"""One service process at a time on its real input topic, pre-loaded or driven over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from bench.harness import delete_topics
from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract
from impactline.runtime.embedded.process import free_port
from impactline.runtime.kafka import new_producer, open_tail, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.supervisor import Supervisor
from impactline.runtime.system import child_env, prepare, wait_ready, write_dev_key


@dataclass
class Alone:
    """One process of the system, with the key and address it was started with."""

    supervisor: Supervisor
    settings: Settings
    key: str
    catalog_version: int = 0
    url: str = ""


@asynccontextmanager
async def service_alone(
    settings: Settings, name: str, log_dir: Path, *, started: bool = True
) -> AsyncIterator[Alone]:
    """Schema, topics and catalog prepared; `name` started unless `started` is False (then
    `start(alone, name)` starts it, after the input is pre-loaded)."""
    version = await prepare(settings)
    key = write_dev_key(settings.state_dir)
    supervisor = Supervisor(log_dir, child_env(settings, key))
    alone = Alone(supervisor, settings, key, version or 0)
    try:
        if started:
            await start(alone, name)
        yield alone
    finally:
        await asyncio.to_thread(supervisor.stop)
        await delete_topics(settings.require_kafka(), settings.topic_prefix)


async def start(alone: Alone, name: str) -> None:
    if name == "ingest":
        port = free_port()
        alone.supervisor.start("ingest", "serve", "ingest", "--port", str(port))
        alone.url = f"http://127.0.0.1:{port}"
        await wait_ready(f"{alone.url}/readyz", alone.supervisor, 90.0)
    else:
        alone.supervisor.start(name, "serve", name)


async def preload(
    settings: Settings, topic: topics.Topic, events: Sequence[tuple[str, Contract]]
) -> None:
    """Produce (key, event) pairs onto `topic` as the upstream service would."""
    producer = new_producer(settings.require_kafka(), "impactline-bench")
    await producer.start()
    try:
        name = topic_name(topic, settings.topic_prefix)
        pending = []
        for key, event in events:
            value, headers = cloudevents.encode(
                topic, event, source="impactline/bench", subject=key
            )
            pending.append(
                await producer.send(name, value=value, key=key.encode(), headers=headers)
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


@dataclass
class Output:
    """Arrival times of the messages of one topic."""

    consumer: AIOKafkaConsumer
    times: list[float] = field(default_factory=list)

    async def poll(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=50, max_records=10_000)
        now = time.perf_counter()
        self.times += [now] * sum(len(r) for r in batches.values())


async def outputs(settings: Settings, *wanted: topics.Topic) -> list[Output]:
    return [
        Output(await open_tail(settings.require_kafka(), topic_name(t, settings.topic_prefix)))
        for t in wanted
    ]


async def collect(
    alone: Alone,
    watched: list[Output],
    *,
    expected: int,
    timeout_s: float,
    idle_s: float = 10.0,
) -> None:
    """Read every output until the last one has `expected` messages, nothing new came on any
    for `idle_s` once output began, or `timeout_s` passed (startup included)."""
    begun = time.monotonic()
    last_total, last_change = 0, begun
    try:
        while time.monotonic() - begun < timeout_s:
            for output in watched:
                await output.poll()
            now = time.monotonic()
            total = sum(len(o.times) for o in watched)
            if len(watched[-1].times) >= expected:
                return
            if total != last_total:
                last_total, last_change = total, now
            elif total and now - last_change > idle_s:
                return
            alone.supervisor.check()
    finally:
        for output in watched:
            await output.consumer.stop()


def span_rate(count: int, first: float, last: float) -> float:
    return count / (last - first) if last > first else 0.0

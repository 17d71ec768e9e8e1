"""The whole system as separate processes on the real broker and database."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from impactline.core import cloudevents, topics
from impactline.runtime.db import scratch_database
from impactline.runtime.kafka import ensure_topics, open_tail, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem, start_system
from tests.helpers import scratch_topics

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "config"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TopicTail:
    """Reads a topic from its end at creation; `wait_for` a matching event with a deadline."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: topics.Topic) -> None:
        self.consumer = consumer
        self.topic = topic
        self.seen: list[tuple[cloudevents.Envelope, dict[str, str]]] = []

    @classmethod
    async def open(cls, settings: Settings, topic: topics.Topic) -> TopicTail:
        await ensure_topics(settings.require_kafka(), [topic], prefix=settings.topic_prefix)
        name = topic_name(topic, settings.topic_prefix)
        consumer = await open_tail(settings.require_kafka(), name)
        return cls(consumer, topic)

    async def wait_for(
        self, match: Callable[[cloudevents.Envelope], bool], timeout_s: float = 60.0
    ) -> cloudevents.Envelope:
        checked = 0
        deadline = time.monotonic() + timeout_s
        while True:
            # Everything fetched is kept in `seen` first, so no later call misses an event.
            for envelope, _ in self.seen[checked:]:
                if match(envelope):
                    return envelope
            checked = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            batches = await self.consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for records in batches.values():
                for msg in records:
                    envelope = cloudevents.decode(self.topic, msg.value, msg.headers)
                    self.seen.append((envelope, envelope.headers))
        raise TimeoutError(f"no matching event on {self.topic.name} within {timeout_s}s")

    async def close(self) -> None:
        await self.consumer.stop()


@asynccontextmanager
async def isolated_settings(
    kafka_bootstrap: str, database_url: str, state_dir: Path, **values: str
) -> AsyncIterator[Settings]:
    """Settings under a fresh topic namespace and database, dropped afterwards: no offsets,
    state or read models from other tests. `values` are settings by their variable names."""
    namespace = f"e2e_{uuid.uuid4().hex[:8]}"
    async with (
        scratch_database(database_url, namespace) as url,
        scratch_topics(kafka_bootstrap, f"{namespace}."),
    ):
        yield Settings(
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=url,
            IMPACTLINE_TOPIC_PREFIX=f"{namespace}.",
            IMPACTLINE_STATE_DIR=str(state_dir),
            # The tests play fixed days of November 2026, whenever they run.
            IMPACTLINE_EVENT_MAX_AGE="P36500D",
            **values,
        )


@pytest.fixture(scope="module")
async def e2e_settings(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    async with isolated_settings(
        kafka_bootstrap,
        database_url,
        tmp_path_factory.mktemp("state"),
        IMPACTLINE_CATALOG=f"{ROOT / 'deploy' / 'catalog'},{CONFIG / 'cascade-catalog.yaml'}",
        IMPACTLINE_CORRELATION_CONFIG=str(CONFIG / "correlation.yaml"),
        IMPACTLINE_ACCRUAL_SECONDS="2",
    ) as settings:
        yield settings


@pytest.fixture(scope="module")
async def demo_settings(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """Every default of `make run`: the demo catalog, calendars, scoring and correlation."""
    async with isolated_settings(
        kafka_bootstrap,
        database_url,
        tmp_path_factory.mktemp("state"),
        IMPACTLINE_CATALOG=str(ROOT / "deploy" / "catalog"),
    ) as settings:
        yield settings


@pytest.fixture(scope="module")
async def system(
    e2e_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    running = await start_system(
        e2e_settings,
        ingest_port=free_port(),
        api_port=free_port(),
        log_dir=tmp_path_factory.mktemp("logs"),
    )
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)


@pytest.fixture
async def tail(e2e_settings: Settings) -> AsyncIterator[Callable[[topics.Topic], object]]:
    opened: list[TopicTail] = []

    async def open_tail(topic: topics.Topic) -> TopicTail:
        t = await TopicTail.open(e2e_settings, topic)
        opened.append(t)
        return t

    yield open_tail
    for t in opened:
        await t.close()

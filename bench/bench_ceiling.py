"""Ceiling: what the broker and aiokafka alone relay, with messages the size of our events.

The pipeline cannot beat one Python process producing and consuming on the same broker with
the same producer settings, so its throughput is read against this figure.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.harness import BenchContext, delete_topics
from bench.report import Figure, Section
from impactline.core import cloudevents, topics
from impactline.core.contracts import TelemetryEvent
from impactline.core.states import State
from impactline.runtime.kafka import new_producer

PARTITIONS = 4


def sample_message() -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    """Value, headers and key of a real telemetry event as ingest produces it."""
    event = TelemetryEvent(
        ci_id="s0001-app-0042",
        state=State.DOWN,
        source="native",
        summary="synthetic load",
        time=datetime.now(UTC),
    )
    value, headers = cloudevents.encode(
        topics.TELEMETRY,
        event,
        source="impactline/ingest",
        subject=event.ci_id,
        extra_headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
    )
    return value, headers, event.ci_id.encode()


async def _topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="impactline-bench")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, name: str, n: int) -> float:
    """Seconds to produce `n` messages and have every one acknowledged."""
    value, headers, _ = sample_message()
    producer = new_producer(bootstrap, "impactline-bench")
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for i in range(n):
            # Keys spread the messages over every partition, as CI ids do.
            key = f"ci-{i % 1000}".encode()
            pending.append(await producer.send(name, value=value, key=key, headers=headers))
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def consume(bootstrap: str, name: str, n: int, timeout_s: float = 120.0) -> float:
    """Seconds to read `n` messages from the start of the topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(name, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        started = time.perf_counter()
        seen = 0
        async with asyncio.timeout(timeout_s):
            while seen < n:
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def relay(bootstrap: str, name: str, n: int) -> float:
    """Seconds until `n` messages are produced and read back, both running at once."""
    started = time.perf_counter()
    await asyncio.gather(produce(bootstrap, name, n), consume(bootstrap, name, n))
    return time.perf_counter() - started


async def run(ctx: BenchContext) -> Section:
    n = int(ctx.scaled(200_000, 50_000))
    value, headers, key = sample_message()
    size = len(value) + sum(len(k) + len(v) for k, v in headers) + len(key)
    prefix = f"bench-ceiling-{uuid.uuid4().hex[:8]}."
    first, second = f"{prefix}relay-a", f"{prefix}relay-b"
    try:
        await _topic(ctx.bootstrap, first)
        await _topic(ctx.bootstrap, second)
        produce_s = await produce(ctx.bootstrap, first, n)
        consume_s = await consume(ctx.bootstrap, first, n)
        relay_s = await relay(ctx.bootstrap, second, n)
    finally:
        await delete_topics(ctx.bootstrap, prefix)
    section = Section("ceiling", "Ceiling: the broker and aiokafka alone")
    produce_rate, consume_rate, relay_rate = n / produce_s, n / consume_s, n / relay_s
    ctx.shared["ceiling_relay_per_s"] = relay_rate
    basis = f"{n:,} messages of {size} bytes (value {len(value)} + headers + key)"
    section.add(
        Figure("produce_per_s", "produce (acks=all, idempotent)", produce_rate, "ev/s", basis),
        Figure("consume_per_s", "consume from the start", consume_rate, "ev/s", basis),
        Figure(
            "relay_per_s",
            "relay: produce and consume at once",
            relay_rate,
            "ev/s",
            "one process, one event loop: the reference for the pipeline",
        ),
    )
    section.details = {
        "messages": n,
        "message_bytes": size,
        "value_bytes": len(value),
        "partitions": PARTITIONS,
        "producer": "impactline.runtime.kafka.new_producer (acks=all, idempotent, linger 5 ms)",
    }
    return section

"""The client libraries the services use really work against the broker version we ship.

Each test uses its own topics and groups, so the suite can share one broker with other tests.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.helpers import wait_for

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


class Names:
    """Topic and group names under one prefix per test, so its topics can be deleted afterwards
    without touching anybody else's on a shared broker."""

    def __init__(self) -> None:
        self.prefix = f"compat-{uuid.uuid4().hex[:8]}"

    def __call__(self, name: str) -> str:
        return f"{self.prefix}-{name}"


@pytest.fixture
def unique() -> Names:
    return Names()


@pytest.fixture
async def admin(kafka_bootstrap: str, unique: Names) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
        mine = [t for t in await client.list_topics() if t.startswith(unique.prefix)]
        if mine:
            await client.delete_topics(mine)
    finally:
        await client.close()


async def consume(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord]:
    """Exactly `count` records, or fail at the deadline."""
    records: list[ConsumerRecord] = []

    async def enough() -> bool:
        batches = await consumer.getmany(timeout_ms=500)
        for batch in batches.values():
            records.extend(batch)
        return len(records) >= count

    await wait_for(enough, timeout=DEADLINE_S, interval=0, message=f"{count} records consumed")
    return records


async def _equals(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_admin_creates_topics_with_the_requested_partitions(
    admin: AIOKafkaAdminClient, unique: Names
) -> None:
    names = [unique("telemetry"), unique("changes")]
    await admin.create_topics([NewTopic(n, num_partitions=3, replication_factor=1) for n in names])

    async def partitions() -> dict[str, int]:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}

    # The controller acknowledges the creation before every broker's metadata shows it.
    await wait_for(
        lambda: _equals(partitions(), dict.fromkeys(names, 3)),
        timeout=DEADLINE_S,
        message="3 partitions per new topic",
    )
    assert set(names) <= set(await admin.list_topics())


async def test_idempotent_producer_and_committed_group_offsets(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, unique: Names
) -> None:
    topic, group = unique("events"), unique("group")
    await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"first-{i}".encode(), key=f"ci-{i}".encode())

        first = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await first.start()
        try:
            seen = await consume(first, 10)
            await first.commit()
        finally:
            await first.stop()
        assert sorted(r.value for r in seen) == sorted(f"first-{i}".encode() for i in range(10))

        committed = await admin.list_consumer_group_offsets(group)
        assert sum(meta.offset for meta in committed.values()) == 10

        for i in range(5):
            await producer.send_and_wait(topic, f"second-{i}".encode(), key=f"ci-{i}".encode())
    finally:
        await producer.stop()

    # A new member of the same group resumes at the committed offsets: per partition the old
    # records come first, so had the commit been lost they would show up among these five.
    second = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await second.start()
    try:
        resumed = await consume(second, 5)
    finally:
        await second.stop()
    assert sorted(r.value for r in resumed) == sorted(f"second-{i}".encode() for i in range(5))


async def test_transactions_hide_aborted_records_from_read_committed(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, unique: Names
) -> None:
    topic = unique("txn")
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=unique("producer")
    )
    await producer.start()
    try:
        for outcome in ("committed", "aborted", "marker"):
            await producer.begin_transaction()
            await producer.send_and_wait(topic, outcome.encode())
            if outcome == "aborted":
                await producer.abort_transaction()
            else:
                await producer.commit_transaction()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        records = await consume(consumer, 2)
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b"committed", b"marker"]


async def test_a_transaction_writes_record_batches_and_input_offsets_together(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, unique: Names
) -> None:
    """What a stream worker's turn relies on: outputs appended as whole record batches and
    the consumed offsets, committed in one transaction."""
    source, sink, group = unique("in"), unique("out"), unique("group")
    await admin.create_topics(
        [NewTopic(name, num_partitions=1, replication_factor=1) for name in (source, sink)]
    )
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await plain.start()
    try:
        for n in range(3):
            await plain.send_and_wait(source, f"input-{n}".encode())
    finally:
        await plain.stop()

    reader = AIOKafkaConsumer(
        source,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    worker = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("w"))
    await reader.start()
    await worker.start()
    try:
        inputs = await consume(reader, 3)
        async with worker.transaction():
            batch = worker.create_batch()
            for record in inputs:
                batch.append(key=None, value=record.value.upper(), timestamp=None)
            await worker.send_batch(batch, sink, partition=0)
            tp = TopicPartition(source, 0)
            await worker.send_offsets_to_transaction({tp: inputs[-1].offset + 1}, group)

        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(group)
            return tp in offsets and offsets[tp].offset == 3

        await wait_for(committed, timeout=DEADLINE_S, message="offsets committed with the batch")
    finally:
        await worker.stop()
        await reader.stop()

    out = AIOKafkaConsumer(
        sink,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await out.start()
    try:
        written = await consume(out, 3)
    finally:
        await out.stop()
    assert [r.value for r in written] == [b"INPUT-0", b"INPUT-1", b"INPUT-2"]


async def test_a_restart_under_the_same_transactional_id_aborts_the_open_transaction(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, unique: Names
) -> None:
    """A worker killed mid-transaction must not hold readers back: its successor (same worker
    id) fences it, and what the dead one wrote is never read."""
    sink, worker_id = unique("out"), unique("worker")
    await admin.create_topics([NewTopic(sink, num_partitions=1, replication_factor=1)])
    dead = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=worker_id)
    await dead.start()
    await dead.begin_transaction()
    await dead.send_and_wait(sink, b"never committed")

    successor = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=worker_id)
    await successor.start()
    try:
        async with successor.transaction():
            await successor.send_and_wait(sink, b"after the restart")
    finally:
        await successor.stop()
        with contextlib.suppress(Exception):
            await dead.stop()

    out = AIOKafkaConsumer(
        sink,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await out.start()
    try:
        (only,) = await consume(out, 1)
        assert await out.getmany(timeout_ms=1000) == {}
    finally:
        await out.stop()
    assert only.value == b"after the restart"

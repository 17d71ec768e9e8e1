"""The state of a stream service, kept in one compacted changelog topic.

Partition `p` of the changelog holds the state of input partition `p`: a record per key (the
latest wins under compaction, an empty value deletes), written in the same transaction as the
outputs and input offsets that go with it. A worker that takes over a partition reads it back
from the start with `read_committed`, so it sees exactly the state that matches the committed
offsets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from aiokafka import TopicPartition

from impactline.runtime.kafka import new_consumer

CLOCK_KEY = "__clock__"
"""The key under which a partition's watermark is stored with its state."""


def state_topic(service: str, prefix: str = "") -> str:
    """The changelog topic of a stream service (compacted, one partition per input partition)."""
    return f"{prefix}impactline-{service}-state"


def encode(value: Any) -> bytes | None:
    return None if value is None else orjson.dumps(value)


def decode(value: bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


async def restore(
    bootstrap: str, topic: str, partitions: list[int], **client: Any
) -> dict[int, dict[str, Any]]:
    """The committed state of `partitions`: for each, the latest value of every live key."""
    if not partitions:
        return {}
    consumer = new_consumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **client,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # For read_committed the end offset is the last stable offset: nothing beyond it
        # belongs to a committed transaction yet.
        ends = await consumer.end_offsets(tps)
        state: dict[int, dict[str, Any]] = {p: {} for p in partitions}
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batches.items():
                for key, value in _entries(records):
                    if value is None:
                        state[tp.partition].pop(key, None)
                    else:
                        state[tp.partition][key] = value
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return state
    finally:
        await consumer.stop()


def _entries(records: list[Any]) -> Iterator[tuple[str, Any]]:
    for record in records:
        if record.key is None:
            continue
        yield record.key.decode(), decode(record.value)

"""Everything a batch writes, gathered per topic partition and sent as a few large batches.

Producing one message at a time costs far more than the message (a coroutine, metadata checks,
an accumulator lookup each); a worker instead encodes each output once, appends it to the
record batch of its topic partition and hands the producer whole batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from impactline.core import cloudevents
from impactline.core.contracts import Contract
from impactline.core.processing import Output
from impactline.core.topics import Topic
from impactline.runtime.kafka import topic_name

Headers = list[tuple[str, bytes]]


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner puts `key` in (murmur2, as the Java client)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class Pending:
    """Records waiting to be sent, per (topic name, partition)."""

    records: dict[tuple[str, int], list[tuple[bytes, bytes | None, Headers]]] = field(
        default_factory=dict
    )
    count: int = 0

    def add(
        self, topic: str, partition: int, key: bytes, value: bytes | None, headers: Headers
    ) -> None:
        self.records.setdefault((topic, partition), []).append((key, value, headers))
        self.count += 1


class Encoder:
    """Encodes outputs as CloudEvents in Kafka binary mode, once per event.

    An impact event routed to several topics is encoded once and its bytes reused.
    """

    def __init__(self, source: str, prefix: str, partitions: Mapping[str, int]) -> None:
        self.source = source
        self.prefix = prefix
        self.partitions = partitions

    def add(self, pending: Pending, outputs: Iterable[Output], traceparent: str | None) -> None:
        encoded: dict[tuple[int, str], tuple[bytes, Headers]] = {}
        extra = {"traceparent": traceparent} if traceparent else None
        for output in outputs:
            cache_key = (id(output.event), output.topic.ce_type)
            value_headers = encoded.get(cache_key)
            if value_headers is None:
                value_headers = cloudevents.encode(
                    output.topic,
                    output.event,
                    source=self.source,
                    subject=output.key,
                    extra_headers=extra,
                )
                encoded[cache_key] = value_headers
            name = topic_name(output.topic, self.prefix)
            key = output.key.encode()
            pending.add(name, partition_of(key, self.partitions[name]), key, *value_headers)

    def one(self, topic: Topic, event: Contract, key: str) -> tuple[bytes, Headers]:
        return cloudevents.encode(topic, event, source=self.source, subject=key)


async def send(producer: AIOKafkaProducer, pending: Pending) -> list[asyncio.Future[Any]]:
    """Hand every pending record to the producer as record batches; returns their futures."""
    futures: list[asyncio.Future[Any]] = []
    for (topic, partition), records in pending.records.items():
        batch = producer.create_batch()
        for key, value, headers in records:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"a record for {topic} is larger than a whole batch")
        if batch.record_count():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures

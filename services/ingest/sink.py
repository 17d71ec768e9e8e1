"""Where accepted events go: the port ingest depends on and its Kafka adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract, DeadLetter
from impactline.ingest.deadletters import letter_headers
from impactline.runtime.kafka import topic_name
from impactline.runtime.telemetry import current_trace_headers

SOURCE = "impactline/ingest"


class SinkUnavailable(Exception):
    """The events could not be made durable; nothing was acknowledged."""


class EventSink(Protocol):
    async def put(self, topic: topics.Topic, events: Sequence[tuple[str, Contract]]) -> None:
        """Make every (key, event) durable or raise SinkUnavailable."""

    async def ready(self) -> bool: ...


async def put_all(
    sink: EventSink, batches: Mapping[topics.Topic, Sequence[tuple[str, Contract]]]
) -> None:
    """Every batch durable (produced concurrently, so one broker round trip), or SinkUnavailable."""
    pending = [sink.put(topic, events) for topic, events in batches.items() if events]
    if len(pending) == 1:
        await pending[0]
        return
    results = await asyncio.gather(*pending, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class KafkaSink:
    def __init__(self, producer: AIOKafkaProducer, prefix: str = "", timeout_s: float = 10.0):
        self._producer = producer
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._partitioner = DefaultPartitioner()

    async def put(
        self,
        topic: topics.Topic,
        events: Sequence[tuple[str, Contract]],
        *,
        headers: Sequence[Mapping[str, str] | None] | None = None,
    ) -> None:
        """Produce every event; returns once the broker acknowledged all of them (acks=all).

        Records are grouped into one batch per partition (what `send` does one record and one
        future at a time), which makes large requests several times cheaper.

        `headers`, one entry per event, adds headers to that event's message (a trace context
        carried over from where the event came from, for instance).
        """
        name = topic_name(topic, self._prefix)
        # One trace context per request: computing it once keeps a large batch cheap.
        trace = current_trace_headers()
        try:
            async with asyncio.timeout(self._timeout_s):
                partitions = sorted(await self._producer.partitions_for(name))
                builders: dict[int, Any] = {}
                pending: list[asyncio.Future[Any]] = []
                for n, (key, event) in enumerate(events):
                    extra = dict(trace)
                    if headers is not None and headers[n]:
                        extra.update(headers[n] or {})
                    if isinstance(event, DeadLetter):
                        extra.update(letter_headers(event))
                    value, message_headers = cloudevents.encode(
                        topic, event, source=SOURCE, subject=key, extra_headers=extra
                    )
                    key_bytes = key.encode()
                    # The producer's own key partitioner, so keys land where any client puts them.
                    partition = self._partitioner(key_bytes, partitions, partitions)
                    batch = builders.get(partition)
                    if batch is None:
                        batch = builders[partition] = self._producer.create_batch()
                    appended = batch.append(
                        key=key_bytes, value=value, timestamp=None, headers=message_headers
                    )
                    if appended is not None:
                        continue
                    # Full: send what it holds and start the next batch with this record.
                    if batch.record_count():
                        pending.append(await self._submit(batch, name, partition))
                    batch = builders[partition] = self._producer.create_batch()
                    appended = batch.append(
                        key=key_bytes, value=value, timestamp=None, headers=message_headers
                    )
                    if appended is None:
                        # Larger than a batch: the producer sizes a request for it alone.
                        del builders[partition]
                        pending.append(
                            await self._producer.send(
                                name,
                                value=value,
                                key=key_bytes,
                                headers=message_headers,
                                partition=partition,
                            )
                        )
                for partition, batch in builders.items():
                    pending.append(await self._submit(batch, name, partition))
                # Acknowledge the request only once the broker confirmed every record.
                await asyncio.gather(*pending)
        except (KafkaError, TimeoutError) as exc:
            raise SinkUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _submit(self, batch: Any, name: str, partition: int) -> asyncio.Future[Any]:
        batch.close()
        future: asyncio.Future[Any] = await self._producer.send_batch(
            batch, name, partition=partition
        )
        return future

    async def ready(self) -> bool:
        try:
            async with asyncio.timeout(2):
                partitions = await self._producer.partitions_for(
                    topic_name(topics.TELEMETRY, self._prefix)
                )
                return bool(partitions)
        except (KafkaError, TimeoutError):
            return False


class MemorySink:
    """Keeps events in memory: for tests, and for trying formats without a broker.

    `broken` makes every put fail as an unreachable broker would.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Contract]] = []
        self.broken = False

    async def put(self, topic: topics.Topic, events: Sequence[tuple[str, Contract]]) -> None:
        if self.broken:
            raise SinkUnavailable("broker unreachable")
        self.events += [(topic.name, key, event) for key, event in events]

    async def ready(self) -> bool:
        return not self.broken

    def on(self, topic: topics.Topic) -> list[Contract]:
        """The events put on `topic`, in order."""
        return [event for name, _, event in self.events if name == topic.name]

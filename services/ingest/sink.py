"""Where accepted events go: the port ingest depends on and its Kafka adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

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


def subject_of(event: Contract, key: str) -> str:
    """The CloudEvents subject: the CI or service the event is about (the partition key may be
    its correlation domain)."""
    return str(getattr(event, "ci_id", None) or getattr(event, "service_id", None) or key)


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

    async def put(
        self,
        topic: topics.Topic,
        events: Sequence[tuple[str, Contract]],
        *,
        headers: Sequence[Mapping[str, str] | None] | None = None,
    ) -> None:
        """Produce every event; returns once the broker acknowledged all of them (acks=all).

        One `send` per record on purpose: aiokafka's `send_batch` is several times cheaper per
        record, but it queues at most one batch per partition and, under concurrent requests,
        gives up with spurious timeouts while waiting for its turn.

        `headers`, one entry per event, adds headers to that event's message (a trace context
        carried over from where the event came from, for instance).
        """
        name = topic_name(topic, self._prefix)
        # One trace context per request: computing it once keeps a large batch cheap.
        trace = current_trace_headers()
        send = self._producer.send
        try:
            async with asyncio.timeout(self._timeout_s):
                pending = []
                for n, (key, event) in enumerate(events):
                    extra = dict(trace)
                    if headers is not None and headers[n]:
                        extra.update(headers[n] or {})
                    if isinstance(event, DeadLetter):
                        extra.update(letter_headers(event))
                    value, message_headers = cloudevents.encode(
                        topic,
                        event,
                        source=SOURCE,
                        subject=subject_of(event, key),
                        extra_headers=extra,
                    )
                    pending.append(
                        await send(name, value=value, key=key.encode(), headers=message_headers)
                    )
                # Acknowledge the request only once the broker confirmed every record.
                await asyncio.gather(*pending)
        except (KafkaError, TimeoutError) as exc:
            raise SinkUnavailable(f"{type(exc).__name__}: {exc}") from exc

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

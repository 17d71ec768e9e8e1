"""Where accepted events go: the port ingest depends on and its Kafka adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from impactline.core import topics
from impactline.core.contracts import Contract
from impactline.runtime.kafka import message_for, topic_name


class SinkUnavailable(Exception):
    """The events could not be made durable; nothing was acknowledged."""


class EventSink(Protocol):
    async def put(self, topic: topics.Topic, events: Sequence[tuple[str, Contract]]) -> None:
        """Make every (key, event) durable or raise SinkUnavailable."""

    async def ready(self) -> bool: ...


class KafkaSink:
    def __init__(self, producer: AIOKafkaProducer, prefix: str = "", timeout_s: float = 10.0):
        self._producer = producer
        self._prefix = prefix
        self._timeout_s = timeout_s

    async def put(self, topic: topics.Topic, events: Sequence[tuple[str, Contract]]) -> None:
        name = topic_name(topic, self._prefix)
        try:
            async with asyncio.timeout(self._timeout_s):
                pending = []
                for key, event in events:
                    value, headers = message_for(
                        topic, event, source="impactline/ingest", subject=key
                    )
                    pending.append(
                        await self._producer.send(
                            name, value=value, key=key.encode(), headers=headers
                        )
                    )
                # Acknowledge the request only once the broker confirmed every record (acks=all).
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

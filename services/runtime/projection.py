"""Read models: consume topics in batches, apply each batch durably, then commit the offsets.

The apply step must be idempotent (keyed by event id): after a crash between apply and commit
the batch is delivered again and must change nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaProducer

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract
from impactline.runtime.db import TRANSIENT
from impactline.runtime.kafka import dead_letter_for, new_consumer, publish, topic_name

log = logging.getLogger(__name__)
Apply = Callable[[list[Contract]], Awaitable[object]]


class Projection:
    def __init__(
        self,
        name: str,
        bootstrap: str,
        sources: Sequence[topics.Topic],
        apply: Apply,
        producer: AIOKafkaProducer,
        *,
        prefix: str = "",
        batch_size: int = 500,
        process: str = "api",
    ) -> None:
        self.name = name
        self.process = process
        self.apply = apply
        self.producer = producer
        self.prefix = prefix
        self.by_name = {topic_name(t, prefix): t for t in sources}
        self.consumer = new_consumer(
            *self.by_name,
            bootstrap_servers=bootstrap,
            group_id=f"{prefix}impactline-{name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
        )
        self._task: asyncio.Task[None] | None = None
        self.applied = 0

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"projection-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            events: list[Contract] = []
            for records in batches.values():
                for msg in records:
                    topic = self.by_name[msg.topic]
                    try:
                        events.append(cloudevents.decode(topic, msg.value, msg.headers).event)
                    except cloudevents.DecodeError as exc:
                        letter = dead_letter_for(
                            reason=str(exc),
                            source=f"{self.process}/{self.name}",
                            value=msg.value,
                            headers=msg.headers,
                            topic=msg.topic,
                            partition=msg.partition,
                            offset=msg.offset,
                        )
                        await publish(
                            self.producer,
                            topics.DEAD_LETTERS,
                            letter,
                            key=self.name,
                            source=f"impactline/{self.process}/{self.name}",
                            prefix=self.prefix,
                        )
            await self._apply_until_done(events)
            await self.consumer.commit()

    async def _apply_until_done(self, events: list[Contract]) -> None:
        delay = 0.5
        while True:
            try:
                await self.apply(events)
                self.applied += len(events)
                return
            except TRANSIENT as exc:
                # The database is away: keep the batch and try again; offsets stay uncommitted.
                log.warning(
                    "%s: applying %d events failed (%s); retrying", self.name, len(events), exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

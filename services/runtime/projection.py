"""Read models: consume topics in batches, apply each batch durably, then commit the offsets.

The apply step must be idempotent (keyed by event id): after a crash between apply and commit
the batch is delivered again and must change nothing.

A record the database refuses (a value it cannot store, a constraint it breaks) goes to the
dead-letter topic with the database's reason, and the read model goes on with the others: the
batch is applied in halves until the refused records are found. Any other failure ends the run;
the process's task watcher logs it and runs the projection again from the committed offsets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract
from impactline.runtime.db import TRANSIENT
from impactline.runtime.kafka import (
    READ_MODEL_FETCH,
    dead_letter_for,
    new_consumer,
    publish,
    topic_name,
)
from impactline.runtime.settings import Settings
from impactline.runtime.tasks import BackgroundTasks

log = logging.getLogger(__name__)
Apply = Callable[[list[Contract]], Awaitable[object]]

# What the database says about one record rather than about itself: bad data (class 22) or a
# broken integrity constraint (class 23).
REFUSED = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


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
            **READ_MODEL_FETCH,
        )
        self.applied = 0
        self.dead_lettered = 0
        self._tasks: BackgroundTasks | None = None

    @property
    def task_name(self) -> str:
        return f"projection-{self.name}"

    async def start(self, tasks: BackgroundTasks) -> None:
        await self.consumer.start()
        self._tasks = tasks
        tasks.start(self.task_name, self.run)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def run(self) -> None:
        """Apply batches until cancelled; a run after a failure starts at the committed offsets,
        so the batch that was in hand is read again."""
        await self._rewind()
        while True:
            batches = await self.consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            events: list[tuple[Any, Contract]] = []
            for records in batches.values():
                for msg in records:
                    topic = self.by_name[msg.topic]
                    try:
                        events.append(
                            (msg, cloudevents.decode(topic, msg.value, msg.headers).event)
                        )
                    except cloudevents.DecodeError as exc:
                        await self._dead_letter(msg, str(exc))
            await self._apply_until_done(events)
            await self.consumer.commit()

    async def _rewind(self) -> None:
        for tp in self.consumer.assignment():
            committed = await self.consumer.committed(tp)
            if committed is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    async def _apply_until_done(self, events: list[tuple[Any, Contract]]) -> None:
        delay = 0.5
        while True:
            try:
                await self.apply([event for _, event in events])
                self.applied += len(events)
                return
            except TRANSIENT as exc:
                # The database is away: keep the batch and try again; offsets stay uncommitted.
                log.warning(
                    "%s: applying %d events failed (%s); retrying", self.name, len(events), exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            except REFUSED as exc:
                await self._split(events, exc)
                return

    async def _split(self, events: list[tuple[Any, Contract]], exc: Exception) -> None:
        """Apply the halves separately until the refused records stand alone."""
        if len(events) == 1:
            msg, event = events[0]
            reason = f"the read model's database refused the event: {type(exc).__name__}: {exc}"
            log.error("%s: event %s to dead letters (%s)", self.name, event.id, reason)
            await self._dead_letter(msg, reason)
            return
        middle = len(events) // 2
        # In order: a later event of the same key must not be applied before an earlier one.
        await self._apply_until_done(events[:middle])
        await self._apply_until_done(events[middle:])

    async def _dead_letter(self, msg: Any, reason: str) -> None:
        letter = dead_letter_for(
            reason=reason,
            source=f"{self.process}/{self.name}",
            value=msg.value,
            headers=msg.headers,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
        )
        delay = 0.5
        while True:
            try:
                await publish(
                    self.producer,
                    topics.DEAD_LETTERS,
                    letter,
                    key=self.name,
                    source=f"impactline/{self.process}/{self.name}",
                    prefix=self.prefix,
                )
                self.dead_lettered += 1
                return
            except KafkaError as exc:
                # The offsets stay uncommitted, so waiting for the broker loses nothing.
                log.warning("%s: dead letter not sent yet (%s); retrying", self.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


async def start_projection(
    name: str,
    settings: Settings,
    sources: Sequence[topics.Topic],
    apply: Apply,
    producer: AIOKafkaProducer,
    tasks: BackgroundTasks,
    *,
    process: str = "api",
) -> Projection:
    """A read model of `sources` projected by `apply`, running as one of `tasks`."""
    projection = Projection(
        name,
        settings.require_kafka(),
        sources,
        apply,
        producer,
        prefix=settings.topic_prefix,
        process=process,
    )
    await projection.start(tasks)
    return projection

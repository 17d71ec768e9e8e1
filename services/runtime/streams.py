"""Faust plumbing shared by the stream processors (correlate, impact).

Messages are CloudEvents in binary mode, so topics carry raw bytes and the agents decode them with
the contracts; a message that does not decode goes to the dead-letter topic and the agent moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import faust
from aiokafka.partitioner import murmur2
from faust.types import EventT
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract, Tick
from impactline.runtime.catalog_source import CatalogHolder, follow_catalog
from impactline.runtime.kafka import dead_letter_for, message_for, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.telemetry import context_from_headers

log = logging.getLogger(__name__)


def create_stream_app(name: str, settings: Settings) -> faust.App:
    """A Faust app for one stream service, on the configured broker, with in-memory tables.

    Tables are rebuilt from their changelog topics when a worker starts, so the in-memory store
    loses nothing that was committed.
    """
    return faust.App(
        f"{settings.topic_prefix}impactline-{name}",
        broker=f"kafka://{settings.require_kafka()}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        table_cleanup_interval=30.0,
        broker_commit_every=100,
        # A killed worker's partitions move after this long, not Faust's default minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        broker_commit_interval=1.0,
        autodiscover=False,
    )


class Rejected(Exception):
    """A handler's word that this input can never be processed as it is (e.g. an unknown CI)."""


Handler = Callable[..., Awaitable[None]]


class StreamIO:
    """Typed reading and writing of registry topics for one Faust app."""

    def __init__(self, app: faust.App, settings: Settings, source: str) -> None:
        self.app = app
        self.settings = settings
        self.source = source
        self.tracer = trace.get_tracer(f"impactline.{source}")
        self._topics: dict[str, faust.TopicT] = {}
        self.dead_letters = self.topic(topics.DEAD_LETTERS)

    def topic(self, topic: topics.Topic | str) -> faust.TopicT:
        name = topic_name(topic, self.settings.topic_prefix)
        if name not in self._topics:
            self._topics[name] = self.app.topic(
                name,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
            )
        return self._topics[name]

    async def consume(
        self,
        topic: topics.Topic,
        stream: faust.StreamT,
        handler: Handler,
        span_name: str,
        *,
        with_partition: bool = False,
    ) -> None:
        """Run `handler` on each decoded event of `stream`, inside the trace the message carries.

        Input that cannot be processed (it does not decode, the handler rejects it, or the handler
        fails on it) goes to the dead-letter topic with the reason and the agent moves on: one bad
        record never stops a worker. Transient failures are retried inside the handler's sinks.
        """
        async for event in stream.events():
            try:
                envelope = cloudevents.decode(topic, event.value, _header_items(event))
            except cloudevents.DecodeError as exc:
                await self.dead_letter(event, str(exc))
                continue
            ctx = context_from_headers(envelope.headers)
            with self.tracer.start_as_current_span(span_name, context=ctx, kind=SpanKind.CONSUMER):
                try:
                    if with_partition:
                        await handler(envelope.event, event.message.partition)
                    else:
                        await handler(envelope.event)
                except Rejected as exc:
                    await self.dead_letter(event, str(exc))
                except Exception as exc:
                    log.exception("%s failed on a message of %s", span_name, topic.name)
                    await self.dead_letter(event, f"{type(exc).__name__}: {exc}")

    async def send(
        self, topic: topics.Topic | str, event: Contract, *, key: str, registry: topics.Topic
    ) -> None:
        """Produce and wait until the broker has it, before the input offset may be committed."""
        value, headers = message_for(
            registry, event, source=f"impactline/{self.source}", subject=key
        )
        fut = await self.topic(topic).send(key=key.encode(), value=value, headers=headers)
        await fut

    async def dead_letter(self, event: EventT, reason: str) -> None:
        msg = event.message
        log.warning("dead-lettering %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, reason)
        letter = dead_letter_for(
            reason=reason,
            source=self.source,
            value=event.value,
            headers=_header_items(event),
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
        )
        await self.send(topics.DEAD_LETTERS, letter, key=self.source, registry=topics.DEAD_LETTERS)


def _header_items(event: EventT) -> list[tuple[str, bytes | None]]:
    headers = event.headers or {}
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k, v) for k, v in items]


def run_worker(app: faust.App, loglevel: str = "info") -> None:
    """Run `app` in this process until SIGINT/SIGTERM, then shut down cleanly."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner puts `key` in (murmur2, as the Java client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def local_keys(table: faust.Table, partition: int, partitions: int) -> list[str]:
    """Keys of `table` that live in `partition`: the ones a tick on that partition may touch."""
    return [k for k in list(table.keys()) if partition_of(k, partitions) == partition]


def start_ticks(
    app: faust.App, io: StreamIO, tick_topics: list[topics.Topic], every_s: float
) -> None:
    """Send a Tick to every partition of each tick topic every `every_s` seconds.

    Timers then run inside the stream that owns each partition, where table writes belong.
    Every worker sends them; a duplicate tick is harmless because timers are idempotent.
    """

    @app.timer(interval=every_s)
    async def tick() -> None:
        now = Tick()
        for topic in tick_topics:
            value, headers = message_for(topic, now, source=f"impactline/{io.source}")
            channel = io.topic(topic)
            for p in range(io.settings.topic_partitions):
                await channel.send(key=b"tick", value=value, headers=headers, partition=p)


def follow_catalog_topic(app: faust.App, holder: CatalogHolder, settings: Settings) -> None:
    """Keep `holder` on the newest published catalog for as long as the worker runs."""

    @app.task
    async def follow() -> None:
        await follow_catalog(holder, settings.require_kafka(), settings.topic_prefix)

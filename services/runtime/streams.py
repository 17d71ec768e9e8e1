"""Faust plumbing shared by the stream processors (correlate, impact).

Messages are CloudEvents in binary mode, so topics carry raw bytes and the agents decode them with
the contracts; a message that does not decode goes to the dead-letter topic and the agent moves on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import faust
from aiokafka import ConsumerRecord
from aiokafka.partitioner import murmur2
from faust.types import TP, Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract, Tick
from impactline.runtime.catalog_source import CatalogHolder, follow_catalog
from impactline.runtime.kafka import client_security, dead_letter_for, message_for, topic_name
from impactline.runtime.metrics import worker_metrics
from impactline.runtime.offsets import Admission, CommitGuard
from impactline.runtime.replay import handling
from impactline.runtime.settings import Settings
from impactline.runtime.staging import Staged, StagedTable
from impactline.runtime.telemetry import context_from_headers

log = logging.getLogger(__name__)


def create_stream_app(name: str, settings: Settings) -> faust.App:
    """A Faust app for one stream service, on the configured broker, with in-memory tables.

    Tables are rebuilt from their changelog topics when a worker starts, so the in-memory store
    loses nothing that was committed.
    """
    app = faust.App(
        f"{settings.topic_prefix}impactline-{name}",
        broker=f"kafka://{settings.require_kafka()}",
        broker_credentials=broker_credentials(settings),
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Outputs of a run of inputs share produce requests; a settle waits for them anyway.
        producer_linger=0.005,
        # Ride out a broker restart instead of failing sends after the default 30 s.
        producer_request_timeout=300.0,
        web_enabled=False,
        table_cleanup_interval=30.0,
        broker_commit_every=100,
        # A killed worker's partitions move after this long, not Faust's default minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        broker_commit_interval=1.0,
        autodiscover=False,
    )
    worker_metrics(app, settings)
    return app


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """Faust's form of KAFKA_SECURITY_PROTOCOL and the SASL / TLS settings."""
    options = client_security(settings)
    if not options:
        return None
    context = options.get("ssl_context")
    if "sasl_mechanism" not in options:
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        mechanism=options["sasl_mechanism"],
        ssl_context=context,
    )


Record = Message | ConsumerRecord
"""An input record: as Faust's fetcher delivered it, or as read directly to fill a gap."""
SETTLE_EVERY = 500
"""Most input records handled between two settles (see `StreamIO.settle`)."""
STALL_S = 5.0
"""How long an input partition may sit behind its end with no progress before its records
are read directly (see `impactline.runtime.offsets`)."""


class Rejected(Exception):
    """A handler's word that this input can never be processed as it is (e.g. an unknown CI)."""


Handler = Callable[..., Awaitable[None]]


@dataclass
class _Input:
    """One input topic of an app and how its records are handled."""

    topic: topics.Topic
    handler: Handler
    span_name: str
    with_partition: bool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    unsettled: list[tuple[TP, int]] = field(default_factory=list)

    def take_unsettled(self) -> list[tuple[TP, int]]:
        taken, self.unsettled = self.unsettled, []
        return taken


class StreamIO:
    """Typed reading and writing of registry topics for one Faust app."""

    def __init__(self, app: faust.App, settings: Settings, source: str) -> None:
        self.app = app
        self.settings = settings
        self.source = source
        self.tracer = trace.get_tracer(f"impactline.{source}")
        self._topics: dict[str, faust.TopicT] = {}
        self._pending: list[asyncio.Future[Any]] = []
        self.commits = CommitGuard(app, settings.require_kafka())
        self._inputs: dict[str, _Input] = {}
        self._tables: list[StagedTable] = []
        self._sinks: list[Staged] = []
        self._settling = asyncio.Lock()
        app.timer(interval=STALL_S)(self._fill_stalled)
        app.on_before_shutdown.connect(self._close)
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
        Each record goes through the handler once and in order, and offsets are committed only up
        to the records it finished (see `impactline.runtime.offsets`).
        """
        name = self.topic(topic).get_topic_name()
        self.commits.guard(name)
        run = _Input(topic, handler, span_name, with_partition)
        self._inputs[name] = run
        queue = getattr(stream.channel, "queue", None)
        async for event in stream.events():
            msg = event.message
            async with run.lock:
                await self._take(run, msg.tp, msg, msg.generation_id)
            # Settle when the fetched input is used up, or every SETTLE_EVERY records under
            # load: one broker round trip for a run of inputs, none of them waiting long.
            if run.unsettled and (
                len(run.unsettled) >= SETTLE_EVERY or queue is None or queue.empty()
            ):
                await self.settle()

    async def _take(self, run: _Input, tp: TP, record: Record, generation: int) -> None:
        admission = self.commits.admit(tp, record.offset, generation)
        if admission is Admission.GAP:
            start = self.commits.offsets.expected(tp)
            assert start is not None
            async for missing in self.commits.missing(tp, start, record.offset):
                await self._handle(run, missing)
                self._processed(run, tp, missing.offset)
            admission = self.commits.admit(tp, record.offset, generation)
        if admission is Admission.PROCESS:
            await self._handle(run, record)
            self._processed(run, tp, record.offset)

    def _processed(self, run: _Input, tp: TP, offset: int) -> None:
        self.commits.processed(tp, offset)
        run.unsettled.append((tp, offset))

    async def _fill_stalled(self) -> None:
        """Handle records of assigned partitions that the fetcher left behind (see offsets)."""
        try:
            stalled = await self.commits.stalled(idle_s=STALL_S)
            for tp, start in stalled.items():
                run = self._inputs.get(tp.topic)
                if run is None:
                    continue
                async with run.lock:
                    if self.commits.offsets.expected(tp) != start:
                        continue  # the stream moved on while we waited for it
                    generation = self.app.consumer_generation_id
                    async for missing in self.commits.missing(tp, start, None):
                        await self._take(run, tp, missing, generation)
                await self.settle()
        except Exception:  # a broker outage, say: the next round tries again
            log.warning("could not check the input partitions for stalls", exc_info=True)

    async def _close(self, _app: faust.App, **_: object) -> None:
        await self.commits.close()

    async def _handle(self, run: _Input, record: Record) -> None:
        headers = _header_items(record)
        try:
            envelope = cloudevents.decode(run.topic, record.value, headers)
        except cloudevents.DecodeError as exc:
            await self.dead_letter(record, str(exc))
            return
        handling(record.topic, record.partition, record.offset)
        ctx = context_from_headers(envelope.headers)
        with self.tracer.start_as_current_span(run.span_name, context=ctx, kind=SpanKind.CONSUMER):
            try:
                if run.with_partition:
                    await run.handler(envelope.event, record.partition)
                else:
                    await run.handler(envelope.event)
            except Rejected as exc:
                await self.dead_letter(record, str(exc))
            except Exception as exc:
                log.exception("%s failed on a message of %s", run.span_name, run.topic.name)
                await self.dead_letter(record, f"{type(exc).__name__}: {exc}")

    async def send(
        self, topic: topics.Topic | str, event: Contract, *, key: str, registry: topics.Topic
    ) -> None:
        """Produce without waiting for the broker's answer: the next `settle` waits for it.

        A send that still fails after the producer's retries ends the process before the input
        is settled, so the input is processed again after the restart.
        """
        value, headers = message_for(
            registry, event, source=f"impactline/{self.source}", subject=key
        )
        fut = await self.topic(topic).send(key=key.encode(), value=value, headers=headers)
        fut.add_done_callback(_exit_on_failed_delivery)
        self._pending.append(fut)

    def staged(self, table: faust.Table) -> StagedTable:
        """`table` with its writes held until the outputs they account for are durable.

        The writes reach the table at settle time, outside the event that caused them, where
        Faust would put each changelog record in the partition of whatever event is current.
        Every table is keyed like the input that writes it, so the key's own partition is the
        partition of that input and the one its state is restored with.
        """
        partitions = self.settings.topic_partitions
        table.partition_for_key = lambda key: partition_of(key, partitions)
        staged = StagedTable(table)
        self._tables.append(staged)
        return staged

    def settle_before_outputs(self, sink: Staged) -> None:
        """Write `sink`'s staged rows at each settle, before the states are stored."""
        self._sinks.append(sink)

    async def settle(self) -> None:
        """Make the effects of every input handled so far durable, then let their offsets be
        committed: staged sink rows written, outputs acknowledged, then states stored.

        Everything is taken without an await in between, so the cut is consistent: a state
        stored here never includes an input whose outputs are not acknowledged.
        """
        async with self._settling:
            handled = [mark for run in self._inputs.values() for mark in run.take_unsettled()]
            rows = [(sink, sink.freeze()) for sink in self._sinks]
            states = [(table, table.freeze()) for table in self._tables]
            pending, self._pending = self._pending, []
            for sink, frozen in rows:
                await sink.flush(frozen)
            if pending:
                await asyncio.gather(*pending)
            for table, frozen in states:
                await table.flush(frozen)
            for tp, offset in handled:
                self.commits.settled(tp, offset)

    async def dead_letter(self, record: Record, reason: str) -> None:
        log.warning(
            "dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason
        )
        letter = dead_letter_for(
            reason=reason,
            source=self.source,
            value=record.value,
            headers=_header_items(record),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        await self.send(topics.DEAD_LETTERS, letter, key=self.source, registry=topics.DEAD_LETTERS)


def _header_items(record: Record) -> list[tuple[str, bytes | None]]:
    headers = record.headers or {}
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k, v) for k, v in items]


def run_worker(app: faust.App, loglevel: str = "info") -> None:
    """Run `app` in this process until SIGINT/SIGTERM, then shut down cleanly."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


@lru_cache(maxsize=1 << 18)
def _exit_on_failed_delivery(fut: asyncio.Future[Any]) -> None:
    if fut.cancelled() or fut.exception() is None:
        return
    log.critical(
        "an output could not be delivered (%s); exiting before the input offset is committed",
        fut.exception(),
    )
    os._exit(70)


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner puts `key` in (murmur2, as the Java client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def local_keys(table: StagedTable, partition: int, partitions: int) -> list[str]:
    """Keys of `table` that live in `partition`: the ones a tick on that partition may touch."""
    return [k for k in list(table.keys()) if partition_of(k, partitions) == partition]


def start_ticks(
    app: faust.App, io: StreamIO, tick_topics: list[topics.Topic], every_s: float
) -> None:
    """Send a Tick to every partition of each tick topic every `every_s` seconds.

    Timers then run inside the stream that owns each partition, where table writes belong.
    Every worker sends them; a duplicate tick is harmless because timers are idempotent.
    """

    clock = io.settings.clock()

    @app.timer(interval=every_s)
    async def tick() -> None:
        now = Tick(time=clock.now())
        for topic in tick_topics:
            value, headers = message_for(topic, now, source=f"impactline/{io.source}")
            channel = io.topic(topic)
            for p in range(io.settings.topic_partitions):
                await channel.send(key=b"tick", value=value, headers=headers, partition=p)


def follow_catalog_topic(app: faust.App, holder: CatalogHolder, settings: Settings) -> None:
    """Keep `holder` on the newest published catalog for as long as the worker runs."""

    source = str(app.conf.id).removeprefix(settings.topic_prefix).removeprefix("impactline-")
    letters = app.topic(
        topic_name(topics.DEAD_LETTERS, settings.topic_prefix),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    async def dead_letter(msg: ConsumerRecord, reason: str) -> None:
        # Every worker reads the whole catalog topic, so each reports a bad message once.
        letter = dead_letter_for(
            reason=reason,
            source=source,
            value=msg.value,
            headers=msg.headers,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
        )
        value, headers = message_for(topics.DEAD_LETTERS, letter, source=f"impactline/{source}")
        await (await letters.send(key=source.encode(), value=value, headers=headers))

    @app.task
    async def follow() -> None:
        await follow_catalog(
            holder, settings.require_kafka(), settings.topic_prefix, on_invalid=dead_letter
        )

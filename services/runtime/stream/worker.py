"""A stream worker: batches in, the pure processor over them, one transaction out.

Each turn of the loop reads what the broker has for the worker's input partitions (up to
`max_records`), runs the stage's task of each partition over its records in order, fires the
timers the partition's watermark has passed, and then writes in ONE Kafka transaction:

- every output the turn produced, as a few large record batches;
- the state keys the turn changed, to the stage's compacted changelog topic;
- the input offsets, with `send_offsets_to_transaction`.

Consumers read with `read_committed`, so an output, the state that accounts for it and the
offset of its input become visible together or not at all: a crash at any point replays the
turn from the last committed state, and nothing is lost or doubled. Side effects outside Kafka
(the impact ledger in PostgreSQL) are made durable by the stage's `flush` before the commit and
are idempotent by event id.

A poison record (undecodable, or refused by the processor) goes to the dead-letter topic with
its reason in the same transaction; an unexpected error in a processor does the same and is
logged. The worker never stops on one bad record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError, ProducerFenced
from mode import Service
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    wait_exponential,
)

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract
from impactline.core.eventtime import EventClock, Timed, TimePolicy
from impactline.core.processing import Output, Unprocessable
from impactline.runtime.clock import Clock
from impactline.runtime.kafka import (
    STREAM_FETCH,
    client_security,
    dead_letter_for,
    ensure_topics,
    new_consumer,
    topic_name,
)
from impactline.runtime.settings import Settings
from impactline.runtime.stream import changelog
from impactline.runtime.stream.batches import Encoder, Pending, send
from impactline.runtime.stream.metrics import StreamMetrics, VerificationRetries
from impactline.runtime.telemetry import context_from_headers

log = logging.getLogger(__name__)
SENDER_LOG = logging.getLogger("aiokafka.producer.sender")

STOP_GRACE_S = 10.0
"""How long a stop waits for the batch in hand to commit."""
MAX_LINKS = 64
"""Inputs a batch span links to at most (the rest still carry their trace onward)."""


class Task(Protocol):
    """The processing of one input partition (a pure processor)."""

    late: int

    def handle(self, topic: topics.Topic, event: Contract) -> list[Output]: ...
    def advance(self, watermark: datetime) -> list[Output]: ...
    def next_due(self) -> datetime | None: ...
    def load(self, key: str, value: Any) -> None: ...
    def take_dirty(self) -> dict[str, Any]: ...


class Stage(Protocol):
    """A stream service: its inputs, a task per input partition and its side effects."""

    name: str
    inputs: tuple[topics.Topic, ...]

    def task(self) -> Task: ...
    def collect(self, outputs: list[Output], traceparent: str | None) -> None: ...
    async def start(self) -> None: ...
    async def flush(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class _Partition:
    task: Task
    timed: Timed
    stored: tuple[Any, ...] | None = None
    late_seen: int = 0

    @property
    def clock(self) -> EventClock:
        return self.timed.clock


@dataclass
class _Turn:
    pending: Pending = field(default_factory=Pending)
    outputs: list[tuple[list[Output], str | None]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    records: int = 0
    letters: int = 0


class StreamWorker(Service):
    """Runs one `Stage` as a member of its consumer group until stopped."""

    def __init__(
        self,
        stage: Stage,
        settings: Settings,
        *,
        worker_id: str,
        clock: Clock | None = None,
        time_policy: TimePolicy | None = None,
        max_records: int = 2000,
        poll_ms: int = 100,
    ) -> None:
        super().__init__()
        self.stage = stage
        self.settings = settings
        self.clock = clock or settings.clock()
        self.time_policy = time_policy or settings.time_policy()
        self.max_records = max_records
        self.poll_ms = poll_ms
        prefix = settings.topic_prefix
        self.group = f"{prefix}impactline-{stage.name}"
        self.transactional_id = f"{self.group}-{worker_id}"
        self.state_topic = changelog.state_topic(stage.name, prefix)
        self.inputs = {topic_name(t, prefix): t for t in stage.inputs}
        self.parts: dict[int, _Partition] = {}
        self.partitions: dict[str, int] = {}
        self.encoder = Encoder(f"impactline/{stage.name}", prefix, self.partitions)
        self.tracer = trace.get_tracer(f"impactline.{stage.name}")
        self.metrics = StreamMetrics(stage.name)
        self._lock = asyncio.Lock()
        self._committed: dict[TopicPartition, int] = {}
        self._producer: AIOKafkaProducer | None = None
        self._consumer: Any = None
        self.ready = asyncio.Event()
        self.security = client_security(settings)
        self._quiet = VerificationRetries(self.metrics)

    # -- lifecycle -----------------------------------------------------------------------------

    async def on_start(self) -> None:
        settings = self.settings
        bootstrap = settings.require_kafka()
        await ensure_topics(
            bootstrap,
            list(self.stage.inputs),
            prefix=settings.topic_prefix,
            default_partitions=settings.topic_partitions,
        )
        await ensure_topics(
            bootstrap,
            [_state_topic(self.state_topic)],
            default_partitions=settings.topic_partitions,
        )
        await self.stage.start()
        self._producer = await self._start_producer()
        SENDER_LOG.addFilter(self._quiet)
        self._consumer = new_consumer(
            bootstrap_servers=bootstrap,
            group_id=self.group,
            client_id=self.transactional_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            **STREAM_FETCH,
            **self.security,
        )
        self._consumer.subscribe(list(self.inputs), listener=_Rebalance(self))
        await self._consumer.start()
        self.add_future(self._run())

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.require_kafka(),
            client_id=self.transactional_id,
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            max_batch_size=512 * 1024,
            linger_ms=0,
            # A killed worker's open transaction blocks readers until it is fenced (a restart
            # under the same worker id) or times out: keep that short.
            transaction_timeout_ms=10_000,
            request_timeout_ms=300_000,
            # A turn's transaction starts right after the previous one ended; until the broker
            # has written that one's markers it answers "concurrent transactions", and the
            # default 100 ms back-off then lands on the latency of every busy turn.
            retry_backoff_ms=10,
            **self.security,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # the connections it opened on the way
            raise
        return producer

    async def on_stop(self) -> None:
        # The turn in progress ends and commits first, unless it cannot (the broker is away):
        # then it is abandoned, uncommitted, and read again by whoever takes the partitions.
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout=STOP_GRACE_S)
        except TimeoutError:
            log.warning(
                "%s: the batch in hand did not commit within %.0f s of the stop; leaving it "
                "uncommitted (it is processed again after the restart)",
                self.stage.name,
                STOP_GRACE_S,
            )
            self._crash_soon(0)
        try:
            if self._consumer is not None:
                await self._consumer.stop()
            if self._producer is not None:
                await self._producer.stop()
        finally:
            self._lock.release()
            SENDER_LOG.removeFilter(self._quiet)
        await self.stage.stop()

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """The loop; an error it does not know how to handle ends the process, loudly, for
        its supervisor to start it again (a worker that only looks alive is worse)."""
        try:
            await self._consume()
        except asyncio.CancelledError:
            raise
        except BaseException:
            log.critical(
                "%s: the stream loop failed; stopping the process", self.stage.name, exc_info=True
            )
            self._crash_soon()

    async def _consume(self) -> None:
        consumer = self._consumer
        while not self.should_stop:
            try:
                batches = await consumer.getmany(
                    timeout_ms=self.poll_ms, max_records=self.max_records
                )
            except KafkaError as exc:
                log.warning("%s: reading input failed (%s); trying again", self.stage.name, exc)
                await asyncio.sleep(1.0)
                continue
            async with self._lock:
                if self.should_stop:
                    return
                try:
                    await self._turn(batches)
                except ProducerFenced:
                    log.critical(
                        "%s: another worker took over transactional id %s; stopping",
                        self.stage.name,
                        self.transactional_id,
                    )
                    self._crash_soon()
                    return
                except Exception:
                    log.exception(
                        "%s: a turn failed; starting again from the committed state",
                        self.stage.name,
                    )
                    await self._reset()

    async def _turn(self, batches: dict[TopicPartition, list[Any]]) -> None:
        started = time.perf_counter()
        wall = self.clock.now()
        turn = _Turn()
        for tp, records in batches.items():
            part = self.parts.get(tp.partition)
            if part is not None and records:
                self._handle(tp, records, part, turn)
        await self._positions(turn)
        for p, part in self.parts.items():
            self._emit(turn, part.timed.tick(wall, await self._caught_up(p)), None)
        await self._resolve_topics(turn)
        for outputs, traceparent in turn.outputs:
            self.encoder.add(turn.pending, outputs, traceparent)
        for p, part in self.parts.items():
            self._stage_state(p, part, turn)
        if not turn.pending.count and not turn.offsets:
            return
        with self.tracer.start_as_current_span(
            f"{self.stage.name} batch", kind=SpanKind.CONSUMER, links=turn.links
        ) as span:
            span.set_attribute("messaging.batch.message_count", turn.records)
            await self.stage.flush()
            await self._commit(turn)
        self.metrics.turn(
            turn.records, turn.pending.count, turn.letters, time.perf_counter() - started
        )
        for p, part in self.parts.items():
            if part.task.late != part.late_seen:
                self.metrics.late(part.task.late - part.late_seen)
                part.late_seen = part.task.late
            if part.clock.newest is not None:
                self.metrics.event_time(p, part.clock.newest)

    def _emit(self, turn: _Turn, outputs: list[Output], traceparent: str | None) -> None:
        if outputs:
            turn.outputs.append((outputs, traceparent))
            self.stage.collect(outputs, traceparent)

    def _handle(
        self, tp: TopicPartition, records: list[Any], part: _Partition, turn: _Turn
    ) -> None:
        topic = self.inputs[tp.topic]
        wall = self.clock.now()
        for record in records:
            turn.records += 1
            headers = record.headers or ()
            try:
                envelope = cloudevents.decode(topic, record.value, headers)
            except cloudevents.DecodeError as exc:
                self._dead_letter(turn, record, str(exc))
                continue
            event = envelope.event
            event_time = getattr(event, "time", None)
            if isinstance(event_time, datetime):
                self._emit(turn, part.timed.arrive(event_time, wall), None)
            traceparent = envelope.headers.get("traceparent")
            if traceparent and len(turn.links) < MAX_LINKS:
                context = trace.get_current_span(context_from_headers(envelope.headers))
                turn.links.append(Link(context.get_span_context()))
            try:
                outputs = part.task.handle(topic, event)
            except Unprocessable as exc:
                self._dead_letter(turn, record, str(exc))
                continue
            except Exception as exc:
                log.exception("%s failed on a message of %s", self.stage.name, topic.name)
                self._dead_letter(turn, record, f"{type(exc).__name__}: {exc}")
                continue
            self._emit(turn, outputs, traceparent)

    def _dead_letter(self, turn: _Turn, record: Any, reason: str) -> None:
        log.warning(
            "dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason
        )
        letter = dead_letter_for(
            reason=reason,
            source=self.stage.name,
            value=record.value,
            headers=record.headers,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            clock=self.clock,
        )
        turn.outputs.append(([Output(topics.DEAD_LETTERS, self.stage.name, letter)], None))
        turn.letters += 1

    def _stage_state(self, p: int, part: _Partition, turn: _Turn) -> None:
        dirty = part.task.take_dirty()
        for key, value in dirty.items():
            turn.pending.add(self.state_topic, p, key.encode(), changelog.encode(value), [])
        clock = (part.clock.floor, part.clock.newest)
        if clock != part.stored and (dirty or turn.pending.count):
            value = {
                "watermark": None if clock[0] is None else clock[0].isoformat(),
                "newest": None if clock[1] is None else clock[1].isoformat(),
            }
            turn.pending.add(
                self.state_topic, p, changelog.CLOCK_KEY.encode(), changelog.encode(value), []
            )
            part.stored = clock

    async def _commit(self, turn: _Turn) -> None:
        producer = self._producer
        assert producer is not None
        async with producer.transaction():  # aborted if anything in it fails
            await send(producer, turn.pending)
            if turn.offsets:
                await producer.send_offsets_to_transaction(turn.offsets, self.group)
        self._committed.update(turn.offsets)

    async def _positions(self, turn: _Turn) -> None:
        """Offsets to commit: the consumer's position of every partition that moved, which is
        past the transaction markers after its last record (committing the last record's
        offset + 1 would leave a marker forever uncommitted)."""
        for tp in self._consumer.assignment():
            position = await self._consumer.position(tp)
            if position > self._committed.get(tp, -1):
                turn.offsets[tp] = position

    async def _caught_up(self, p: int) -> bool:
        """Whether every input partition `p` has been read to its end (its last stable offset)."""
        consumer = self._consumer
        for name in self.inputs:
            tp = TopicPartition(name, p)
            if tp not in consumer.assignment():
                continue
            end = consumer.last_stable_offset(tp)
            if end is None or end < 0:
                end = consumer.highwater(tp)
            if end is None or await consumer.position(tp) < end:
                return False
        return True

    async def _resolve_topics(self, turn: _Turn) -> None:
        """Learn the partition count of every topic this turn writes to (creating routed impact
        topics on first use)."""
        wanted: dict[str, topics.Topic] = {}
        for outputs, _ in turn.outputs:
            for output in outputs:
                name = topic_name(output.topic, self.settings.topic_prefix)
                if name not in self.partitions:
                    wanted[name] = output.topic
        if self.state_topic not in self.partitions:
            wanted[self.state_topic] = _state_topic(self.state_topic)
        for name, topic in wanted.items():
            if name != self.state_topic:  # created at start
                await ensure_topics(
                    self.settings.require_kafka(),
                    [topic],
                    prefix=self.settings.topic_prefix,
                    default_partitions=self.settings.topic_partitions,
                )
            assert self._producer is not None
            self.partitions[name] = len(await self._producer.partitions_for(name))

    # -- partitions ----------------------------------------------------------------------------

    async def on_assigned(self, partitions: set[int]) -> None:
        async with self._lock:
            for p in list(self.parts):
                if p not in partitions:
                    del self.parts[p]
            missing = sorted(partitions - set(self.parts))
            await self._restore(missing)
            self.ready.set()
        log.info("Worker ready: %s holds partitions %s", self.stage.name, sorted(partitions))

    async def _restore(self, partitions: list[int]) -> None:
        if not partitions:
            return
        started = time.perf_counter()
        state = await changelog.restore(
            self.settings.require_kafka(),
            self.state_topic,
            partitions,
            **self.security,
        )
        wall = self.clock.now()
        keys = 0
        for p in partitions:
            task = self.stage.task()
            part = _Partition(task, Timed(task, EventClock(self.time_policy)))
            for key, value in state[p].items():
                if key == changelog.CLOCK_KEY:
                    _restore_clock(part, value, wall)
                    continue
                try:
                    part.task.load(key, value)
                    keys += 1
                except Exception as exc:
                    # A damaged key must not block its partition: start that key afresh.
                    log.error("%s: dropping stored state %r: %s", self.stage.name, key, exc)
            self.parts[p] = part
        log.info(
            "%s: restored %d keys of partitions %s in %.2fs",
            self.stage.name,
            keys,
            partitions,
            time.perf_counter() - started,
        )

    async def _reset(self) -> None:
        """Forget what is in memory and continue from the committed state and offsets, with a
        new producer: the failed turn may have left the old one's transaction, or its sender,
        broken for good (aiokafka ends the sender when a connection drops during a coordinator
        lookup). A broker that is away is waited for, so the worker rides an outage out;
        anything else it cannot recover from ends the process."""
        partitions = sorted(self.parts)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(KafkaError),
                wait=wait_exponential(multiplier=0.5, max=10),
                before_sleep=before_sleep_log(log, logging.WARNING),
                reraise=True,
            ):
                with attempt:
                    self.parts.clear()
                    await self._replace_producer()
                    await self._restore(partitions)
                    await self._seek_committed()
        except Exception:
            log.exception("%s: could not restore the committed state; stopping", self.stage.name)
            self._crash_soon()

    async def _seek_committed(self) -> None:
        committed = {}
        for tp in self._consumer.assignment():
            committed[tp] = await self._consumer.committed(tp)
        self._committed = {tp: o for tp, o in committed.items() if o is not None}
        for tp, offset in committed.items():
            if offset is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, offset)

    async def _replace_producer(self) -> None:
        old, self._producer = self._producer, None
        if old is not None:
            try:
                await old.stop()
            except Exception as exc:  # it may have failed already: only its resources are left
                log.debug("%s: stopping the old producer: %s", self.stage.name, exc)
        self._producer = await self._start_producer()

    def _crash_soon(self, code: int = 70) -> None:
        # Nothing is committed beyond what is durable: a restart resumes exactly from there.
        logging.shutdown()
        os._exit(code)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: StreamWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Everything handled so far is committed (turns hold the lock until they commit), and
        # the state in memory is kept for partitions that come back in the new assignment.
        async with self.worker._lock:
            pass

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self.worker.on_assigned({tp.partition for tp in assigned})


def _state_topic(name: str) -> topics.Topic:
    return topics.Topic(
        name,
        Contract,
        "io.impactline.state.v1",
        "state key",
        "Changelog of a stream service's state (internal).",
        compacted=True,
    )


def _restore_clock(part: _Partition, value: Any, wall: datetime) -> None:
    def instant(text: Any) -> datetime | None:
        return None if not text else datetime.fromisoformat(text)

    part.clock.restore(instant(value.get("watermark")), instant(value.get("newest")), wall)
    part.stored = (part.clock.floor, part.clock.newest)

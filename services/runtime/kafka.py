"""Kafka plumbing shared by every process: topic names, creation, producing CloudEvents."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract, DeadLetter
from impactline.runtime.clock import SYSTEM, Clock
from impactline.runtime.settings import Settings
from impactline.runtime.telemetry import current_trace_headers

log = logging.getLogger(__name__)


def client_security(settings: Settings | None = None) -> dict[str, Any]:
    """aiokafka options for the configured KAFKA_SECURITY_PROTOCOL (TLS, SASL); none for
    PLAINTEXT. Read from the environment unless `settings` are given."""
    settings = settings or Settings()
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    sasl = settings.kafka_sasl()
    if sasl is not None:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"], options["sasl_plain_password"] = sasl
    return options


STREAM_FETCH: dict[str, int] = {"fetch_min_bytes": 64 * 1024, "fetch_max_wait_ms": 50}
"""Fetch settings of the hot path's consumers (the stream workers, the raw input).

With the client default (`fetch_min_bytes=1`) the broker answers a fetch as soon as one record
is there, so under a steady trickle every consumer sends a fetch per few records; in
read_committed mode each one costs the broker far more than the records it carries. Measured on
the 2-core box at 200 events/s: the broker used 0.5-0.7 cores, more than any stage, and
letting it hold a fetch until 64 KiB are there or a short wait has passed cut that to
0.2-0.3 cores and halved the ingest-to-impact latency. The wait is the most a quiet hop adds."""

READ_MODEL_FETCH: dict[str, int] = {"fetch_min_bytes": 64 * 1024, "fetch_max_wait_ms": 200}
"""Fetch settings of read models and live views, which may trail the hot path by a moment."""


def new_consumer(*topic_names: str, **options: Any) -> AIOKafkaConsumer:
    """An AIOKafkaConsumer with the configured security options that reads only committed
    records: the stream workers write their outputs in transactions, and an output of an
    aborted one must never be seen."""
    return AIOKafkaConsumer(
        *topic_names, **{"isolation_level": "read_committed", **client_security(), **options}
    )


def new_admin(
    bootstrap: str, client_id: str = "impactline-admin", **options: Any
) -> AIOKafkaAdminClient:
    """An admin client with the configured security options."""
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id=client_id, **{**client_security(), **options}
    )


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Remove every topic whose name starts with `prefix`, changelogs included: what a run
    under its own prefix (a test module, a benchmark, the demo) leaves on a shared broker.
    Returns once the broker no longer lists them, so they can be created again at once."""
    if not prefix:
        return
    admin = new_admin(bootstrap, "impactline-cleanup")
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        deadline = time.monotonic() + 30
        while names and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            names = [t for t in await admin.list_topics() if t.startswith(prefix)]
    except Exception as exc:  # cleanup only: a leftover topic costs disk, not correctness
        log.warning("could not delete the topics under %s: %s", prefix, exc)
    finally:
        await admin.close()


def topic_name(topic: topics.Topic | str, prefix: str = "") -> str:
    """The broker-side name: an optional prefix keeps several deployments apart on one cluster."""
    return f"{prefix}{topic}"


async def ensure_topics(
    bootstrap: str,
    wanted: Iterable[topics.Topic],
    *,
    prefix: str = "",
    default_partitions: int = 4,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet, with the registry's partitions and compaction,
    and return once every partition of them has a leader: a client that produces to or reads
    from a topic before then is refused (NotLeaderForPartition) and has to retry."""
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=topic_name(t, prefix),
                num_partitions=t.partitions or default_partitions,
                replication_factor=replication_factor,
                topic_configs=topic_configs(t),
            )
            for t in wanted
            if topic_name(t, prefix) not in existing
        ]
        if new:
            response = await admin.create_topics(new)
            for name, code, *_ in response.topic_errors:
                # 36: created by another process at the same moment, which is fine.
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"could not create topic {name}: error code {code}")
            log.info("created topics %s", ", ".join(n.name for n in new))
            await _wait_for_leaders(admin, [n.name for n in new])
            await _wait_until_served(bootstrap, new)
    finally:
        await admin.close()


async def _wait_until_served(bootstrap: str, new: list[NewTopic]) -> None:
    """Return once the leader of every new partition answers for it. Metadata names a leader
    a moment before that broker serves the partition; a produce in between is refused with
    NotLeaderForPartition (and logged as a warning by the client). Asking each partition's end
    offset waits out that moment, quietly."""
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(t.name, p) for t in new for p in range(t.num_partitions)]
        await consumer.end_offsets(parts)
    finally:
        await consumer.stop()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0
) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            described = await admin.describe_topics(names)
            if all(
                t["error_code"] == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
                for t in described
            ):
                return
            await asyncio.sleep(0.05)


def topic_configs(topic: topics.Topic) -> dict[str, str]:
    """Broker-side settings of a new topic, from the registry."""
    configs: dict[str, str] = {}
    if topic.compacted:
        configs["cleanup.policy"] = "compact"
    if topic.max_message_bytes is not None:
        configs["max.message.bytes"] = str(topic.max_message_bytes)
    if topic.retention_ms is not None:
        configs["retention.ms"] = str(topic.retention_ms)
    return configs


def new_producer(bootstrap: str, client_id: str, **overrides: object) -> AIOKafkaProducer:
    """An idempotent producer that only reports success once every in-sync replica has it."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": None,
        **client_security(),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def message_for(
    topic: topics.Topic,
    event: Contract,
    *,
    source: str,
    subject: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Value and headers for `event`, carrying the current trace context."""
    extra = current_trace_headers()
    if headers:
        extra.update(headers)
    return cloudevents.encode(topic, event, source=source, subject=subject, extra_headers=extra)


async def publish(
    producer: AIOKafkaProducer,
    topic: topics.Topic,
    event: Contract,
    *,
    key: str,
    source: str,
    prefix: str = "",
    name: str | None = None,
) -> None:
    """Produce one event and wait until the broker has it durably."""
    value, headers = message_for(topic, event, source=source, subject=key)
    await producer.send_and_wait(
        name or topic_name(topic, prefix), value=value, key=key.encode(), headers=headers
    )


# Dead letters keep at most this much of the original value: a message near the broker's size
# limit would otherwise make a dead letter over the limit, which could be neither sent nor skipped.
DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024


def record_time(record: ConsumerRecord) -> datetime:
    """When the broker took `record` (its timestamp, milliseconds since the epoch)."""
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


def dead_letter_for(
    *,
    reason: str,
    source: str,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    clock: Clock = SYSTEM,
) -> DeadLetter:
    """`reason` and the original record, stamped with the time it was given up on."""
    value = value or b""
    if len(value) > DEAD_LETTER_PAYLOAD_BYTES:
        reason = (
            f"{reason} (payload truncated to the first {DEAD_LETTER_PAYLOAD_BYTES} of "
            f"{len(value)} bytes; the original stays at its topic and offset)"
        )
        value = value[:DEAD_LETTER_PAYLOAD_BYTES]
    return DeadLetter(
        reason=reason,
        source=source,
        original_topic=topic,
        original_partition=partition,
        original_offset=offset,
        original_headers=cloudevents.headers_to_dict(headers),
        payload=value.decode("utf-8", errors="replace"),
        time=clock.now(),
    )


async def open_tail(bootstrap: str, name: str, timeout_s: float = 30.0) -> AIOKafkaConsumer:
    """A group-less consumer positioned at the current end of every partition of `name`.

    Only messages produced after this returns are read, which is what a live view or a test
    waiting for "the event my request caused" needs.
    """
    ids = await partition_ids(bootstrap, name, timeout_s)
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(name, p) for p in sorted(ids)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for p in parts:  # resolve the end offsets now, before anything else is produced
            await consumer.position(p)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def partition_ids(bootstrap: str, name: str, timeout_s: float = 30.0) -> list[int]:
    """The partitions of topic `name`, waiting (with a deadline) for it to exist."""
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                (described,) = await admin.describe_topics([name])
                if described["error_code"] == 0 and described["partitions"]:
                    return sorted(p["partition"] for p in described["partitions"])
                await asyncio.sleep(0.2)
    finally:
        await admin.close()

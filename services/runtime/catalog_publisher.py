"""Publish a stored catalog version on the compacted catalog topic, where workers pick it up.

Every version goes out under the one key `catalog`, so compaction keeps the latest version and a
worker that starts later reads it first. Large catalogs make large messages: the producer
compresses with gzip (JSON catalogs shrink about twentyfold) and the topic is created with a
`max.message.bytes` to match. A consumer of the topic must be able to fetch such a message, which
is what `CATALOG_CONSUMER_OPTIONS` says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError

from impactline.core import cloudevents, topics
from impactline.core.catalog import Catalog
from impactline.core.contracts import CatalogPublished, derived_id
from impactline.runtime.catalog_store import CatalogStore, stored_documents
from impactline.runtime.clock import SYSTEM
from impactline.runtime.kafka import (
    ensure_topics,
    new_consumer,
    new_producer,
    publish,
    topic_name,
)
from impactline.runtime.settings import Settings

CATALOG_KEY = "catalog"
SOURCE = "impactline/catalog"
MAX_MESSAGE_BYTES = topics.CATALOG.max_message_bytes or 1024 * 1024
# aiokafka checks the size *before* compression against max_request_size, while the broker
# checks the compressed batch against the topic's max.message.bytes; allow for the ratio.
MAX_UNCOMPRESSED_BYTES = 8 * MAX_MESSAGE_BYTES
CATALOG_CONSUMER_OPTIONS: dict[str, int] = {
    "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
    "fetch_max_bytes": MAX_MESSAGE_BYTES,
}
"""aiokafka consumer options for reading the catalog topic (Faust: `consumer_max_fetch_size`)."""


def new_catalog_producer(bootstrap: str, client_id: str = "impactline-catalog") -> AIOKafkaProducer:
    """A producer for catalog messages: gzip, and room for catalogs of tens of MB."""
    return new_producer(
        bootstrap,
        client_id,
        compression_type="gzip",
        max_request_size=MAX_UNCOMPRESSED_BYTES,
        linger_ms=0,
    )


def catalog_event(
    version: int,
    catalog: Catalog,
    *,
    documents: Mapping[str, Any] | None = None,
    time: datetime | None = None,
) -> CatalogPublished:
    """The event announcing `version`; its id is the same whenever the same version is sent."""
    return CatalogPublished(
        id=derived_id("catalog", str(version), catalog.fingerprint),
        version=version,
        fingerprint=catalog.fingerprint,
        documents=dict(stored_documents(catalog) if documents is None else documents),
        time=time or SYSTEM.now(),
    )


async def publish_catalog(
    producer: AIOKafkaProducer,
    version: int,
    catalog: Catalog,
    prefix: str = "",
    *,
    documents: Mapping[str, Any] | None = None,
) -> CatalogPublished:
    """Send `version` of the catalog and wait until the broker has it durably.

    Pass the `documents` that were stored (`StoredCatalog.documents`) to skip re-serialising
    the catalog; by default they are computed from `catalog`.
    """
    event = catalog_event(version, catalog, documents=documents)
    try:
        await publish(
            producer, topics.CATALOG, event, key=CATALOG_KEY, source=SOURCE, prefix=prefix
        )
    except MessageSizeTooLargeError as exc:
        name = topic_name(topics.CATALOG, prefix)
        raise MessageSizeTooLargeError(
            f"the broker refused catalog version {version} as too large for topic {name}. "
            "A topic created without the catalog's limit keeps the broker's 1 MiB; raise it with "
            f"`kafka-configs.sh --alter --entity-type topics --entity-name {name} "
            f"--add-config max.message.bytes={MAX_MESSAGE_BYTES}`"
        ) from exc
    return event


def catalog_from_event(event: CatalogPublished) -> Catalog:
    """Rebuild the published catalog (validated again, as any catalog input is)."""
    return Catalog.from_documents(event.documents.items())


class CatalogPublisher(Protocol):
    """Where a process announces a stored catalog version (Kafka, or a list in tests)."""

    async def publish(
        self, version: int, catalog: Catalog, documents: Mapping[str, Any] | None = None
    ) -> None: ...


class KafkaCatalogPublisher:
    """Owns a catalog producer; `start()` also creates the catalog topic when it is missing."""

    def __init__(self, bootstrap: str, prefix: str = "", client_id: str = "impactline-catalog"):
        self._bootstrap = bootstrap
        self._prefix = prefix
        self._producer = new_catalog_producer(bootstrap, client_id)

    async def start(self) -> None:
        await ensure_topics(self._bootstrap, [topics.CATALOG], prefix=self._prefix)
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(
        self, version: int, catalog: Catalog, documents: Mapping[str, Any] | None = None
    ) -> None:
        await publish_catalog(self._producer, version, catalog, self._prefix, documents=documents)


async def store_and_publish(settings: Settings, catalog: Catalog, created_by: str) -> int:
    """Make `catalog` the current stored version (a no-op when unchanged), publish it, and
    return its version. Used when a process starts with catalog files (`impactline run`)."""
    store = await CatalogStore.open(settings.require_database())
    try:
        documents = stored_documents(catalog)
        version = await store.replace(catalog, created_by, documents=documents)
    finally:
        await store.close()
    publisher = KafkaCatalogPublisher(settings.require_kafka(), settings.topic_prefix)
    await publisher.start()
    try:
        await publisher.publish(version, catalog, documents)
    finally:
        await publisher.stop()
    return version


async def read_latest_catalog(
    bootstrap: str, prefix: str = "", timeout_s: float = 30.0
) -> CatalogPublished | None:
    """The last version published, or None when nothing was published yet (or no topic).

    Reads one message: the topic has one partition and one key, so the last message is the
    current version. Older versions stay on the topic until compaction removes them, which only
    happens once a log segment is closed; a reader starting at the beginning would see them all.
    """
    name = topic_name(topics.CATALOG, prefix)
    consumer = new_consumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **CATALOG_CONSUMER_OPTIONS
    )
    await consumer.start()
    try:
        if name not in await consumer.topics():
            return None
        partition = TopicPartition(name, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        if end == 0:
            return None
        consumer.seek(partition, end - 1)
        async with asyncio.timeout(timeout_s):
            while True:
                for records in (await consumer.getmany(partition, timeout_ms=1000)).values():
                    if records:
                        event = cloudevents.decode(
                            topics.CATALOG, records[-1].value, records[-1].headers
                        ).event
                        assert isinstance(event, CatalogPublished)
                        return event
    finally:
        await consumer.stop()

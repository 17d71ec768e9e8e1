"""The catalog a worker is using now, and how a new version replaces it without a restart."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from impactline.core import cloudevents, topics
from impactline.core.catalog import Catalog, CatalogGraph, CatalogInvalid, load_catalog
from impactline.runtime.kafka import topic_name

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogVersion:
    version: int
    catalog: Catalog
    graph: CatalogGraph


class CatalogHolder:
    """Holds the current catalog version; listeners hear about each switch."""

    def __init__(self, initial: CatalogVersion) -> None:
        self._current = initial
        self._listeners: list[Callable[[CatalogVersion], None]] = []

    @classmethod
    def from_files(cls, paths: Iterable[Path], version: int = 0) -> CatalogHolder:
        catalog = load_catalog(list(paths))
        return cls(CatalogVersion(version, catalog, catalog.graph))

    @property
    def current(self) -> CatalogVersion:
        return self._current

    def on_switch(self, listener: Callable[[CatalogVersion], None]) -> None:
        self._listeners.append(listener)

    def switch(self, version: int, catalog: Catalog) -> bool:
        """Adopt `catalog` as `version` unless it is not newer; returns whether it switched."""
        if version <= self._current.version:
            return False
        self._current = CatalogVersion(version, catalog, catalog.graph)
        log.info("switched to catalog version %d", version)
        for listener in self._listeners:
            listener(self._current)
        return True


# A catalog of 100k CIs is tens of MB of JSON; the catalog topic allows messages that large.
CATALOG_FETCH_BYTES = 64 * 1024 * 1024


async def follow_catalog(holder: CatalogHolder, bootstrap: str, prefix: str = "") -> None:
    """Switch `holder` to every newer catalog version published on the compacted catalog topic.

    Reads without a consumer group, from the beginning, so every worker sees every version (the
    topic is compacted: the beginning holds the latest). Runs until cancelled.
    """
    name = topic_name(topics.CATALOG, prefix)
    consumer = AIOKafkaConsumer(
        name,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=CATALOG_FETCH_BYTES,
        fetch_max_bytes=CATALOG_FETCH_BYTES,
    )
    await consumer.start()
    try:
        async for msg in consumer:
            try:
                published = cloudevents.decode(topics.CATALOG, msg.value, msg.headers).event
                catalog = Catalog.from_documents(published.documents.items())  # type: ignore[attr-defined]
            except (cloudevents.DecodeError, CatalogInvalid) as exc:
                # Published catalogs were validated by the writer; keep the current one.
                log.error("ignoring catalog message at offset %s: %s", msg.offset, exc)
                continue
            holder.switch(published.version, catalog)  # type: ignore[attr-defined]
    finally:
        await consumer.stop()

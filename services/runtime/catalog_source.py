"""The catalog a worker is using now, and how a new version replaces it without a restart."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import ConsumerRecord

from impactline.core import cloudevents, topics
from impactline.core.catalog import Catalog, CatalogGraph, CatalogInvalid, load_catalog
from impactline.core.contracts import CatalogPublished
from impactline.runtime.catalog_publisher import CATALOG_CONSUMER_OPTIONS, catalog_from_event
from impactline.runtime.kafka import new_consumer, topic_name

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
        _settle_heap()

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
        _settle_heap()
        return True


def _settle_heap() -> None:
    """Keep the catalog out of the garbage collector's full passes.

    A worker's heap is mostly the catalog graph, which lives until the next switch. Scanning it
    on every full collection stalls the event loop for a large part of a second with a big
    catalog, and every event waiting meanwhile pays for it. Frozen objects are still freed by
    reference counting; unfreezing first lets the previous catalog's cycles go.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


Invalid = Callable[[ConsumerRecord, str], Awaitable[None]]


async def follow_catalog(
    holder: CatalogHolder, bootstrap: str, prefix: str = "", on_invalid: Invalid | None = None
) -> None:
    """Switch `holder` to every newer catalog version published on the compacted catalog topic.

    Reads without a consumer group, from the beginning, so every worker sees the latest version
    (the topic is compacted). Of each fetched batch only the newest message is built, off the
    event loop, so a backlog of large versions neither piles up nor stalls heartbeats.
    A message that is not a valid catalog is handed to `on_invalid` with the reason (a dead
    letter) and the current catalog is kept. Runs until cancelled.
    """
    consumer = new_consumer(
        topic_name(topics.CATALOG, prefix),
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **CATALOG_CONSUMER_OPTIONS,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            newest = [records[-1] for records in batches.values() if records]
            for msg in newest:
                await _adopt(holder, msg, on_invalid)
    finally:
        await consumer.stop()


async def _adopt(holder: CatalogHolder, msg: ConsumerRecord, on_invalid: Invalid | None) -> None:
    try:
        event = cloudevents.decode(topics.CATALOG, msg.value, msg.headers).event
        assert isinstance(event, CatalogPublished)
        if event.version <= holder.current.version:
            return
        catalog = await asyncio.to_thread(catalog_from_event, event)
    except (cloudevents.DecodeError, CatalogInvalid) as exc:
        # Published catalogs were validated by their writer; keep the current one.
        log.error("ignoring catalog message at offset %s: %s", msg.offset, exc)
        if on_invalid is not None:
            await on_invalid(msg, str(exc))
        return
    holder.switch(event.version, catalog)

"""The catalog the API answers from: held in memory with the version it was read at.

Reads are answered from memory. At most once per `refresh_interval_s` a read asks the database
for the current version number (one indexed lookup) and reloads only when it moved, so a
replacement made by another process or the CLI shows up within that interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from impactline.core.catalog import BusinessService, Catalog
from impactline.runtime.catalog_store import StoredCatalog, StoredVersion

log = logging.getLogger(__name__)


class CatalogReader(Protocol):
    async def head_version(self) -> int | None: ...

    async def load(self, version: int | None = None) -> StoredCatalog | None: ...


@dataclass(frozen=True)
class Snapshot:
    """One catalog version with the lists the API serves, computed once."""

    info: StoredVersion
    catalog: Catalog
    views: dict[str, tuple[list[str], list[BusinessService]]] = field(init=False)
    """View name (`catalog`, `portfolio`) -> (ids, services), both sorted by id."""

    def __post_init__(self) -> None:
        views = {"catalog": self.catalog.catalog_view(), "portfolio": self.catalog.portfolio()}
        object.__setattr__(
            self, "views", {name: ([s.id for s in items], items) for name, items in views.items()}
        )

    @property
    def version(self) -> int:
        return self.info.version

    @classmethod
    def build(cls, info: StoredVersion, catalog: Catalog) -> Snapshot:
        """CPU-heavy for large catalogs (graph, views): call it off the event loop."""
        catalog.graph  # noqa: B018 - built now so no request waits for it
        return cls(info, catalog)


class CatalogCache:
    def __init__(
        self,
        store: CatalogReader,
        refresh_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interval = refresh_interval_s
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def snapshot(self) -> Snapshot | None:
        """What is held now, without checking the database."""
        return self._snapshot

    async def get(self) -> Snapshot | None:
        """The current catalog, reloaded first when the stored version moved; None if none."""
        if self._clock() - self._checked_at < self._interval:
            return self._snapshot
        try:
            head = await self._store.head_version()
        except Exception:
            if self._snapshot is None:
                raise
            log.warning("cannot check the stored catalog version; answering from memory")
            return self._snapshot
        self._checked_at = self._clock()
        if head is None or (self._snapshot is not None and self._snapshot.version >= head):
            return self._snapshot
        return await self._reload()

    async def watch(self) -> None:
        """Keep the held catalog current without waiting for a request (the live stream reads
        it for every event); runs as a watched task of the API."""
        while True:
            await self.get()
            await asyncio.sleep(max(self._interval, 0.5))

    def adopt(self, snapshot: Snapshot) -> None:
        """Hold `snapshot` unless something newer is held already (a slower reload loses)."""
        if self._snapshot is None or snapshot.version > self._snapshot.version:
            self._snapshot = snapshot

    async def _reload(self) -> Snapshot | None:
        # One reload at a time: a large catalog takes seconds and the others would repeat it.
        async with self._lock:
            head = await self._store.head_version()
            if head is None or (self._snapshot is not None and self._snapshot.version >= head):
                return self._snapshot
            stored = await self._store.load()
            if stored is not None:
                snapshot = await asyncio.to_thread(
                    lambda: Snapshot.build(stored.info, stored.catalog())
                )
                self.adopt(snapshot)
                log.info("catalog version %d loaded", snapshot.version)
            return self._snapshot

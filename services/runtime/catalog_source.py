"""The catalog a worker is using now, and how a new version replaces it without a restart."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from impactline.core.catalog import Catalog, CatalogGraph, load_catalog

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

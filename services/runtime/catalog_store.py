"""The catalog at run time: every version kept in PostgreSQL, the highest version is current.

A replacement is one transaction under an advisory lock, so concurrent replacements get distinct,
increasing versions and readers never see half a catalog. Storing the content that is already
current is a no-op that returns the current version, which makes a retried load or PUT safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

import asyncpg
import orjson

from impactline.core.catalog import Catalog
from impactline.runtime.db import create_pool, migrate, retrying

REPLACE_LOCK = 0x1A4C8  # advisory lock id held while a new version is written

_INFO_COLUMNS = (
    "version, fingerprint, document_names, services, technical_services, cis, domains, "
    "created_at, created_by"
)
_INSERT = """
INSERT INTO catalog_versions (
    fingerprint, documents, document_names, services, technical_services, cis, domains, created_by
) VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8)
RETURNING version
"""


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What is known about one stored catalog version without reading its documents."""

    version: int
    fingerprint: str
    document_names: tuple[str, ...]
    services: int
    technical_services: int
    cis: int
    domains: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    """One stored version with its documents (document name -> parsed content)."""

    info: StoredVersion
    documents: dict[str, Any]

    def catalog(self) -> Catalog:
        return Catalog.from_documents(self.documents.items())


def short_names(names: Sequence[str]) -> dict[str, str]:
    """Document names as stored: the file name without its folders when that stays unique.

    Folders say where a file happened to be on the machine that loaded it, which means nothing
    to the API or to workers elsewhere; a clash keeps the names as given.
    """
    bases = [PurePath(name).name or name for name in names]
    if len(set(bases)) != len(bases):
        return {name: name for name in names}
    return dict(zip(names, bases, strict=True))


def stored_documents(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """The documents of `catalog` as stored and published (JSON-compatible, short names)."""
    documents = catalog.to_documents()
    renamed = short_names([name for name, _ in documents])
    return {renamed[name]: content for name, content in documents}


class CatalogStore:
    """asyncpg adapter for `catalog_versions`."""

    def __init__(self, pool: asyncpg.Pool, *, owns_pool: bool = False) -> None:
        self._pool = pool
        self._owns_pool = owns_pool

    @classmethod
    async def open(cls, database_url: str, *, max_size: int = 5) -> CatalogStore:
        """Apply pending migrations and connect; `close()` releases the pool."""
        await migrate(database_url)
        return cls(await create_pool(database_url, max_size=max_size), owns_pool=True)

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.close()

    async def ping(self) -> None:
        """Raise when the database does not answer."""
        await self._pool.fetchval("SELECT 1")

    async def head_version(self) -> int | None:
        """The current version number only: the cheap check for "did the catalog change"."""
        return await self._pool.fetchval("SELECT max(version) FROM catalog_versions")

    async def head(self) -> StoredVersion | None:
        row = await self._pool.fetchrow(
            f"SELECT {_INFO_COLUMNS} FROM catalog_versions ORDER BY version DESC LIMIT 1"
        )
        return _info(row) if row is not None else None

    async def info(self, version: int) -> StoredVersion | None:
        row = await self._pool.fetchrow(
            f"SELECT {_INFO_COLUMNS} FROM catalog_versions WHERE version = $1", version
        )
        return _info(row) if row is not None else None

    async def versions(self, limit: int = 20) -> list[StoredVersion]:
        """The newest `limit` versions, newest first."""
        rows = await self._pool.fetch(
            f"SELECT {_INFO_COLUMNS} FROM catalog_versions ORDER BY version DESC LIMIT $1", limit
        )
        return [_info(row) for row in rows]

    async def load(self, version: int | None = None) -> StoredCatalog | None:
        """One version with its documents (the current one by default); None when absent."""
        where = "" if version is None else "WHERE version = $1"
        args = () if version is None else (version,)
        row = await self._pool.fetchrow(
            f"SELECT {_INFO_COLUMNS}, documents FROM catalog_versions {where} "
            "ORDER BY version DESC LIMIT 1",
            *args,
        )
        if row is None:
            return None
        return StoredCatalog(_info(row), orjson.loads(row["documents"]))

    async def current(self) -> tuple[int, Catalog] | None:
        """The current version and its catalog; None before the first catalog is stored."""
        stored = await self.load()
        if stored is None:
            return None
        # Validating a large catalog takes seconds; keep the event loop answering meanwhile.
        catalog = await asyncio.to_thread(stored.catalog)
        return stored.info.version, catalog

    async def replace(
        self,
        catalog: Catalog,
        created_by: str,
        *,
        documents: Mapping[str, Any] | None = None,
    ) -> int:
        """Make `catalog` the current catalog and return its version.

        When its fingerprint equals the current one nothing is written and the current version
        is returned. `documents` (default: `stored_documents(catalog)`) is what readers get back.
        """
        row = await asyncio.to_thread(_row_for, catalog, created_by, documents)
        async for attempt in retrying():
            with attempt:
                async with self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", REPLACE_LOCK)
                    head = await conn.fetchrow(
                        "SELECT version, fingerprint FROM catalog_versions "
                        "ORDER BY version DESC LIMIT 1"
                    )
                    if head is not None and head["fingerprint"] == catalog.fingerprint:
                        return int(head["version"])
                    return int(await conn.fetchval(_INSERT, *row))
        raise AssertionError("unreachable")


def _row_for(
    catalog: Catalog, created_by: str, documents: Mapping[str, Any] | None
) -> tuple[object, ...]:
    docs = stored_documents(catalog) if documents is None else documents
    return (
        catalog.fingerprint,
        orjson.dumps(docs).decode(),
        list(docs),
        len(catalog.services),
        len(catalog.technical_services),
        len(catalog.cis),
        len(catalog.graph.domains()),
        created_by,
    )


def _info(row: asyncpg.Record) -> StoredVersion:
    return StoredVersion(
        version=int(row["version"]),
        fingerprint=row["fingerprint"],
        document_names=tuple(row["document_names"]),
        services=row["services"],
        technical_services=row["technical_services"],
        cis=row["cis"],
        domains=row["domains"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )

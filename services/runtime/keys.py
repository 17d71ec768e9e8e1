"""API keys kept in PostgreSQL, and the key store the HTTP services check requests against.

Only the SHA-256 digest of a key is stored. A slow password hash (bcrypt, argon2) protects
low-entropy secrets people choose; these keys are 256 random bits made by `generate_key`, so a
digest cannot be reversed or brute-forced, and a fast unsalted digest lets every request find its
key with one index lookup instead of trying each stored hash.

Lookups are cached for a few seconds (`IMPACTLINE_INGEST_KEY_CACHE_S`, default 5): a request does
not cost a database round trip, and a revoked key stops working within that time.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from impactline.runtime.auth import (
    SCOPES,
    KeyStore,
    KeyStoreUnavailable,
    Principal,
    StaticKeyStore,
    generate_key,
    hash_key,
    known_without_lookup,
)
from impactline.runtime.db import TRANSIENT, create_pool, migrate
from impactline.runtime.settings import Settings

LOOKUP_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What is known about a key; the key itself is never kept."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """The scopes in a stable order; raises ValueError naming any unknown one."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError(f"give at least one scope: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in scopes)


async def create_key(
    conn: asyncpg.Pool | asyncpg.Connection, scopes: Sequence[str], name: str = ""
) -> tuple[ApiKey, str]:
    """A new key with `scopes`; returns its record and the key, which is not stored anywhere."""
    wanted = check_scopes(scopes)
    key = generate_key()
    key_id = "key-" + secrets.token_hex(4)
    row = await conn.fetchrow(
        "INSERT INTO api_keys (key_id, name, scopes, key_hash) VALUES ($1, $2, $3, $4)"
        " RETURNING key_id, name, scopes, created_at, revoked_at",
        key_id,
        name,
        list(wanted),
        hash_key(key),
    )
    assert row is not None  # INSERT ... RETURNING always yields the row
    return _record(row), key


async def revoke_key(conn: asyncpg.Pool | asyncpg.Connection, key_id: str) -> ApiKey | None:
    """Revoke a key (revoking twice keeps the first time); None when no key has that id."""
    row = await conn.fetchrow(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1"
        " RETURNING key_id, name, scopes, created_at, revoked_at",
        key_id,
    )
    return None if row is None else _record(row)


async def list_keys(conn: asyncpg.Pool | asyncpg.Connection) -> list[ApiKey]:
    rows = await conn.fetch(
        "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at"
    )
    return [_record(r) for r in rows]


def _record(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        row["key_id"], row["name"], tuple(row["scopes"]), row["created_at"], row["revoked_at"]
    )


class PostgresKeyStore:
    """Active keys in the `api_keys` table, found by digest."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def lookup(self, key_hash: str) -> Principal | None:
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                row = await self._pool.fetchrow(
                    "SELECT key_id, scopes FROM api_keys"
                    " WHERE key_hash = $1 AND revoked_at IS NULL",
                    key_hash,
                )
        except (*TRANSIENT, TimeoutError, asyncpg.PostgresError) as exc:
            raise KeyStoreUnavailable(f"database: {type(exc).__name__}") from exc
        return None if row is None else Principal(row["key_id"], frozenset(row["scopes"]))


class CachedKeyStore:
    """Reuses each answer of `inner` for `ttl_s` seconds, unknown keys included.

    Bounded, so a client trying random keys cannot grow it without limit; the oldest entries go
    first. Failures are not cached: the next request asks again.
    """

    def __init__(
        self,
        inner: KeyStore,
        ttl_s: float = 5.0,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()

    def known(self, key_hash: str) -> Principal | None:
        """A cached, unexpired answer naming a principal; None otherwise."""
        hit = self._entries.get(key_hash)
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    async def lookup(self, key_hash: str) -> Principal | None:
        now = self._clock()
        hit = self._entries.get(key_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await self._inner.lookup(key_hash)
        if self._ttl_s > 0:
            self._entries.pop(key_hash, None)
            self._entries[key_hash] = (now + self._ttl_s, principal)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return principal


class ChainedKeyStore:
    """Asks each store in turn; the first that knows the key answers."""

    def __init__(self, *stores: KeyStore) -> None:
        self._stores = stores

    def known(self, key_hash: str) -> Principal | None:
        for store in self._stores:
            principal = known_without_lookup(store, key_hash)
            if principal is not None:
                return principal
        return None

    async def lookup(self, key_hash: str) -> Principal | None:
        for store in self._stores:
            principal = await store.lookup(key_hash)
            if principal is not None:
                return principal
        return None


@asynccontextmanager
async def open_key_store(settings: Settings, *, cache_s: float = 5.0) -> AsyncIterator[KeyStore]:
    """The key store an HTTP service checks: `IMPACTLINE_API_KEYS`, then the database's keys.

    Without `DATABASE_URL` only the static keys exist. With it, the schema is brought up to date
    and database lookups are cached for `cache_s` seconds.
    """
    static = StaticKeyStore.from_specs(settings.api_keys)
    if not settings.database_url:
        yield static
        return
    await migrate(settings.database_url)
    pool = await create_pool(settings.database_url, min_size=1, max_size=3)
    try:
        yield ChainedKeyStore(static, CachedKeyStore(PostgresKeyStore(pool), cache_s))
    finally:
        await pool.close()

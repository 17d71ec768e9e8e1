"""PostgreSQL access: connection pools with retries and the migration runner."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
)

log = logging.getLogger(__name__)

# Errors worth waiting out: the server restarting or not accepting connections yet. A restart
# also ends sessions mid-query (admin shutdown) and can leave a pooled connection in a broken
# protocol state (InternalClientError); the next try runs on a fresh connection.
TRANSIENT = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # admin or crash shutdown, cannot connect now
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
MIGRATION_LOCK = 0x1A4C7  # advisory lock id: only one process migrates at a time


def retrying(deadline_s: float | None = 60.0) -> AsyncRetrying:
    """Retry policy for database work: exponential backoff on transient errors.

    With no deadline it waits the outage out, which is what a stream sink wants: its input offset
    stays uncommitted meanwhile, so nothing is lost and nothing skipped.
    """
    return AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_never if deadline_s is None else stop_after_delay(deadline_s),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    async for attempt in retrying():
        with attempt:
            return await asyncpg.create_pool(database_url, min_size=min_size, max_size=max_size)
    raise AssertionError("unreachable")


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, in order."""
    folder = resources.files("impactline.runtime") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name, f.read_text()) for f in files]


async def migrate(database_url: str) -> list[str]:
    """Apply the migrations not applied yet; returns their names. Safe to call concurrently."""
    conn = await _connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            applied = []
            for name, sql in migration_files():
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied.append(name)
                log.info("applied migration %s", name)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await conn.close()


async def _connect(database_url: str) -> asyncpg.Connection:
    async for attempt in retrying():
        with attempt:
            return await asyncpg.connect(database_url)
    raise AssertionError("unreachable")


_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _database_statement(verb: str, name: str) -> str:
    """`CREATE DATABASE` / `DROP DATABASE IF EXISTS ... WITH (FORCE)` for `name`. These take an
    identifier, which cannot travel as a query parameter, so the name must match a strict
    pattern (lower-case letters, digits, underscores) before it goes into the text."""
    if not _DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} must match {_DATABASE_NAME.pattern}")
    if verb == "create":
        return f'CREATE DATABASE "{name}"'
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


async def fresh_database(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`, emptied: dropped with its
    connections if it exists, then created."""
    admin = await asyncpg.connect(server_url)
    try:
        for verb in ("drop", "create"):
            statement = _database_statement(verb, name)
            await admin.execute(statement)
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def drop_database(server_url: str, name: str) -> None:
    statement = _database_statement("drop", name)
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_database(server_url: str, name: str) -> AsyncIterator[str]:
    """A new empty database `name` on the server of `server_url`, dropped afterwards (with
    its connections): systems that share one server, such as test modules and benchmark runs,
    never see each other's rows."""
    url = await fresh_database(server_url, name)
    try:
        yield url
    finally:
        await drop_database(server_url, name)

"""`impactline keys`: API keys for the HTTP services, kept hashed in PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from impactline.runtime.auth import SCOPES
from impactline.runtime.db import migrate
from impactline.runtime.embedded import EmbeddedPostgres
from impactline.runtime.keys import ApiKey, create_key, list_keys, revoke_key
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed in PostgreSQL; the key is shown once).",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


async def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server when `impactline dev up` runs it."""
    if settings.database_url:
        return settings.database_url
    postgres = EmbeddedPostgres(settings)
    if not postgres.status().running:
        raise typer.BadParameter(
            "no database: set DATABASE_URL or start the embedded one with `impactline dev up`",
            param_hint="DATABASE_URL",
        )
    return await postgres.start()


async def _connect() -> asyncpg.Connection:
    url = await database_url(Settings())
    await migrate(url)
    return await asyncpg.connect(url)


@app.command()
def create(
    scope: Annotated[
        list[str],
        typer.Option(help=f"Scope the key grants ({', '.join(SCOPES)}); repeat for several."),
    ],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create a key and print it once; only its SHA-256 digest is stored."""

    async def go() -> tuple[ApiKey, str]:
        conn = await _connect()
        try:
            return await create_key(conn, scope, name)
        finally:
            await conn.close()

    try:
        record, key = asyncio.run(go())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    err.print(
        f"created {record.key_id} ({', '.join(record.scopes)}); the key is shown only now:",
        markup=False,
    )
    out.print(key, markup=False)


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows.")],
) -> None:
    """Revoke a key; the services refuse it within seconds (their lookups are cached briefly)."""

    async def go() -> ApiKey | None:
        conn = await _connect()
        try:
            return await revoke_key(conn, key_id)
        finally:
            await conn.close()

    record = asyncio.run(go())
    if record is None:
        err.print(f"no key with id {key_id!r}; `impactline keys list` shows them", markup=False)
        raise typer.Exit(1)
    out.print(f"revoked {record.key_id} at {record.revoked_at:%Y-%m-%d %H:%M:%S %Z}", markup=False)


@app.command("list")
def list_() -> None:
    """List keys: id, name, scopes, when created and revoked (never the keys themselves)."""

    async def go() -> list[ApiKey]:
        conn = await _connect()
        try:
            return await list_keys(conn)
        finally:
            await conn.close()

    records = asyncio.run(go())
    if not records:
        out.print("no keys yet; create one with `impactline keys create --scope ingest`")
        return
    table = Table("id", "name", "scopes", "created", "revoked", box=None)
    for r in records:
        table.add_row(
            r.key_id,
            r.name,
            ",".join(r.scopes),
            f"{r.created_at:%Y-%m-%d %H:%M:%S}",
            f"{r.revoked_at:%Y-%m-%d %H:%M:%S}" if r.revoked_at else "",
        )
    out.print(table)

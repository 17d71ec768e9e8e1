"""The delivery log for the command line: list deliveries, replay dead ones
(`impactline deliveries list|replay`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def list_deliveries(
    pool: asyncpg.Pool,
    *,
    status: str | None = None,
    destination: str | None = None,
    incident_id: str | None = None,
    limit: int = 50,
) -> list[asyncpg.Record]:
    clauses, args = [], []
    for column, value in (
        ("status", status),
        ("destination", destination),
        ("incident_id", incident_id),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    sql = "SELECT * FROM notify_deliveries"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    args.append(limit)
    sql += f" ORDER BY seq DESC LIMIT ${len(args)}"
    return await pool.fetch(sql, *args)


async def replay(
    pool: asyncpg.Pool,
    now: datetime,
    *,
    destination: str | None = None,
    incident_id: str | None = None,
    delivery_id: str | None = None,
) -> int:
    """Make dead deliveries pending again with a fresh retry budget; returns how many."""
    args: list[Any] = [now]
    clauses = ["status = 'dead'"]
    for column, value in (
        ("destination", destination),
        ("incident_id", incident_id),
        ("delivery_id", delivery_id),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    sql = (
        "UPDATE notify_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1,"
        " lease_until = NULL, updated_at = $1,"
        " last_error = 'replayed; before: ' || COALESCE(last_error, ''), version = version + 1"
        " WHERE " + " AND ".join(clauses)
    )
    status = await pool.execute(sql, *args)
    return int(status.split()[-1])

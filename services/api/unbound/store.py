"""The unbound read model in PostgreSQL: events waiting for a binding, grouped by what they named.

A `waiting` record inserts a row once per event id; a `bound` record (written by a replay)
marks it bound. Both are idempotent, so a batch applied twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from impactline.core.contracts import Contract, UnboundEvent, UnboundStatus

INSERT_WAITING = """
INSERT INTO view_unbound (
    event_id, input, key, kind, status, received_at, event_time, state, summary, reason,
    candidates, catalog_version
) VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (event_id) DO NOTHING
"""
MARK_BOUND = """
INSERT INTO view_unbound (
    event_id, input, key, kind, status, received_at, event_time, state, summary, reason,
    candidates, catalog_version, bound_ci_id, bound_rule, bound_at
) VALUES ($1, $2, $3, $4, 'bound', $5, $6, $7, $8, $9, $10, $11, $12, $13, $5)
ON CONFLICT (event_id) DO UPDATE SET
    status = 'bound', bound_ci_id = EXCLUDED.bound_ci_id, bound_rule = EXCLUDED.bound_rule,
    bound_at = EXCLUDED.bound_at
"""
GROUPS = """
SELECT g.input, g.key, g.events, g.first_seen, g.last_seen,
       latest.reason, latest.candidates, latest.summary, latest.event_id
FROM (
    SELECT input, key, count(*) AS events, min(received_at) AS first_seen,
           max(received_at) AS last_seen
    FROM view_unbound WHERE status = $1 AND ($2::text IS NULL OR input = $2)
    GROUP BY input, key
) AS g
CROSS JOIN LATERAL (
    SELECT reason, candidates, summary, event_id FROM view_unbound u
    WHERE u.status = $1 AND u.input = g.input AND u.key = g.key
    ORDER BY u.received_at DESC, u.event_id DESC LIMIT 1
) AS latest
ORDER BY g.input, g.key
"""
EVENTS = """
SELECT event_id, input, key, kind, status, received_at, event_time, state, summary, reason,
       candidates, catalog_version, bound_ci_id, bound_rule, bound_at
FROM view_unbound
WHERE status = $1 AND ($2::text IS NULL OR input = $2) AND ($3::text IS NULL OR key = $3)
  AND ($4::timestamptz IS NULL OR (received_at, event_id) > ($4, $5))
ORDER BY received_at, event_id
LIMIT $6
"""


class UnboundStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def project(self, events: Sequence[Contract]) -> int:
        kept = [e for e in events if isinstance(e, UnboundEvent)]
        waiting = [_row(e) for e in kept if e.status is UnboundStatus.WAITING]
        bound = [(*_row(e), e.ci_id, e.rule) for e in kept if e.status is UnboundStatus.BOUND]
        if not kept:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            if waiting:
                await conn.executemany(INSERT_WAITING, waiting)
            if bound:
                await conn.executemany(MARK_BOUND, bound)
        return len(kept)

    async def groups(self, status: str, input_name: str | None) -> list[asyncpg.Record]:
        return await self.pool.fetch(GROUPS, status, input_name)

    async def events(
        self,
        status: str,
        input_name: str | None,
        key: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        at, event_id = after if after is not None else (None, "")
        return await self.pool.fetch(EVENTS, status, input_name, key, at, event_id, limit)


def _row(e: UnboundEvent) -> tuple[Any, ...]:
    data = e.event
    return (
        e.id,
        e.input,
        e.key,
        e.kind.value,
        e.time,
        _time(data.get("time")),
        data.get("state"),
        str(data.get("summary") or ""),
        e.reason,
        list(e.candidates),
        e.catalog_version,
    )


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None

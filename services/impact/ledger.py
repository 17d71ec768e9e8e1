"""The impact ledger in PostgreSQL: every impact event once (upsert by event id)."""

from __future__ import annotations

import asyncio

import asyncpg

from impactline.core.contracts import ImpactEvent
from impactline.runtime.db import create_pool, migrate, retrying

INSERT = """
INSERT INTO impact_ledger (
    event_id, service_id, incident_id, state, event_time, impact_rate,
    business_impact_minutes, priority, high_visibility, trace_id, payload
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT (event_id) DO NOTHING
"""


class ImpactLedger:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._pool: asyncpg.Pool | None = None
        self._starting = asyncio.Lock()
        self._staged: list[tuple[object, ...]] = []

    async def start(self) -> None:
        async with self._starting:  # several agents may start it at once
            if self._pool is None:
                await migrate(self._url)
                self._pool = await create_pool(self._url)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def stage(self, event: ImpactEvent, trace_id: str | None) -> None:
        """Hold `event` for the next settle (see `StreamIO.settle`)."""
        self._staged.append(
            (
                event.id,
                event.service_id,
                event.incident_id,
                event.state.value,
                event.time,
                event.impact_rate,
                event.business_impact_minutes,
                event.priority,
                event.high_visibility,
                trace_id,
                event.model_dump_json(),
            )
        )

    def freeze(self) -> list[tuple[object, ...]]:
        rows, self._staged = self._staged, []
        return rows

    async def flush(self, rows: list[tuple[object, ...]]) -> None:
        """Store `rows` in one round trip; a row already there (a replay) is left as it is."""
        if not rows:
            return
        assert self._pool is not None, "ImpactLedger.start() first"
        async for attempt in retrying(deadline_s=None):
            with attempt:
                await self._pool.executemany(INSERT, rows)

"""The incident read model in PostgreSQL: projected from events, queried by the API.

Each projected event is first inserted into the timeline keyed by its event id; only an event
that was new changes the incident row, so replays and redeliveries change nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from impactline.core.contracts import (
    CIAnnotation,
    ImpactEvent,
    ImpactReason,
    IncidentEvent,
)

INSERT_TIMELINE = """
INSERT INTO incident_timeline (event_id, incident_id, event_time, kind, action, summary, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (event_id) DO NOTHING
"""

UPSERT_INCIDENT = """
INSERT INTO incidents (
    incident_id, correlation_domain, state, opened_at, updated_at, acknowledged_at, resolved_at,
    affected_services, member_cis, root_cause_candidates, suspect_changes
) VALUES ($1, $2, $3, $4, $5,
          CASE WHEN $6 = 'acknowledged' THEN $5::timestamptz END,
          CASE WHEN $6 = 'resolved' THEN $5::timestamptz END,
          $7, $8, $9, $10::jsonb)
ON CONFLICT (incident_id) DO UPDATE SET
    state = EXCLUDED.state,
    updated_at = GREATEST(incidents.updated_at, EXCLUDED.updated_at),
    acknowledged_at = CASE WHEN $6 = 'acknowledged' THEN $5::timestamptz
                           WHEN $6 = 'reopened' THEN NULL
                           ELSE incidents.acknowledged_at END,
    resolved_at = CASE WHEN $6 = 'resolved' THEN $5::timestamptz
                       WHEN $6 = 'reopened' THEN NULL
                       ELSE incidents.resolved_at END,
    affected_services = EXCLUDED.affected_services,
    member_cis = EXCLUDED.member_cis,
    root_cause_candidates = EXCLUDED.root_cause_candidates,
    suspect_changes = EXCLUDED.suspect_changes
"""

APPLY_IMPACT = """
UPDATE incidents SET
    priority = CASE WHEN $2::text IS NULL THEN priority
                    WHEN priority IS NULL OR $2::text < priority THEN $2::text
                    ELSE priority END,
    high_visibility = high_visibility OR $3,
    impact_by_service = impact_by_service || jsonb_build_object($4::text, $5::float8)
WHERE incident_id = $1
"""

SELECT_COLUMNS = """
incident_id, correlation_domain, state, opened_at, updated_at, acknowledged_at, resolved_at,
affected_services, member_cis, root_cause_candidates, suspect_changes, priority, high_visibility,
COALESCE((SELECT sum(value::float8) FROM jsonb_each_text(impact_by_service)), 0)
    AS business_impact_minutes
"""


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    state: str | None = None
    service: str | None = None
    priority: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class IncidentStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # -- projection --------------------------------------------------------------------------

    async def project(self, events: list[IncidentEvent | CIAnnotation | ImpactEvent]) -> int:
        """Apply a batch in one transaction; returns how many events were new."""
        new = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for event in events:
                new += await self._apply(conn, event)
        return new

    async def _apply(
        self, conn: asyncpg.Connection, event: IncidentEvent | CIAnnotation | ImpactEvent
    ) -> int:
        if isinstance(event, IncidentEvent):
            if not await self._timeline(
                conn,
                event.id,
                event.incident_id,
                event.time,
                "incident",
                event.action.value,
                _incident_summary(event),
                event,
            ):
                return 0
            await conn.execute(
                UPSERT_INCIDENT,
                event.incident_id,
                event.correlation_domain,
                event.state.value,
                event.opened_at,
                event.time,
                event.action.value,
                event.affected_services,
                event.member_cis,
                event.root_cause_candidates,
                json.dumps([s.model_dump(mode="json") for s in event.suspect_changes]),
            )
            return 1
        if isinstance(event, CIAnnotation):
            if event.incident_id is None:
                return 0
            summary = f"{event.ci_id} {event.state.value} ({event.note})"
            return int(
                await self._timeline(
                    conn,
                    event.id,
                    event.incident_id,
                    event.time,
                    "member",
                    event.note,
                    summary,
                    event,
                )
            )
        if event.incident_id is None:
            return 0
        # Accrual ticks update the figures but would drown the timeline; changes are listed.
        listed = event.reason is not ImpactReason.ACCRUAL
        if listed and not await self._timeline(
            conn,
            event.id,
            event.incident_id,
            event.time,
            "impact",
            event.reason.value,
            _impact_summary(event),
            event,
        ):
            return 0
        await conn.execute(
            APPLY_IMPACT,
            event.incident_id,
            event.priority,
            event.high_visibility,
            event.service_id,
            event.business_impact_minutes,
        )
        return 1

    async def _timeline(
        self,
        conn: asyncpg.Connection,
        event_id: str,
        incident_id: str,
        at: datetime,
        kind: str,
        action: str,
        summary: str,
        payload: Any,
    ) -> bool:
        status = await conn.execute(
            INSERT_TIMELINE,
            event_id,
            incident_id,
            at,
            kind,
            action,
            summary,
            payload.model_dump_json(),
        )
        return status.endswith(" 1")

    # -- queries -----------------------------------------------------------------------------

    async def list(self, where: IncidentFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
        clauses, args = [], []
        for column, value, op in (
            ("state", where.state, "="),
            ("priority", where.priority, "="),
            ("opened_at", where.since, ">="),
            ("opened_at", where.until, "<"),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if where.service is not None:
            args.append(where.service)
            clauses.append(f"${len(args)} = ANY(affected_services)")
        sql = f"SELECT {SELECT_COLUMNS} FROM incidents"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        args += [limit, offset]
        sql += f" ORDER BY opened_at DESC, incident_id LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        return [_row(r) for r in await self.pool.fetch(sql, *args)]

    async def get(self, incident_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM incidents WHERE incident_id = $1", incident_id
        )
        return _row(row) if row else None

    async def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT event_id, event_time, kind, action, summary FROM incident_timeline"
            " WHERE incident_id = $1 ORDER BY event_time, event_id",
            incident_id,
        )
        return [dict(r) for r in rows]


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["suspect_changes"] = json.loads(row["suspect_changes"])
    return row


def _incident_summary(event: IncidentEvent) -> str:
    root = ", ".join(event.root_cause_candidates) or "unknown"
    services = ", ".join(event.affected_services) or "no business service yet"
    return f"{event.action.value}: root cause candidate {root}; affects {services}"


def _impact_summary(event: ImpactEvent) -> str:
    weight = f" x{event.calendar.weight:g} ({event.calendar.period})" if event.calendar else ""
    return (
        f"{event.service_id} {event.state.value}: {event.users_affected} users{weight}, "
        f"{event.priority or 'no priority'}"
    )

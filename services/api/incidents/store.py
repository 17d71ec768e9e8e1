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

from impactline.api.incidents.charges import (
    FIGURES,
    SELECT_BY_SERVICE,
    UPSERT_CHARGE,
    episode_key,
)
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
    affected_services, member_cis, root_cause_candidates, suspect_changes, absorbed, merged_into
) VALUES ($1, $2, $3, $4, $5,
          CASE WHEN $6 = 'acknowledged' THEN $5::timestamptz END,
          CASE WHEN $6 = 'resolved' THEN $5::timestamptz END,
          $7, $8, $9, $10::jsonb, $11, $12)
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
    suspect_changes = EXCLUDED.suspect_changes,
    absorbed = ARRAY(SELECT DISTINCT unnest(incidents.absorbed || EXCLUDED.absorbed) ORDER BY 1),
    merged_into = COALESCE(EXCLUDED.merged_into, incidents.merged_into)
"""

SELECT_COLUMNS = """
i.incident_id, i.correlation_domain, i.state, i.opened_at, i.updated_at, i.acknowledged_at,
i.resolved_at, i.affected_services, i.member_cis, i.root_cause_candidates, i.suspect_changes,
i.absorbed, i.merged_into, f.priority, f.high_visibility, f.business_impact_minutes,
f.shared_impact_minutes, f.shared_with
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
                event.absorbed,
                event.merged_into,
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
        charges = _charges(event)
        if not charges:
            return 0
        # Accrual ticks update the figures but would drown the timeline; changes are listed,
        # on the timeline of every incident charged now.
        new = 1
        if event.reason is not ImpactReason.ACCRUAL:
            listed = []
            for n, incident_id in enumerate(_charged_now(event)):
                entry_id = event.id if n == 0 else f"{event.id}/{incident_id}"
                listed.append(
                    await self._timeline(
                        conn,
                        entry_id,
                        incident_id,
                        event.time,
                        "impact",
                        event.reason.value,
                        _impact_summary(event),
                        event,
                    )
                )
            new = int(any(listed))
        now = tuple(sorted(_charged_now(event)))
        await conn.executemany(
            UPSERT_CHARGE,
            [
                (
                    episode_key(event),
                    ",".join(incidents),
                    list(incidents),
                    event.service_id,
                    minutes,
                    # the priority and visibility of now belong to whoever is charged now
                    event.priority if incidents == now else None,
                    event.high_visibility and incidents == now,
                    event.time,
                )
                for incidents, minutes in charges.items()
            ],
        )
        return new

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
            ("i.state", where.state, "="),
            ("f.priority", where.priority, "="),
            ("i.opened_at", where.since, ">="),
            ("i.opened_at", where.until, "<"),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if where.service is not None:
            args.append(where.service)
            clauses.append(f"${len(args)} = ANY(i.affected_services)")
        sql = f"SELECT {SELECT_COLUMNS} FROM incidents i {FIGURES}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        args += [limit, offset]
        sql += (
            f" ORDER BY i.opened_at DESC, i.incident_id LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        )
        return [_row(r) for r in await self.pool.fetch(sql, *args)]

    async def get(self, incident_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM incidents i {FIGURES} WHERE i.incident_id = $1",
            incident_id,
        )
        return _row(row) if row else None

    async def by_service(self, incident_id: str, absorbed: list[str]) -> list[dict[str, Any]]:
        """The incident's minutes per business service, with the part shared with others."""
        rows = await self.pool.fetch(SELECT_BY_SERVICE, [incident_id, *absorbed])
        return [dict(r) for r in rows]

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


def _charged_now(event: ImpactEvent) -> list[str]:
    return list(event.incident_ids) or ([event.incident_id] if event.incident_id else [])


def _charges(event: ImpactEvent) -> dict[tuple[str, ...], float]:
    """The episode's minutes so far by the sorted set of incidents charged with them; planned
    or unattributed minutes are nobody's. An event without attribution (older versions)
    charges all its minutes to its incident."""
    if not event.attribution:
        now = tuple(sorted(_charged_now(event)))
        return {now: event.business_impact_minutes} if now else {}
    charges: dict[tuple[str, ...], float] = {}
    for share in event.attribution:
        if share.incident_ids and not share.planned:
            key = tuple(sorted(share.incident_ids))
            charges[key] = charges.get(key, 0.0) + share.business_impact_minutes
    now = tuple(sorted(_charged_now(event)))
    if now and now not in charges:
        charges[now] = 0.0
    return charges


def _incident_summary(event: IncidentEvent) -> str:
    root = ", ".join(event.root_cause_candidates) or "unknown"
    services = ", ".join(event.affected_services) or "no business service yet"
    text = f"{event.action.value}: root cause candidate {root}; affects {services}"
    if event.merged_into:
        text += f"; merged into {event.merged_into}"
    return text


def _impact_summary(event: ImpactEvent) -> str:
    weight = f" x{event.calendar.weight:g} ({event.calendar.period})" if event.calendar else ""
    return (
        f"{event.service_id} {event.state.value}: {event.users_affected} users{weight}, "
        f"{event.priority or 'no priority'}"
    )

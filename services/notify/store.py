"""notify's tables in PostgreSQL (migration 0006): the delivery log the dispatchers send from,
the subjects destinations track, the incidents as notify saw them, P1 pages and notify's clock.

Only the notify process reads and writes them; other processes learn about deliveries from the
`deliveries` topic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from impactline.core.contracts import IncidentEvent, SuspectChange
from impactline.core.delivery import Action, Holding, IncidentContext, Notice, Planned
from impactline.core.delivery.escalation import Page
from impactline.notify.rows import Delivery, Subject, subject_of
from impactline.runtime.clock import Clock

_INSERT = """
INSERT INTO notify_deliveries (
    delivery_id, destination, kind, action, subject, source_topic, source_event_id,
    incident_id, service_id, priority, notice, next_attempt_at, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $12, $12)
ON CONFLICT (delivery_id) DO NOTHING
"""

_CLAIM = """
UPDATE notify_deliveries AS d SET lease_until = $3
WHERE d.delivery_id IN (
    SELECT c.delivery_id FROM notify_deliveries AS c
    WHERE c.destination = $1 AND c.status = 'pending' AND c.next_attempt_at <= $2
      AND (c.lease_until IS NULL OR c.lease_until < $2)
      -- one subject at a time, in order: a resolve never overtakes its trigger
      AND NOT EXISTS (
          SELECT 1 FROM notify_deliveries AS e
          WHERE e.destination = c.destination AND e.subject = c.subject
            AND e.status = 'pending' AND e.seq < c.seq)
    ORDER BY c.seq
    LIMIT $4
    FOR UPDATE SKIP LOCKED)
RETURNING d.*
"""

_UPSERT_INCIDENT = """
INSERT INTO notify_incidents (incident_id, correlation_domain, state, affected_services,
    root_cause_candidates, suspect_changes, event_time)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
ON CONFLICT (incident_id) DO UPDATE SET
    correlation_domain = EXCLUDED.correlation_domain,
    state = EXCLUDED.state,
    affected_services = EXCLUDED.affected_services,
    root_cause_candidates = EXCLUDED.root_cause_candidates,
    suspect_changes = EXCLUDED.suspect_changes,
    event_time = EXCLUDED.event_time
WHERE notify_incidents.event_time <= EXCLUDED.event_time
"""


class NotifyStore:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self.pool = pool
        self.clock = clock

    # -- the consumer's side -----------------------------------------------------------------

    async def holdings(self, subjects: Iterable[str], incidents: Iterable[str]) -> list[Holding]:
        """Which destinations already hold these subjects, or subjects of these incidents."""
        rows = await self.pool.fetch(
            """SELECT DISTINCT ON (destination, subject) destination, subject, incident_id, action
               FROM notify_deliveries
               WHERE subject = ANY($1::text[]) OR incident_id = ANY($2::text[])
               ORDER BY destination, subject, seq DESC""",
            sorted(set(subjects)),
            sorted(set(incidents)),
        )
        return [
            Holding(r["destination"], r["subject"], r["incident_id"], Action(r["action"]))
            for r in rows
        ]

    async def record(
        self,
        incidents: Sequence[IncidentEvent],
        planned: Sequence[Planned],
        pages: Sequence[Notice],
        closed_pages: Sequence[str],
        acknowledged: Sequence[str],
        newest: datetime | None,
    ) -> int:
        """One batch in one transaction; returns how many deliveries were new."""
        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            for event in incidents:
                await conn.execute(
                    _UPSERT_INCIDENT,
                    event.incident_id,
                    event.correlation_domain,
                    event.state.value,
                    event.affected_services,
                    event.root_cause_candidates,
                    json.dumps([s.model_dump(mode="json") for s in event.suspect_changes]),
                    event.time,
                )
            new = 0
            for item in planned:
                status = await conn.execute(_INSERT, *_insert_args(item, now))
                new += status.endswith(" 1")
            for notice in pages:
                await conn.execute(
                    """INSERT INTO notify_pages (subject, incident_id, service_id, priority,
                           notice, paged_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6)
                       ON CONFLICT (subject) DO UPDATE SET priority = EXCLUDED.priority,
                           notice = EXCLUDED.notice, closed = false""",
                    notice.subject,
                    notice.incident_id,
                    notice.service_id or "",
                    notice.priority,
                    notice.model_dump_json(),
                    now,
                )
            if closed_pages:
                await conn.execute(
                    "UPDATE notify_pages SET closed = true WHERE subject = ANY($1::text[])",
                    list(closed_pages),
                )
            if acknowledged:
                await conn.execute(
                    "UPDATE notify_pages SET closed = true WHERE incident_id = ANY($1::text[])",
                    list(acknowledged),
                )
            if newest is not None:
                await conn.execute(
                    """INSERT INTO notify_clock (id, event_time, wall_time) VALUES (true, $1, $2)
                       ON CONFLICT (id) DO UPDATE SET event_time = EXCLUDED.event_time,
                           wall_time = EXCLUDED.wall_time
                       WHERE notify_clock.event_time < EXCLUDED.event_time""",
                    newest,
                    now,
                )
        return new

    async def now(self) -> datetime:
        """notify's "now": the newest event time handled, moved on by the wall time since."""
        row = await self.pool.fetchrow("SELECT event_time, wall_time FROM notify_clock")
        wall = self.clock.now()
        if row is None:
            return wall
        return row["event_time"] + max(wall - row["wall_time"], timedelta(0))

    # -- the dispatchers' side ---------------------------------------------------------------

    async def claim(self, destination: str, limit: int, lease: timedelta) -> list[Delivery]:
        now = self.clock.now()
        rows = await self.pool.fetch(_CLAIM, destination, now, now + lease, limit)
        return sorted((Delivery.of(r) for r in rows), key=lambda d: d.created_at)

    async def next_due(self, destination: str) -> datetime | None:
        return await self.pool.fetchval(
            """SELECT min(next_attempt_at) FROM notify_deliveries
               WHERE destination = $1 AND status = 'pending'""",
            destination,
        )

    async def subject(self, destination: str, subject: str) -> Subject | None:
        row = await self.pool.fetchrow(
            "SELECT * FROM notify_subjects WHERE destination = $1 AND subject = $2",
            destination,
            subject,
        )
        return subject_of(row) if row else None

    async def incident(self, incident_id: str | None) -> IncidentContext | None:
        if incident_id is None:
            return None
        row = await self.pool.fetchrow(
            "SELECT * FROM notify_incidents WHERE incident_id = $1", incident_id
        )
        if row is None:
            return None
        return IncidentContext(
            incident_id=row["incident_id"],
            state=row["state"],
            affected_services=tuple(row["affected_services"]),
            root_cause_candidates=tuple(row["root_cause_candidates"]),
            suspect_changes=tuple(
                SuspectChange.model_validate(s) for s in json.loads(row["suspect_changes"])
            ),
        )

    async def command_target(
        self, destination: str, subject: str
    ) -> tuple[str, str, str | None] | None:
        """(incident id, correlation domain, incident state if known) behind a subject."""
        row = await self.pool.fetchrow(
            """SELECT d.incident_id,
                      COALESCE(i.correlation_domain, d.notice->>'correlation_domain') AS domain,
                      i.state
               FROM notify_deliveries AS d
               LEFT JOIN notify_incidents AS i ON i.incident_id = d.incident_id
               WHERE d.destination = $1 AND d.subject = $2 AND d.incident_id IS NOT NULL
               ORDER BY d.seq DESC LIMIT 1""",
            destination,
            subject,
        )
        if row is None or row["domain"] is None:
            return None
        return row["incident_id"], row["domain"], row["state"]

    async def delivered(
        self,
        delivery: Delivery,
        status: str,
        *,
        external_ref: str | None,
        display_ref: str | None,
        subject_state: str | None,
        note: str | None = None,
    ) -> None:
        """The destination took it (`sent`) or there was nothing to do (`skipped`)."""
        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE notify_deliveries SET status = $2, attempts = attempts + 1,
                       sent_at = $3, updated_at = $3, lease_until = NULL, last_error = $4,
                       external_ref = COALESCE($5, external_ref), version = version + 1
                   WHERE delivery_id = $1""",
                delivery.delivery_id,
                status,
                now,
                note,
                display_ref or external_ref,
            )
            if subject_state is not None:
                await conn.execute(
                    """INSERT INTO notify_subjects AS s (destination, subject, incident_id,
                           external_ref, display_ref, state, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)
                       ON CONFLICT (destination, subject) DO UPDATE SET
                           incident_id = COALESCE(EXCLUDED.incident_id, s.incident_id),
                           external_ref = COALESCE(EXCLUDED.external_ref, s.external_ref),
                           display_ref = COALESCE(EXCLUDED.display_ref, s.display_ref),
                           state = EXCLUDED.state, updated_at = EXCLUDED.updated_at""",
                    delivery.destination,
                    delivery.subject,
                    delivery.incident_id,
                    external_ref,
                    display_ref,
                    subject_state,
                    now,
                )

    async def failed(self, delivery: Delivery, reason: str, retry_in: float | None) -> bool:
        """A failed try: due again in `retry_in` seconds, or dead when None; True if dead."""
        now = self.clock.now()
        dead = retry_in is None
        await self.pool.execute(
            """UPDATE notify_deliveries SET attempts = attempts + 1, last_error = $2,
                   status = CASE WHEN $3 THEN 'dead' ELSE status END,
                   next_attempt_at = $4, updated_at = $5, lease_until = NULL,
                   version = version + 1
               WHERE delivery_id = $1""",
            delivery.delivery_id,
            reason[:2000],
            dead,
            now + timedelta(seconds=retry_in or 0.0),
            now,
        )
        return dead

    async def release(self, delivery: Delivery, after_s: float) -> None:
        """Give a claimed delivery back untried (circuit open, rate limited, shutting down)."""
        await self.pool.execute(
            """UPDATE notify_deliveries SET lease_until = NULL,
                   next_attempt_at = GREATEST(next_attempt_at, $2)
               WHERE delivery_id = $1 AND status = 'pending'""",
            delivery.delivery_id,
            self.clock.now() + timedelta(seconds=after_s),
        )

    # -- back-sync ---------------------------------------------------------------------------

    async def find_subject(self, destination: str, key: str, key_kind: str) -> Subject | None:
        """The subject a destination's reference points to (dedup key, sys_id, issue key)."""
        if key_kind == "correlation_id":
            subject = "itsm:" + key.removeprefix("impactline:")
            return await self.subject(destination, subject)
        row = await self.pool.fetchrow(
            """SELECT * FROM notify_subjects WHERE destination = $1
                 AND (external_ref = $2 OR subject = $2)
               ORDER BY updated_at DESC LIMIT 1""",
            destination,
            key,
        )
        return subject_of(row) if row else None

    # -- escalation ----------------------------------------------------------------------------

    async def open_pages(self) -> list[tuple[Page, Notice, str | None]]:
        """Open P1 pages with their notice and their incident's state, if known."""
        rows = await self.pool.fetch(
            """SELECT p.*, i.state AS incident_state FROM notify_pages AS p
               LEFT JOIN notify_incidents AS i ON i.incident_id = p.incident_id
               WHERE NOT p.closed ORDER BY p.paged_at"""
        )
        return [
            (
                Page(r["subject"], r["service_id"], r["priority"], r["paged_at"], r["level"]),
                Notice.model_validate_json(r["notice"]),
                r["incident_state"],
            )
            for r in rows
        ]

    async def escalate(
        self, subject: str, level: int, planned: Sequence[Planned], close: bool
    ) -> None:
        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            for item in planned:
                await conn.execute(_INSERT, *_insert_args(item, now))
            await conn.execute(
                "UPDATE notify_pages SET level = GREATEST(level, $2), closed = closed OR $3"
                " WHERE subject = $1",
                subject,
                level,
                close,
            )

    async def close_pages(self, subjects: Sequence[str]) -> None:
        await self.pool.execute(
            "UPDATE notify_pages SET closed = true WHERE subject = ANY($1::text[])", list(subjects)
        )

    # -- the record publisher and the command line ---------------------------------------------

    async def unpublished(self, limit: int = 500) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT * FROM notify_deliveries WHERE published_version < version
               ORDER BY seq LIMIT $1""",
            limit,
        )

    async def mark_published(self, versions: Sequence[tuple[str, int]]) -> None:
        await self.pool.executemany(
            """UPDATE notify_deliveries SET published_version = GREATEST(published_version, $2)
               WHERE delivery_id = $1""",
            list(versions),
        )


def _insert_args(item: Planned, now: datetime) -> tuple[Any, ...]:
    notice = item.notice
    return (
        item.delivery_id,
        item.destination,
        item.kind.value,
        item.action.value,
        item.subject,
        notice.topic,
        notice.event_id,
        notice.incident_id,
        notice.service_id,
        notice.priority,
        notice.model_dump_json(),
        now,
    )

"""The service health read model in PostgreSQL: projected from events, read back as history.

History rows are inserted keyed by event id (a replay inserts nothing); the per-service "now"
row only moves forward in event time, so applying a batch twice leaves every table as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from impactline.api.health_model.figures import FeedbackPoint, HealthChange, ImpactPoint
from impactline.api.incidents.charges import FIGURES, episode_key
from impactline.core.contracts import (
    CIAnnotation,
    Contract,
    FeedbackEvent,
    ImpactEvent,
    ServiceHealthEvent,
)
from impactline.core.scoring import comment_sentiment
from impactline.core.states import State
from impactline.runtime.clock import Clock

INSERT_HEALTH = """
INSERT INTO view_service_health
    (event_id, service_id, state, previous_state, event_time, cause_ci_id, incident_id)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING
"""
UPSERT_NOW = """
INSERT INTO view_service_now (service_id, state, since, incident_id, cause_ci_id, event_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (service_id) DO UPDATE SET
    state = EXCLUDED.state, since = EXCLUDED.since, incident_id = EXCLUDED.incident_id,
    cause_ci_id = EXCLUDED.cause_ci_id, event_id = EXCLUDED.event_id
WHERE (view_service_now.since, view_service_now.event_id) < (EXCLUDED.since, EXCLUDED.event_id)
"""
INSERT_IMPACT = """
INSERT INTO view_impact (
    event_id, service_id, business_domain, episode_id, incident_id, reason, state, event_time,
    users_affected, impact_rate, business_impact_minutes, calendar_period, calendar_weight,
    priority, high_visibility
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (event_id) DO NOTHING
"""
INSERT_FEEDBACK = """
INSERT INTO view_feedback (event_id, service_id, event_time, csat, sentiment)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING
"""
INSERT_CI_CHANGE = """
INSERT INTO view_ci_changes (event_id, ci_id, state, event_time, incident_id)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING
"""
# The clock only moves forward: a batch of older events (a replay, a late source) leaves it.
SET_CLOCK = """
INSERT INTO view_clock (id, event_time, wall_time) VALUES (true, $1, $2)
ON CONFLICT (id) DO UPDATE SET event_time = EXCLUDED.event_time, wall_time = EXCLUDED.wall_time
WHERE EXCLUDED.event_time > view_clock.event_time + (EXCLUDED.wall_time - view_clock.wall_time)
"""

IMPACT_COLUMNS = """
event_id, service_id, business_domain, episode_id, incident_id, reason, state, event_time,
users_affected, impact_rate, business_impact_minutes, calendar_period, calendar_weight, priority,
high_visibility
"""

Projected = ServiceHealthEvent | ImpactEvent | FeedbackEvent | CIAnnotation


class HealthStore:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self.pool = pool
        self.clock = clock

    # -- projection --------------------------------------------------------------------------

    async def project(self, events: Sequence[Contract]) -> int:
        """Apply a batch in one transaction; returns how many events it held of our kinds."""
        health = [e for e in events if isinstance(e, ServiceHealthEvent)]
        impact = [e for e in events if isinstance(e, ImpactEvent)]
        feedback = [e for e in events if isinstance(e, FeedbackEvent)]
        changes = [e for e in events if isinstance(e, CIAnnotation)]
        async with self.pool.acquire() as conn, conn.transaction():
            if health:
                await conn.executemany(INSERT_HEALTH, [_health_row(e) for e in health])
                await conn.executemany(UPSERT_NOW, [_now_row(e) for e in health])
            if impact:
                await conn.executemany(INSERT_IMPACT, [_impact_row(e) for e in impact])
            if feedback:
                await conn.executemany(INSERT_FEEDBACK, [_feedback_row(e) for e in feedback])
            if changes:
                await conn.executemany(
                    INSERT_CI_CHANGE,
                    [(e.id, e.ci_id, e.state.value, e.time, e.incident_id) for e in changes],
                )
            timed = [e.time for e in (*health, *impact)]
            if timed:
                await conn.execute(SET_CLOCK, max(timed), self.clock.now())
        return len(health) + len(impact) + len(feedback) + len(changes)

    # -- reads -------------------------------------------------------------------------------

    async def now(self) -> datetime:
        """The read model's "now": the newest event time projected, moved on by the wall time
        that passed since it was projected (docs/api.md, "Now"). Live, that is the wall clock;
        for a replay or a scenario it is the scenario's own time, whatever day it runs."""
        row = await self.pool.fetchrow("SELECT event_time, wall_time FROM view_clock")
        wall = self.clock.now()
        if row is None:
            return wall
        return row["event_time"] + max(wall - row["wall_time"], timedelta(0))

    async def service_now(self, ids: Sequence[str]) -> dict[str, asyncpg.Record]:
        rows = await self.pool.fetch(
            "SELECT * FROM view_service_now WHERE service_id = ANY($1::text[])", list(ids)
        )
        return {r["service_id"]: r for r in rows}

    async def latest_impact(self, ids: Sequence[str]) -> dict[str, asyncpg.Record]:
        rows = await self.pool.fetch(
            f"""SELECT latest.* FROM unnest($1::text[]) AS s(id) CROSS JOIN LATERAL (
                    SELECT {IMPACT_COLUMNS} FROM view_impact WHERE service_id = s.id
                    ORDER BY event_time DESC, business_impact_minutes DESC LIMIT 1) AS latest""",
            list(ids),
        )
        return {r["service_id"]: r for r in rows}

    async def health_changes(
        self, ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[HealthChange]]:
        """Each service's changes in (start, end] and the last one at or before `start`."""
        rows = await self.pool.fetch(
            """SELECT service_id, state, previous_state, event_time, incident_id
               FROM view_service_health
               WHERE service_id = ANY($1::text[]) AND event_time > $2 AND event_time <= $3
               UNION ALL
               SELECT before.* FROM unnest($1::text[]) AS s(id) CROSS JOIN LATERAL (
                   SELECT service_id, state, previous_state, event_time, incident_id
                   FROM view_service_health WHERE service_id = s.id AND event_time <= $2
                   ORDER BY event_time DESC LIMIT 1) AS before
               ORDER BY event_time""",
            list(ids),
            start,
            end,
        )
        out: dict[str, list[HealthChange]] = {i: [] for i in ids}
        for r in rows:
            out[r["service_id"]].append(
                HealthChange(
                    r["event_time"],
                    State(r["state"]),
                    State(r["previous_state"]),
                    r["incident_id"],
                )
            )
        return out

    async def impact_points(
        self, ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[ImpactPoint]]:
        """Every event up to `end` of the episodes with an event in (start, end]."""
        rows = await self.pool.fetch(
            """SELECT service_id, episode_id, event_time, business_impact_minutes,
                      calendar_weight, calendar_period
               FROM view_impact WHERE event_time <= $3 AND episode_id IN (
                   SELECT DISTINCT episode_id FROM view_impact
                   WHERE service_id = ANY($1::text[]) AND event_time > $2 AND event_time <= $3)""",
            list(ids),
            start,
            end,
        )
        out: dict[str, list[ImpactPoint]] = {i: [] for i in ids}
        for r in rows:
            out[r["service_id"]].append(
                ImpactPoint(
                    r["event_time"],
                    r["episode_id"],
                    r["business_impact_minutes"],
                    r["calendar_weight"],
                    r["calendar_period"],
                )
            )
        return out

    async def feedback(
        self, ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[FeedbackPoint]]:
        rows = await self.pool.fetch(
            """SELECT service_id, event_time, csat, sentiment FROM view_feedback
               WHERE service_id = ANY($1::text[]) AND event_time > $2 AND event_time <= $3""",
            list(ids),
            start,
            end,
        )
        out: dict[str, list[FeedbackPoint]] = {i: [] for i in ids}
        for r in rows:
            out[r["service_id"]].append(FeedbackPoint(r["event_time"], r["csat"], r["sentiment"]))
        return out

    async def impact_timeline(
        self,
        *,
        service_id: str | None = None,
        incident_id: str | None = None,
        since: datetime | None,
        until: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Impact events of one service or incident in time order, after the keyset `after`."""
        clauses, args = [], []
        for column, value, op in (
            ("service_id", service_id, "="),
            ("incident_id", incident_id, "="),
            ("event_time", since, ">="),
            ("event_time", until, "<"),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if after is not None:
            args += list(after)
            clauses.append(f"(event_time, event_id) > (${len(args) - 1}, ${len(args)})")
        args.append(limit)
        where = " AND ".join(clauses) or "true"
        return await self.pool.fetch(
            f"SELECT {IMPACT_COLUMNS} FROM view_impact WHERE {where}"
            f" ORDER BY event_time, event_id LIMIT ${len(args)}",
            *args,
        )

    async def impact_exists(self, incident_id: str) -> bool:
        found = await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM incidents WHERE incident_id = $1)"
            " OR EXISTS (SELECT 1 FROM view_impact WHERE incident_id = $1)",
            incident_id,
        )
        return bool(found)

    async def incidents_touching(
        self, ids: Sequence[str], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Incidents of these services opened in [start, end), with when their first member CI
        began failing (the last change into a failing state after it was last `ok`)."""
        rows = await self.pool.fetch(
            """SELECT i.incident_id, i.state, i.opened_at, i.acknowledged_at, i.resolved_at,
                      f.priority, f.high_visibility, i.affected_services,
                      i.root_cause_candidates,
                      (SELECT min(c.event_time) FROM view_ci_changes c
                       WHERE c.ci_id = ANY(i.member_cis) AND c.state <> 'ok'
                         AND c.event_time <= i.opened_at
                         AND c.event_time > COALESCE(
                             (SELECT max(o.event_time) FROM view_ci_changes o
                              WHERE o.ci_id = c.ci_id AND o.state = 'ok'
                                AND o.event_time <= i.opened_at), '-infinity')
                      ) AS first_failure
               FROM incidents i """
            + FIGURES
            + """
               WHERE i.affected_services && $1::text[] AND i.opened_at >= $2 AND i.opened_at < $3
               ORDER BY i.opened_at""",
            list(ids),
            start,
            end,
        )
        return [dict(r) for r in rows]

    async def incidents_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT i.incident_id, i.state, i.opened_at, f.priority, f.high_visibility,"
            f" i.root_cause_candidates FROM incidents i {FIGURES}"
            " WHERE i.incident_id = ANY($1::text[])",
            list(ids),
        )
        return {r["incident_id"]: dict(r) for r in rows}


def _health_row(e: ServiceHealthEvent) -> tuple[Any, ...]:
    return (
        e.id,
        e.service_id,
        e.state.value,
        e.previous_state.value,
        e.time,
        e.cause_ci_id,
        e.incident_id,
    )


def _now_row(e: ServiceHealthEvent) -> tuple[Any, ...]:
    return (e.service_id, e.state.value, e.time, e.incident_id, e.cause_ci_id, e.id)


def _impact_row(e: ImpactEvent) -> tuple[Any, ...]:
    return (
        e.id,
        e.service_id,
        e.business_domain,
        episode_key(e),
        e.incident_id,
        e.reason.value,
        e.state.value,
        e.time,
        e.users_affected,
        e.impact_rate,
        e.business_impact_minutes,
        e.calendar.period if e.calendar else None,
        e.calendar.weight if e.calendar else None,
        e.priority,
        e.high_visibility,
    )


def _feedback_row(e: FeedbackEvent) -> tuple[Any, ...]:
    mood = comment_sentiment(e.comment) if e.comment and e.comment.strip() else None
    return (e.id, e.service_id, e.time, e.csat, mood)

"""Deliveries in the API: what notify sent to pagers, chat and ITSM tools, and how it went.

The API does not read notify's tables: it projects the `deliveries` topic (one record per change
of a delivery) into its own `view_deliveries` table, keeping the newest version of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from impactline.api.responses import READ_ERRORS
from impactline.core import topics
from impactline.core.contracts import DeliveryRecord, DeliveryStatus, DestinationKind, Priority
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.projection import Projection, start_projection
from impactline.runtime.settings import Settings

_UPSERT = """
INSERT INTO view_deliveries (delivery_id, version, destination, kind, action, source_topic,
    source_event_id, subject, incident_id, service_id, priority, status, attempts, last_error,
    external_ref, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (delivery_id) DO UPDATE SET
    version = EXCLUDED.version, status = EXCLUDED.status, attempts = EXCLUDED.attempts,
    last_error = EXCLUDED.last_error, external_ref = EXCLUDED.external_ref,
    updated_at = EXCLUDED.updated_at
WHERE view_deliveries.version < EXCLUDED.version
"""

_COLUMNS = (
    "delivery_id, destination, kind, action, source_topic, subject, incident_id, service_id, "
    "priority, status, attempts, last_error, external_ref, created_at, updated_at"
)


class DeliveryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def project(self, records: list[DeliveryRecord]) -> int:
        rows = [
            (
                r.delivery_id,
                r.version,
                r.destination,
                r.kind.value,
                r.action,
                r.source_topic,
                r.source_event_id,
                r.subject,
                r.incident_id,
                r.service_id,
                r.priority,
                r.status.value,
                r.attempts,
                r.last_error,
                r.external_ref,
                r.created_at,
                r.time,
            )
            for r in records
            if isinstance(r, DeliveryRecord)
        ]
        if rows:
            await self.pool.executemany(_UPSERT, rows)
        return len(rows)

    async def list(self, where: DeliveryFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
        clauses, args = [], []
        for column, value, op in (
            ("incident_id", where.incident_id, "="),
            ("destination", where.destination, "="),
            ("kind", where.kind, "="),
            ("status", where.status, "="),
            ("updated_at", where.since, ">="),
            ("updated_at", where.until, "<"),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        sql = f"SELECT {_COLUMNS} FROM view_deliveries"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        args += [limit, offset]
        sql += f" ORDER BY created_at DESC, delivery_id LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        return [dict(r) for r in await self.pool.fetch(sql, *args)]


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    incident_id: str | None = None
    destination: str | None = None
    kind: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Delivery(BaseModel):
    delivery_id: str
    destination: str = Field(description="The destination's name in notify's route file.")
    kind: DestinationKind
    action: str = Field(description="trigger, acknowledge, resolve, create, update or note.")
    source_topic: str = Field(description="alerts, itsm, incidents or escalation.")
    subject: str = Field(description="What the destination tracks: dedup key, record key.")
    incident_id: str | None
    service_id: str | None
    priority: Priority | None
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    external_ref: str | None = Field(description="The destination's reference, e.g. INC0010001.")
    created_at: datetime
    updated_at: datetime


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next: str | None = Field(description="URL of the next page, if any.")


router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])
Reader = Annotated[Principal, Depends(require_scope("read"))]


def delivery_store(request: Request) -> DeliveryStore:
    return request.app.state.delivery_store


@router.get(
    "", summary="Deliveries to pagers, chat and ITSM tools, newest first", responses=READ_ERRORS
)
async def list_deliveries(
    request: Request,
    store: Annotated[DeliveryStore, Depends(delivery_store)],
    _: Reader,
    incident_id: str | None = Query(default=None, description="Only this incident's."),
    destination: str | None = None,
    kind: DestinationKind | None = None,
    status: DeliveryStatus | None = None,
    since: datetime | None = Query(default=None, description="Changed at or after."),
    until: datetime | None = Query(default=None, description="Changed before."),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> DeliveryPage:
    where = DeliveryFilter(
        incident_id=incident_id,
        destination=destination,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        since=since,
        until=until,
    )
    rows = await store.list(where, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    next_url = (
        str(request.url.include_query_params(offset=offset + limit, limit=limit)) if more else None
    )
    return DeliveryPage(items=[Delivery(**r) for r in rows[:limit]], next=next_url)


async def start_deliveries(
    app: FastAPI, settings: Settings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> Projection:
    store = DeliveryStore(pool)
    app.state.delivery_store = store
    return await start_projection(
        "deliveries",
        settings,
        [topics.DELIVERIES],
        store.project,  # type: ignore[arg-type]
        producer,
        app.state.tasks,
    )

"""Rows of notify's delivery log and subjects, as the dispatchers and back-sync work on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from impactline.core.delivery import Notice


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the delivery log, as a dispatcher works on it."""

    delivery_id: str
    destination: str
    kind: str
    action: str
    subject: str
    source_topic: str
    source_event_id: str
    incident_id: str | None
    service_id: str | None
    priority: str | None
    notice: Notice
    status: str
    attempts: int
    last_error: str | None
    external_ref: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> Delivery:
        return cls(
            **{k: row[k] for k in cls.__slots__ if k != "notice"},  # type: ignore[attr-defined]
            notice=Notice.model_validate_json(row["notice"]),
        )


@dataclass(frozen=True, slots=True)
class Subject:
    destination: str
    subject: str
    incident_id: str | None
    external_ref: str | None
    display_ref: str | None
    state: str


def subject_of(row: asyncpg.Record) -> Subject:
    return Subject(
        row["destination"],
        row["subject"],
        row["incident_id"],
        row["external_ref"],
        row["display_ref"],
        row["state"],
    )

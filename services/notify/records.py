"""Publishes every change of the delivery log to the `deliveries` topic, after it is stored.

The log's `version` column grows with each change and `published_version` trails it, so a crash
between storing and publishing only delays the record: it is published on the next round.
Readers keep the highest version per delivery, so a record published twice changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from impactline.core import topics
from impactline.core.contracts import DeliveryRecord, DeliveryStatus, DestinationKind
from impactline.notify.store import NotifyStore
from impactline.runtime.kafka import message_for, topic_name
from impactline.runtime.tasks import wait_event

log = logging.getLogger(__name__)
POLL_S = 1.0


def record_of(row: asyncpg.Record | dict[str, Any]) -> DeliveryRecord:
    notice_priority = row["priority"]
    return DeliveryRecord(
        id=f"{row['delivery_id']}:{row['version']}",
        delivery_id=row["delivery_id"],
        version=row["version"],
        destination=row["destination"],
        kind=DestinationKind(row["kind"]),
        action=row["action"],
        source_topic=row["source_topic"],
        source_event_id=row["source_event_id"],
        subject=row["subject"],
        incident_id=row["incident_id"],
        service_id=row["service_id"],
        priority=notice_priority,
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        last_error=(row["last_error"] or None) and row["last_error"][:2000],
        external_ref=row["external_ref"],
        created_at=row["created_at"],
        time=row["updated_at"],
    )


class RecordPublisher:
    def __init__(self, store: NotifyStore, producer: AIOKafkaProducer, prefix: str) -> None:
        self.store = store
        self.producer = producer
        self.name = topic_name(topics.DELIVERIES, prefix)
        self.wake = asyncio.Event()
        self.published = 0

    def poke(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: the rows wait, nothing is lost
                log.warning("publishing delivery records failed (%s); retrying", exc)
                sent = 0
                await asyncio.sleep(2.0)
            if sent == 0:
                await wait_event(self.wake, POLL_S)
                self.wake.clear()

    async def publish_pending(self) -> int:
        rows = await self.store.unpublished()
        if not rows:
            return 0
        futures = []
        for row in rows:
            record = record_of(row)
            key = record.incident_id or record.delivery_id
            value, headers = message_for(
                topics.DELIVERIES, record, source="impactline/notify", subject=key
            )
            futures.append(
                await self.producer.send(self.name, value=value, key=key.encode(), headers=headers)
            )
        await asyncio.gather(*futures)
        await self.store.mark_published([(r["delivery_id"], r["version"]) for r in rows])
        self.published += len(rows)
        return len(rows)

"""One telemetry event over HTTP becomes an impact event, traced end to end, stored once."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from impactline.core import topics
from impactline.runtime.kafka import message_for, new_producer, topic_name
from impactline.runtime.system import RunningSystem
from impactline.runtime.telemetry import trace_id_of


async def test_event_over_http_reaches_impact_topic_and_ledger_once(
    system: RunningSystem, tail
) -> None:
    health = await tail(topics.SERVICE_HEALTH)
    impact = await tail(topics.IMPACT)
    finance = await tail(topics.impact_domain_topic("finance"))
    event_id = f"e2e-{uuid.uuid4()}"
    body = {"id": event_id, "ci_id": "db-gl-01", "state": "down", "summary": "connections refused"}
    auth = {"Authorization": f"Bearer {system.api_key}"}

    async with httpx.AsyncClient(base_url=system.ingest_url, headers=auth) as client:
        first = await client.post("/v1/events", json=body)
        assert first.status_code == 202, first.text
        trace_id = first.json()["trace_id"]

        got_health = await health.wait_for(
            lambda e: e.event.cause_event_id == event_id and e.event.service_id == "financial-close"
        )
        got_impact = await impact.wait_for(
            lambda e: e.event.cause_event_id == event_id and e.event.service_id == "financial-close"
        )
        # The same event again: a duplicate must not produce a second impact.
        again = await client.post("/v1/events", json=body)
        assert again.status_code == 202

    assert got_health.event.state.value == "down"
    event = got_impact.event
    assert (event.state.value, event.cause_ci_id, event.business_domain) == (
        "down",
        "db-gl-01",
        "finance",
    )
    assert event.users_affected > 0 and event.impact_rate > 0
    assert event.weighting.value == "calendar" and event.calendar is not None
    assert event.calendar.calendar == "uk-finance"
    await finance.wait_for(lambda e: e.event.id == event.id)

    # One trace: ingest's request span, correlate's and impact's spans share the trace id.
    assert trace_id_of(got_health.traceparent) == trace_id
    assert trace_id_of(got_impact.traceparent) == trace_id

    # A redelivered service-health message (as after a crash before commit) is not stored twice.
    producer = new_producer(system.settings.require_kafka(), "e2e-replay")
    await producer.start()
    try:
        value, headers = message_for(topics.SERVICE_HEALTH, got_health.event, source="e2e")
        name = topic_name(topics.SERVICE_HEALTH, system.settings.topic_prefix)
        await producer.send_and_wait(name, value=value, key=b"financial-close", headers=headers)
    finally:
        await producer.stop()
    # The recovery travels the same partitions after the replay, so once its impact is out the
    # replay has been processed too.
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=auth) as client:
        ok = await client.post("/v1/events", json={**body, "id": f"{event_id}-ok", "state": "ok"})
        assert ok.status_code == 202
    await impact.wait_for(
        lambda e: e.event.cause_event_id == f"{event_id}-ok" and e.event.reason.value == "recovered"
    )
    assert not [e for e, _ in impact.seen if e.event.id == event.id and e is not got_impact], (
        "the redelivered service-health event was published again"
    )

    conn = await asyncpg.connect(system.settings.require_database())
    try:
        rows = await conn.fetch(
            "SELECT event_id, trace_id FROM impact_ledger"
            " WHERE payload->>'cause_event_id' = $1 AND service_id = 'financial-close'"
            # Accrual events of the episode carry the same cause: the state change is once.
            " AND payload->>'reason' = 'state-change'",
            event_id,
        )
    finally:
        await conn.close()
    assert len(rows) == 1
    assert rows[0]["event_id"] == event.id
    assert rows[0]["trace_id"] == trace_id

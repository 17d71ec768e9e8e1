"""A past incident replayed through the real system gives what it gave live.

The general-ledger database of 12 November 2026 flaps every 20 s across the end of business
hours at 18:00, goes down again and recovers; a payroll database fails meanwhile. The whole day
is posted in one request, a year or more after it happened, and runs through ingest, correlate
and impact on the real broker, each partition on its own event clock. What they publish must be
exactly what the in-memory pipeline (the same processors) gives when the same events come one by
one at their own time with the clock ticking every second in between: the same incidents, CI
state changes, service health, impact events with their priorities and business impact minutes,
alerts and ITSM records.
"""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from aiokafka import TopicPartition

from impactline.core import cloudevents, topics
from impactline.core.contracts import ImpactEvent, ImpactReason, IncidentEvent, TelemetryEvent
from impactline.core.processing import Output
from impactline.core.states import State
from impactline.runtime.kafka import new_consumer, partition_ids, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem
from tests.time_scenarios import flapping_ledger, live, outcome, telemetry

COMPARED = (
    topics.INCIDENTS,
    topics.CI_ANNOTATIONS,
    topics.SERVICE_HEALTH,
    topics.IMPACT,
    topics.ALERTS,
    topics.ITSM,
)


@pytest.fixture(scope="module")
def e2e_settings(demo_settings: Settings) -> Settings:
    return demo_settings


def the_day() -> list[TelemetryEvent]:
    """The flapping ledger, its recovery at 18:40, and a last report at 19:30 that takes every
    partition past the incidents' resolve holds."""
    events = flapping_ledger()
    tail = telemetry([(0, "db-gl-01", State.OK)])[0]
    recovered = tail.model_copy(
        update={"id": "e-recovered", "time": events[-1].time + timedelta(minutes=15)}
    )
    quiet = tail.model_copy(
        update={
            "id": "e-last",
            "ci_id": "db-payroll-01",
            "time": recovered.time + timedelta(minutes=50),
            "summary": "db-payroll-01 ok again",
        }
    )
    return [*events, recovered, quiet]


async def read_all(settings: Settings, expected: int, settle_s: float = 5.0) -> list[Output]:
    """Everything on the compared topics once `expected` records arrived and `settle_s` passed
    without another one (a duplicate would show)."""
    bootstrap = settings.require_kafka()
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    by_name = {topic_name(t, settings.topic_prefix): t for t in COMPARED}
    try:
        parts = [
            TopicPartition(name, p)
            for name in by_name
            for p in await partition_ids(bootstrap, name)
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        read: list[Output] = []
        deadline = time.monotonic() + 120
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    topic = by_name[record.topic]
                    event = cloudevents.decode(topic, record.value, record.headers).event
                    read.append(Output(topic, record.key.decode(), event))
            if batches:
                quiet_since = time.monotonic()
            elif len(read) >= expected and time.monotonic() - quiet_since > settle_s:
                break
        return read
    finally:
        await consumer.stop()


def kept(outputs: list[Output]) -> list[Output]:
    return [o for o in outputs if o.topic in COMPARED]


async def test_a_replayed_day_gives_what_it_gave_live(system: RunningSystem) -> None:
    day = the_day()
    # What the processors give live: each event at its own time, a tick every second between.
    expected = outcome(kept(live(day, day[-1].time + timedelta(hours=1))))

    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        body = [event.model_dump(mode="json") for event in day]
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text

    published = await read_all(system.settings, len(expected))
    assert outcome(published) == expected

    incidents = {e.incident_id for o in published if isinstance(e := o.event, IncidentEvent)}
    changes = [o for o in published if o.topic is topics.CI_ANNOTATIONS]
    impacts = [o.event for o in published if isinstance(o.event, ImpactEvent)]
    finals = {e.service_id: e for e in impacts if e.reason is ImpactReason.RECOVERED}
    print(
        f"replayed {len(day)} events: {len(incidents)} incidents, {len(changes)} CI state "
        f"changes, {len(impacts)} impact events; business impact minutes per service: "
        + ", ".join(f"{s} {e.business_impact_minutes:.1f}" for s, e in sorted(finals.items()))
    )
    # The flapping is held as one failure and, with its second fall, makes one incident.
    assert len(incidents) == 2  # the ledger's, and the payroll database's own
    weight_changes = {e.time for e in impacts if e.reason is ImpactReason.WEIGHT_CHANGE}
    assert {t.hour for t in weight_changes} == {18}  # 18:00: business hours end

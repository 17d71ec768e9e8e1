"""Correlation on the real broker: storms become few incidents with a root cause."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from impactline.core import topics
from impactline.core.contracts import ChangeEvent, ChangeKind, IncidentEvent
from impactline.runtime.clock import SYSTEM
from impactline.runtime.kafka import new_producer, publish
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import TopicTail


async def post(system: RunningSystem, *events: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        response = await client.post("/v1/events", json=list(events))
        assert response.status_code == 202, response.text


def event(ci: str, state: str, at: datetime) -> dict[str, Any]:
    return {"ci_id": ci, "state": state, "time": at.isoformat()}


def about(*cis: str):
    return lambda e: set(e.event.member_cis) & set(cis)


async def collect(tail: TopicTail, cis: set[str], settle_s: float = 3.0) -> list[IncidentEvent]:
    """Every incident event about `cis` seen until nothing new arrived for `settle_s`."""
    seen: list[IncidentEvent] = []
    while True:
        try:
            envelope = await tail.wait_for(
                lambda e: set(e.event.member_cis) & cis and e.event not in seen, timeout_s=settle_s
            )
        except TimeoutError:
            return seen
        seen.append(envelope.event)


async def test_cascade_is_one_incident_rooted_at_the_database(system: RunningSystem, tail) -> None:
    incidents = await tail(topics.INCIDENTS)
    t0 = SYSTEM.now()
    await post(
        system, event("lab-db", "down", t0), event("lab-app", "down", t0 + timedelta(seconds=20))
    )
    await incidents.wait_for(lambda e: "lab-app" in e.event.member_cis, timeout_s=60)
    events = await collect(incidents, {"lab-db", "lab-app"})
    assert {e.incident_id for e in events} == {events[0].incident_id}
    last = events[-1]
    assert last.root_cause_candidates[0] == "lab-db"
    assert set(last.member_cis) == {"lab-db", "lab-app"}
    assert {"lab-orders", "lab-results", "lab-billing"} <= set(last.affected_services)


async def test_unrelated_failures_at_the_same_second_are_two_incidents(
    system: RunningSystem, tail
) -> None:
    incidents = await tail(topics.INCIDENTS)
    t0 = SYSTEM.now()
    await post(system, event("depot-db", "down", t0), event("flaky-web-01", "down", t0))
    first = await incidents.wait_for(about("depot-db"), timeout_s=60)
    second = await incidents.wait_for(about("flaky-web-01"), timeout_s=60)
    assert first.event.incident_id != second.event.incident_id
    assert first.event.root_cause_candidates == ["depot-db"]
    assert second.event.root_cause_candidates == ["flaky-web-01"]


async def test_a_ci_flapping_for_five_minutes_opens_at_most_one_incident(
    system: RunningSystem, tail
) -> None:
    incidents = await tail(topics.INCIDENTS)
    start = SYSTEM.now() - timedelta(minutes=5)
    flaps = [
        event("flap-host-01", "down" if n % 2 == 0 else "ok", start + timedelta(seconds=10 * n))
        for n in range(30)
    ]
    await post(system, *flaps)
    await incidents.wait_for(about("flap-host-01"), timeout_s=60)
    events = await collect(incidents, {"flap-host-01"})
    opened = [e for e in events if e.action.value in ("opened", "reopened")]
    assert len({e.incident_id for e in events}) == 1
    assert len([e for e in opened if e.action.value == "opened"]) == 1


async def test_a_deployment_before_the_failure_is_a_suspect(system: RunningSystem, tail) -> None:
    incidents = await tail(topics.INCIDENTS)
    now = SYSTEM.now()
    change = ChangeEvent(
        ci_id="pay-db",
        kind=ChangeKind.DEPLOYMENT,
        time=now - timedelta(minutes=5),
        summary="schema migration 2026.11.3",
    )
    producer = new_producer(system.settings.require_kafka(), "e2e-changes")
    await producer.start()
    try:
        await publish(
            producer,
            topics.CHANGES,
            change,
            key="pay-db",
            source="e2e",
            prefix=system.settings.topic_prefix,
        )
    finally:
        await producer.stop()
    await asyncio.sleep(1)  # the change is re-keyed before the failure reaches the same domain
    await post(system, event("pay-db", "down", now))
    got = await incidents.wait_for(
        lambda e: "pay-db" in e.event.member_cis and e.event.suspect_changes, timeout_s=60
    )
    suspects = got.event.suspect_changes
    assert [s.change_id for s in suspects] == [change.id]
    assert suspects[0].kind is ChangeKind.DEPLOYMENT


async def test_recovery_resolves_after_the_hold_and_recurrence_reopens(
    system: RunningSystem, tail
) -> None:
    incidents = await tail(topics.INCIDENTS)
    t0 = SYSTEM.now()
    await post(system, event("ret-db", "down", t0))
    opened = await incidents.wait_for(about("ret-db"), timeout_s=60)
    await post(system, event("ret-db", "ok", SYSTEM.now()))
    resolved = await incidents.wait_for(
        lambda e: (
            e.event.incident_id == opened.event.incident_id and e.event.action.value == "resolved"
        ),
        timeout_s=60,
    )
    held = resolved.event.time - opened.event.time
    assert held >= timedelta(seconds=3), "resolved before the hold time passed"
    await post(system, event("ret-db", "down", SYSTEM.now()))
    reopened = await incidents.wait_for(
        lambda e: (
            e.event.incident_id == opened.event.incident_id and e.event.action.value == "reopened"
        ),
        timeout_s=60,
    )
    assert reopened.event.state.value == "open"


async def test_a_killed_worker_continues_the_same_incident(system: RunningSystem, tail) -> None:
    incidents = await tail(topics.INCIDENTS)
    annotations = await tail(topics.CI_ANNOTATIONS)
    t0 = SYSTEM.now()
    await post(system, event("kiosk-db", "down", t0))
    opened = await incidents.wait_for(about("kiosk-db"), timeout_s=60)

    system.supervisor.kill("correlate")  # SIGKILL: no clean shutdown, no final commit
    system.supervisor.restart("correlate")
    await post(system, event("kiosk-app", "down", t0 + timedelta(seconds=30)))

    member = await annotations.wait_for(lambda e: e.event.ci_id == "kiosk-app", timeout_s=120)
    assert member.event.incident_id == opened.event.incident_id
    events = await collect(incidents, {"kiosk-db", "kiosk-app"})
    assert {e.incident_id for e in events} | {opened.event.incident_id} == {
        opened.event.incident_id
    }
    assert not [e for e in events if e.action.value == "opened" and e.id != opened.event.id]
    assert "kiosk-app" in events[-1].member_cis

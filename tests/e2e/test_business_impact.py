"""DESIGN.md section 6 on the real broker: the same database event mid-month and at month end."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from impactline.core import topics
from impactline.runtime.system import RunningSystem

LONDON = ZoneInfo("Europe/London")


async def post(system: RunningSystem, ci: str, state: str, at: datetime) -> str:
    headers = {"Authorization": f"Bearer {system.api_key}"}
    body = {"ci_id": ci, "state": state, "time": at.isoformat(), "summary": "latency critical"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    return response.json()["ids"][0]


def close_impact(event_id: str, reason: str = "state-change"):
    return lambda e: (
        e.event.cause_event_id == event_id
        and e.event.service_id == "financial-close"
        and e.event.reason.value == reason
    )


async def test_month_end_close_turns_the_same_slowdown_from_p3_into_p1(
    system: RunningSystem, tail
) -> None:
    impacts = await tail(topics.IMPACT)
    alerts = await tail(topics.ALERTS)
    executives = await tail(topics.impact_topic("impact.exec"))

    mid_month = datetime(2026, 11, 12, 10, 0, tzinfo=LONDON)
    slow = await post(system, "db-gl-01", "degraded", mid_month)
    p3 = (await impacts.wait_for(close_impact(slow))).event
    assert p3.calendar is not None
    assert (p3.calendar.period, p3.calendar.weight) == ("business-hours", 1.0)
    assert (p3.priority, p3.high_visibility) == ("P3", False)
    assert p3.users_affected == 120
    assert "CFO office" not in p3.personas_affected
    # Business impact minutes accrue live while the incident is open.
    first = (await impacts.wait_for(close_impact(slow, "accrual"))).event
    later = (
        await impacts.wait_for(
            lambda e: (
                close_impact(slow, "accrual")(e)
                and e.event.business_impact_minutes > first.business_impact_minutes
            )
        )
    ).event
    assert first.business_impact_minutes > 0
    assert later.time > first.time
    recovered = await post(system, "db-gl-01", "ok", mid_month + timedelta(minutes=30))
    await impacts.wait_for(close_impact(recovered, "recovered"))

    month_end = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    slow_again = await post(system, "db-gl-01", "degraded", month_end)
    p1 = (await impacts.wait_for(close_impact(slow_again))).event
    assert p1.calendar is not None
    assert (p1.calendar.period, p1.calendar.weight) == ("month-end-close", 3.0)
    assert (p1.priority, p1.high_visibility) == ("P1", True)
    assert "CFO office" in p1.personas_affected
    assert p1.impact_rate > p3.impact_rate * 3
    alert = await alerts.wait_for(
        lambda e: e.event.service_id == "financial-close" and e.event.priority == "P1"
    )
    assert alert.event.high_visibility
    await executives.wait_for(lambda e: e.event.id == p1.id)
    await post(system, "db-gl-01", "ok", month_end + timedelta(minutes=30))

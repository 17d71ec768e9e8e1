"""Incidents, merges, VIPs and planned work add up to what an SRE works out by hand.

Each scenario runs on the whole system (real broker and database) with the services of
tests/e2e/config/truth-catalog.yaml, none of which has a business calendar: every calendar
weight is 1.0, so the figures do not depend on the day the tests run. Events are stamped in the
past, a few minutes of event time apart, each scenario in an hour of its own after the one
before (`t0`): episodes accrue in the time of their own events (docs/scoring.md section 8,
"Time"), so the minutes are exact whatever the machine's pace. Burn-rate urgency is kept out
of the way (an evidence floor of a day), so each priority comes from the matrix of
docs/scoring.md section 4 alone.

The rules each figure comes from:
- rate = state factor (down 1.0, degraded 0.5) x weighted users x tier factor (tier 2: 1.2,
  tier 3: 1.0) x calendar weight (1.0): scoring.md section 3;
- reach (the rate without the weight) >= 150 high, >= 30 medium, else low impact; weight 1.0
  is medium urgency; medium x medium = P3, low x medium = P4, high x medium = P2; a
  high-visibility impact is raised one level: scoring.md section 4;
- who is charged with which minutes, merges and planned work: correlation.md, "Attribution";
- an incident's minutes, priority and shared minutes: scoring.md section 8, "Incidents".
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from impactline.core import topics
from impactline.core.contracts import (
    AlertEvent,
    ImpactEvent,
    ImpactReason,
    IncidentAction,
    IncidentEvent,
    ItsmAction,
    ItsmIncidentEvent,
)
from impactline.runtime.clock import SYSTEM
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import CONFIG, TopicTail

WINDOW = "plan-db-patching"


@pytest.fixture(scope="module")
def start() -> datetime:
    """Twelve hours ago, on the hour: the first scenario's time zero."""
    return SYSTEM.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=12)


def slot(start: datetime, test: str) -> datetime:
    """The time zero of a scenario: an hour of its own, each scenario after the one before, so
    the event time of every partition only moves forward (docs/correlation.md, "Time")."""
    names = [name for name in globals() if name.startswith("test_")]
    return start + timedelta(hours=names.index(test))


@pytest.fixture
def t0(start: datetime, request: pytest.FixtureRequest) -> datetime:
    return slot(start, request.function.__name__)


@pytest.fixture(scope="module")
def e2e_settings(
    e2e_settings: Settings, start: datetime, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The shared settings plus this module's catalog, a maintenance window on plan-db from
    t0 to t0 + 10 min of the planned-work scenario, and burn-rate urgency out of the way."""
    t0 = slot(start, "test_planned_work_pages_nobody_and_its_incident_counts_from_the_window_end")
    suppressions: Path = tmp_path_factory.mktemp("truth") / "suppressions.yaml"
    window = {
        "id": WINDOW,
        "starts_at": t0.isoformat(),
        "ends_at": (t0 + timedelta(minutes=10)).isoformat(),
        "cis": ["plan-db"],
        "comment": "quarterly patching",
    }
    suppressions.write_text(yaml.safe_dump({"maintenance_windows": [window]}))
    return e2e_settings.model_copy(
        update={
            "catalog_paths": [*e2e_settings.catalog_paths, CONFIG / "truth-catalog.yaml"],
            "suppressions": suppressions,
            "burn_min_bad_seconds": 86400.0,
        }
    )


# -- plumbing ---------------------------------------------------------------------------------


def auth(system: RunningSystem) -> dict[str, str]:
    return {"Authorization": f"Bearer {system.api_key}"}


async def send(system: RunningSystem, at: datetime, *changes: tuple[str, str]) -> None:
    """CI state reports, all stamped `at`."""
    body = [{"ci_id": ci, "state": state, "time": at.isoformat()} for ci, state in changes]
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=auth(system)) as client:
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text


async def api(system: RunningSystem, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=system.api_url, headers=auth(system)) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def until(fetch, check, timeout_s: float = 60.0) -> Any:
    """Poll `fetch()` until `check(result)` holds, with a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await fetch()
        if check(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s; last: {result}")
        await asyncio.sleep(0.3)


async def incident(system: RunningSystem, incident_id: str, minutes: float) -> dict[str, Any]:
    """The incident from the read model once it holds at least `minutes`."""
    return await until(
        lambda: api(system, f"/v1/incidents/{incident_id}"),
        lambda i: i["business_impact_minutes"] >= minutes - 0.01,
    )


async def opened(incidents: TopicTail, ci: str) -> IncidentEvent:
    found = await incidents.wait_for(
        lambda e: e.event.action is IncidentAction.OPENED and ci in e.event.member_cis
    )
    return found.event


async def impact(impacts: TopicTail, service: str, reason: ImpactReason, **fields) -> ImpactEvent:
    found = await impacts.wait_for(
        lambda e: (
            e.event.service_id == service
            and e.event.reason is reason
            and all(getattr(e.event, k) == v for k, v in fields.items())
        )
    )
    return found.event


def seen(tail: TopicTail, service: str) -> list[Any]:
    """Every event of `service` the tail has read so far, oldest first."""
    return [envelope.event for envelope, _ in tail.seen if envelope.event.service_id == service]


def itsm_of(tail: TopicTail, service: str) -> list[ItsmIncidentEvent]:
    return [e.event for e, _ in tail.seen if service in e.event.affected_services]


async def closed_out(alerts: TopicTail, itsm: TopicTail, service: str) -> None:
    """Wait until the service's alert and ITSM record are resolved: all before is read."""
    await alerts.wait_for(lambda e: e.event.service_id == service and e.event.resolved)
    await itsm.wait_for(
        lambda e: service in e.event.affected_services and e.event.action is ItsmAction.RESOLVE
    )


# -- 1. an incident's minutes are the sum of its episodes ----------------------------------------


async def test_an_incident_counts_every_episode_of_its_service(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    await send(system, t0, ("flow-app", "degraded"))
    flow = await opened(incidents, "flow-app")
    # flow-db-a joins (a dependency of flow-app) and keeps the incident open; with flow-db-b up
    # the pool of one-of-two databases still serves, so Flow Desk is not hurt by it.
    await send(system, t0 + timedelta(minutes=1), ("flow-db-a", "down"))
    await send(system, t0 + timedelta(minutes=3), ("flow-app", "ok"))
    first = await impact(impacts, "flow-desk", ImpactReason.RECOVERED)
    await send(system, t0 + timedelta(minutes=5), ("flow-app", "degraded"))
    await send(system, t0 + timedelta(minutes=9), ("flow-app", "ok"), ("flow-db-a", "ok"))
    second = await impact(
        impacts, "flow-desk", ImpactReason.RECOVERED, time=t0 + timedelta(minutes=9)
    )

    # Flow Desk degraded: 0.5 x 50 users x 1.2 (tier 2) = 30 a minute, reach 30: P3.
    # Episode 1, 10:00-10:03: 3 x 30 = 90. Episode 2, 10:05-10:09: 4 x 30 = 120.
    assert first.episode_id != second.episode_id
    assert first.business_impact_minutes == pytest.approx(90)
    assert second.business_impact_minutes == pytest.approx(120)
    assert {first.incident_id, second.incident_id} == {flow.incident_id}
    # The incident is charged both episodes: 90 + 120 = 210 ...
    got = await incident(system, flow.incident_id, 210)
    assert got["business_impact_minutes"] == pytest.approx(210)
    assert (got["priority"], got["shared_impact_minutes"]) == ("P3", 0)
    # ... the same as the minutes the service accrued over the span.
    series = await api(
        system,
        "/v1/impact/minutes",
        service="flow-desk",
        since=(t0 - timedelta(hours=1)).isoformat(),
        until=(t0 + timedelta(hours=1)).isoformat(),
        buckets=1,
    )
    assert series["total_minutes"] == pytest.approx(210)


# -- 2. a merge hands the impact to the survivor -------------------------------------------------


async def test_after_a_merge_the_survivor_carries_both_incidents_impact(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    alerts, itsm = await tail(topics.ALERTS), await tail(topics.ITSM)
    await send(system, t0, ("merge-web-a", "down"))
    a = await opened(incidents, "merge-web-a")
    await send(system, t0 + timedelta(minutes=2), ("merge-web-b", "down"))
    b = await opened(incidents, "merge-web-b")
    assert a.incident_id != b.incident_id  # no dependency path between the two web servers
    # merge-shared, needed by both, fails: related to both incidents, they merge into the older
    await send(system, t0 + timedelta(minutes=5), ("merge-shared", "down"))
    closed = await incidents.wait_for(
        lambda e: e.event.incident_id == b.incident_id and e.event.action is IncidentAction.RESOLVED
    )
    assert closed.event.merged_into == a.incident_id
    moved = await impact(impacts, "merge-b", ImpactReason.ATTRIBUTION)
    await send(
        system,
        t0 + timedelta(minutes=8),
        ("merge-web-a", "ok"),
        ("merge-web-b", "ok"),
        ("merge-shared", "ok"),
    )
    end_a = await impact(impacts, "merge-a", ImpactReason.RECOVERED)
    end_b = await impact(impacts, "merge-b", ImpactReason.RECOVERED)

    # Merge A down 10:00-10:08: 1.0 x 10 users x 1.0 = 10 a minute, 8 x 10 = 80; reach 10: P4.
    assert end_a.business_impact_minutes == pytest.approx(80)
    # Merge B down 10:02-10:08: 1.0 x 40 x 1.2 = 48 a minute; reach 48: P3. Charged to B until
    # the merge at 10:05 (3 x 48 = 144), to A from then on (3 x 48 = 144): 288 in all.
    assert (moved.time, moved.incident_id, moved.priority) == (
        t0 + timedelta(minutes=5),
        a.incident_id,
        "P3",
    )
    assert end_b.business_impact_minutes == pytest.approx(288)
    assert [
        (s.incident_ids, pytest.approx(s.business_impact_minutes)) for s in end_b.attribution
    ] == [([b.incident_id], 144), ([a.incident_id], 144)]
    await closed_out(alerts, itsm, "merge-b")
    # Every impact event of Merge B after the merge names the survivor.
    later = [e for e in seen(impacts, "merge-b") if e.time >= moved.time]
    assert {e.incident_id for e in later} == {a.incident_id}
    # The alert is raised again naming the survivor, and resolved under it; so is the record.
    b_alerts: list[AlertEvent] = seen(alerts, "merge-b")
    assert [(x.incident_id, x.priority, x.resolved) for x in b_alerts] == [
        (b.incident_id, "P3", False),
        (a.incident_id, "P3", False),
        (a.incident_id, "P3", True),
    ]
    records = itsm_of(itsm, "merge-b")
    assert [(r.action, r.correlated_incident_id) for r in records] == [
        (ItsmAction.CREATE, b.incident_id),
        (ItsmAction.UPDATE, a.incident_id),
        (ItsmAction.RESOLVE, a.incident_id),
    ]
    assert records[-1].business_impact_minutes == pytest.approx(288)

    # The survivor carries the minutes of both, 80 + 144 + 144 = 368, and the better priority
    # of the two, P3 (Merge B) over P4 (Merge A).
    survivor = await incident(system, a.incident_id, 368)
    assert survivor["business_impact_minutes"] == pytest.approx(368)
    assert (survivor["priority"], survivor["absorbed"]) == ("P3", [b.incident_id])
    by_service = {
        s["service_id"]: s["business_impact_minutes"] for s in survivor["impact_by_service"]
    }
    assert by_service == {"merge-a": pytest.approx(80), "merge-b": pytest.approx(288)}
    # The merged incident keeps what it was charged before the merge and says where it went.
    gone = await api(system, f"/v1/incidents/{b.incident_id}")
    assert gone["business_impact_minutes"] == pytest.approx(144)
    assert (gone["state"], gone["merged_into"], gone["priority"]) == (
        "resolved",
        a.incident_id,
        "P3",
    )


# -- 3. two incidents hurting one service --------------------------------------------------------


async def test_two_causes_of_one_service_are_both_charged_with_the_overlap_stated(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    await send(system, t0, ("twin-left", "degraded"))
    left = await opened(incidents, "twin-left")
    await send(system, t0 + timedelta(minutes=2), ("twin-right", "down"))
    right = await opened(incidents, "twin-right")
    await send(system, t0 + timedelta(minutes=5), ("twin-left", "ok"))
    await impact(impacts, "twin-desk", ImpactReason.ATTRIBUTION, incident_ids=[right.incident_id])
    await send(system, t0 + timedelta(minutes=7), ("twin-right", "ok"))
    end = await impact(impacts, "twin-desk", ImpactReason.RECOVERED)

    # Twin Desk (tier 2, 40 users): degraded 0.5 x 40 x 1.2 = 24 a minute (reach 24: P4),
    # down 1.0 x 40 x 1.2 = 48 a minute (reach 48: P3).
    #   10:00-10:02 degraded, only left's failure:       2 x 24 =  48 -> left
    #   10:02-10:05 down; left alone would leave it degraded, right alone down: both charged
    #                                                    3 x 48 = 144 -> left and right (shared)
    #   10:05-10:07 down, only right's failure:          2 x 48 =  96 -> right
    assert end.business_impact_minutes == pytest.approx(48 + 144 + 96)
    assert [
        (s.incident_ids, pytest.approx(s.business_impact_minutes)) for s in end.attribution
    ] == [
        ([left.incident_id], 48),
        ([right.incident_id, left.incident_id], 144),
        ([right.incident_id], 96),
    ]
    # left: 48 + 144 = 192, of which 144 shared with right; P3 while charged with the outage
    got_left = await incident(system, left.incident_id, 192)
    assert got_left["business_impact_minutes"] == pytest.approx(192)
    assert got_left["shared_impact_minutes"] == pytest.approx(144)
    assert (got_left["shared_with"], got_left["priority"]) == ([right.incident_id], "P3")
    [(service, minutes, shared)] = [
        (s["service_id"], s["business_impact_minutes"], s["shared_impact_minutes"])
        for s in got_left["impact_by_service"]
    ]
    assert (service, minutes, shared) == ("twin-desk", pytest.approx(192), pytest.approx(144))
    # right: 144 + 96 = 240, of which 144 shared with left
    got_right = await incident(system, right.incident_id, 240)
    assert got_right["business_impact_minutes"] == pytest.approx(240)
    assert got_right["shared_impact_minutes"] == pytest.approx(144)
    assert (got_right["shared_with"], got_right["priority"]) == ([left.incident_id], "P3")
    # Counting the shared minutes once gives the service's own total: 192 + 240 - 144 = 288.


# -- 4. VIPs ---------------------------------------------------------------------------------


async def test_a_vip_whose_persona_is_hurt_makes_the_impact_high_visibility(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    alerts = await tail(topics.ALERTS)
    await send(system, t0, ("vip-board-db", "down"))
    board = await opened(incidents, "vip-board-db")
    first = await impact(impacts, "vip-board", ImpactReason.STATE_CHANGE)
    # weighted users 40 x 1.0 + 4 x 2.0 = 48, tier 3: reach 48, medium; the Directors persona
    # is affected and md@vip.example is tied to it: high visibility raises the impact to
    # high; high x medium urgency = P2 (P3 without the VIP).
    assert (first.priority, first.high_visibility) == ("P2", True)
    assert first.visibility_reasons == ["VIP users affected: md@vip.example (Directors)"]
    alert = await alerts.wait_for(lambda e: e.event.service_id == "vip-board")
    assert (alert.event.priority, alert.event.high_visibility) == ("P2", True)
    await send(system, t0 + timedelta(minutes=2), ("vip-board-db", "ok"))
    end = await impact(impacts, "vip-board", ImpactReason.RECOVERED)
    assert end.business_impact_minutes == pytest.approx(2 * 48)
    got = await incident(system, board.incident_id, 96)
    assert (got["priority"], got["high_visibility"]) == ("P2", True)


async def test_a_vips_own_complaint_during_the_impact_makes_it_high_visibility(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    alerts = await tail(topics.ALERTS)
    await send(system, t0, ("vip-desk-db", "down"))
    desk = await opened(incidents, "vip-desk-db")
    first = await impact(impacts, "vip-desk", ImpactReason.STATE_CHANGE)
    # Clerks only (the Auditors rely on it during the close): reach 30 x 1.0 = 30, medium:
    # P3, and not high-visibility.
    assert (first.priority, first.high_visibility) == ("P3", False)
    # An accrual comes from a timer run over the stored episode: the episode is open for sure.
    await impact(impacts, "vip-desk", ImpactReason.ACCRUAL)

    async with httpx.AsyncClient(base_url=system.ingest_url, headers=auth(system)) as client:
        sent = await client.post(
            "/v1/feedback",
            json={
                "service_id": "vip-desk",
                "time": (t0 + timedelta(minutes=1)).isoformat(),
                "csat": 1,
                "comment": "cannot post the audit adjustments",
                "user_id": "lead-auditor@vip.example",
            },
        )
    assert sent.status_code == 202, sent.text
    report = await impact(impacts, "vip-desk", ImpactReason.VIP_REPORT)
    # A rating of 1 from a VIP of the service: high visibility raises medium to high: P2.
    assert (report.priority, report.high_visibility) == ("P2", True)
    assert report.visibility_reasons == ["VIP users reported a problem: lead-auditor@vip.example"]
    assert t0 <= report.time <= t0 + timedelta(minutes=1)
    raised = await alerts.wait_for(
        lambda e: e.event.service_id == "vip-desk" and e.event.priority == "P2"
    )
    assert raised.event.high_visibility and raised.event.incident_id == desk.incident_id
    await send(system, t0 + timedelta(minutes=3), ("vip-desk-db", "ok"))
    end = await impact(impacts, "vip-desk", ImpactReason.RECOVERED)
    # down 10:00-10:03 at 30 a minute: 90
    assert end.business_impact_minutes == pytest.approx(90)
    got = await incident(system, desk.incident_id, 90)
    assert (got["priority"], got["high_visibility"]) == ("P2", True)


# -- 5. planned work -------------------------------------------------------------------------


async def test_planned_work_pages_nobody_and_its_incident_counts_from_the_window_end(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    alerts, itsm = await tail(topics.ALERTS), await tail(topics.ITSM)
    # plan-db fails at 10:06, inside its maintenance window (10:00-10:10) ...
    await send(system, t0 + timedelta(minutes=6), ("plan-db", "down"))
    planned = await impact(impacts, "plan-desk", ImpactReason.STATE_CHANGE)
    assert (planned.planned, planned.incident_id, planned.priority) == (True, None, "P3")
    assert planned.planned_by == (
        f"maintenance window {WINDOW} until {(t0 + timedelta(minutes=10)).isoformat()}"
    )
    # ... and is still down when the window ends: the incident opens at 10:10, once event time
    # passes it (the monitoring reports plan-db down again at 10:11)
    await send(system, t0 + timedelta(minutes=11), ("plan-db", "down"))
    plan = await opened(incidents, "plan-db")
    assert plan.time == t0 + timedelta(minutes=10)
    charged = await impact(impacts, "plan-desk", ImpactReason.ATTRIBUTION)
    await send(system, t0 + timedelta(minutes=14), ("plan-db", "ok"))
    end = await impact(impacts, "plan-desk", ImpactReason.RECOVERED)

    # Plan Desk down, 1.0 x 30 x 1.0 = 30 a minute (reach 30, P3):
    #   10:06-10:10 planned work: 4 x 30 = 120, shown but nobody's
    #   10:10-10:14 the incident:  4 x 30 = 120
    assert (charged.time, charged.incident_id, charged.planned) == (
        t0 + timedelta(minutes=10),
        plan.incident_id,
        False,
    )
    assert charged.business_impact_minutes == pytest.approx(120)
    assert end.business_impact_minutes == pytest.approx(240)
    assert [
        (s.incident_ids, s.planned, pytest.approx(s.business_impact_minutes))
        for s in end.attribution
    ] == [([], True, 120), ([plan.incident_id], False, 120)]
    await closed_out(alerts, itsm, "plan-desk")
    # Nothing paged during the window: the first alert and ITSM record come with the incident.
    raised: list[AlertEvent] = seen(alerts, "plan-desk")
    assert [(a.time, a.incident_id, a.resolved) for a in raised] == [
        (t0 + timedelta(minutes=10), plan.incident_id, False),
        (t0 + timedelta(minutes=14), plan.incident_id, True),
    ]
    records = itsm_of(itsm, "plan-desk")
    assert [(r.action, r.time, pytest.approx(r.business_impact_minutes)) for r in records] == [
        (ItsmAction.CREATE, t0 + timedelta(minutes=10), 0),
        (ItsmAction.RESOLVE, t0 + timedelta(minutes=14), 120),
    ]
    assert raised[-1].summary == "Plan Desk has recovered after 4 min: 120 business impact minutes"
    got = await incident(system, plan.incident_id, 120)
    assert got["business_impact_minutes"] == pytest.approx(120)
    assert got["priority"] == "P3"


# -- 6. members of a redundancy group --------------------------------------------------------


async def test_two_members_of_a_redundancy_group_failing_apart_are_one_incident(
    system: RunningSystem, tail, t0: datetime
) -> None:
    impacts, incidents = await tail(topics.IMPACT), await tail(topics.INCIDENTS)
    await send(system, t0, ("pool-node-1", "down"))
    pool = await opened(incidents, "pool-node-1")
    await send(system, t0 + timedelta(minutes=1), ("pool-node-2", "down"))
    joined = await incidents.wait_for(lambda e: "pool-node-2" in e.event.member_cis)
    assert (joined.event.action, joined.event.incident_id) == (
        IncidentAction.UPDATED,
        pool.incident_id,
    )
    assert joined.event.member_cis == ["pool-node-1", "pool-node-2"]
    await send(system, t0 + timedelta(minutes=4), ("pool-node-1", "ok"), ("pool-node-2", "ok"))
    end = await impact(impacts, "pool-desk", ImpactReason.RECOVERED)
    # The pool needs one node of two: Pool Desk is down from the second failure, 10:01-10:04,
    # at 1.0 x 25 x 1.2 = 30 a minute (reach 30, P3): 3 x 30 = 90, all the one incident's.
    assert end.business_impact_minutes == pytest.approx(90)
    assert end.incident_id == pool.incident_id
    got = await incident(system, pool.incident_id, 90)
    assert got["business_impact_minutes"] == pytest.approx(90)
    assert got["priority"] == "P3"
    opened_for_pool = [
        e.event
        for e, _ in incidents.seen
        if e.event.action is IncidentAction.OPENED
        and {"pool-node-1", "pool-node-2"} & set(e.event.member_cis)
    ]
    assert [e.incident_id for e in opened_for_pool] == [pool.incident_id]


# -- 7. ingest's answer --------------------------------------------------------------------------


async def test_a_resent_event_is_a_duplicate_and_is_not_produced_again(
    system: RunningSystem, tail, t0: datetime
) -> None:
    telemetry = await tail(topics.TELEMETRY)
    event = {"id": "truth-resend-1", "ci_id": "pool-node-1", "state": "ok", "time": t0.isoformat()}
    marker = {"id": "truth-resend-2", "ci_id": "pool-node-1", "state": "ok", "time": t0.isoformat()}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=auth(system)) as client:
        first = (await client.post("/v1/events", json=event)).json()
        again = (await client.post("/v1/events", json=[event, marker])).json()
    # one item each time, counted once: accepted + duplicates + rejected = items sent
    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    assert again["ids"] == ["truth-resend-1", "truth-resend-2"]
    # The marker follows the resend on the same CI's partition: once it is there, a copy of
    # the resent event would have been read before it.
    await telemetry.wait_for(lambda e: e.event.id == "truth-resend-2")
    ids = [e.event.id for e, _ in telemetry.seen]
    assert ids.count("truth-resend-1") == 1

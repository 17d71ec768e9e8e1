"""The impact engine under attribution: who each minute is charged to, merges, planned work and
VIP reports (docs/scoring.md section 8, docs/correlation.md "Attribution").

One service without calendar or personas (weight 1.0): tier 3 (factor 1.0), 100 users, so it
is down at 1.0 x 100 x 1.0 = 100 impact minutes per minute, reach 100: medium impact, medium
urgency (weight 1.0), P3.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impactline.core.catalog import Catalog
from impactline.core.contracts import (
    FeedbackEvent,
    HealthReason,
    ImpactReason,
    ItsmAction,
    ServiceHealthEvent,
)
from impactline.core.impact import EpisodeState, ImpactEngine, Step
from impactline.core.impact.reports import is_negative
from impactline.core.states import State

T0 = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
WINDOW = "maintenance window db-patching until 2026-11-12T10:04:00+00:00"


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def engine(**service: Any) -> ImpactEngine:
    entry = {
        "id": "svc",
        "name": "Svc",
        "owner": "Ops",
        "tier": 3,
        "users": 100,
        "domain": "lab",
        "dependencies": [{"to": "db"}],
        **service,
    }
    cis = [{"id": "db", "type": "database", "owner": "DBA"}]
    return ImpactEngine(Catalog.from_documents([("t.yaml", {"services": [entry], "cis": cis})]), {})


def health(
    at: datetime,
    state: State,
    incidents: tuple[str, ...] = (),
    *,
    planned_by: str | None = None,
    previous: State = State.OK,
) -> ServiceHealthEvent:
    reason = HealthReason.ATTRIBUTION if state is previous else HealthReason.STATE_CHANGE
    return ServiceHealthEvent(
        id=f"health-{at.isoformat()}-{state.value}-{','.join(incidents)}",
        reason=reason,
        service_id="svc",
        state=state,
        previous_state=previous,
        time=at,
        correlation_domain="dom-svc",
        cause_ci_id="db",
        cause_event_id="telemetry-1",
        incident_id=incidents[0] if incidents else None,
        incident_ids=list(incidents),
        planned_by=planned_by,
        catalog_version=1,
    )


def shares(step: Step) -> list[tuple[list[str], bool, float]]:
    event = step.impacts[-1].event
    return [
        (s.incident_ids, s.planned, pytest.approx(s.business_impact_minutes))
        for s in event.attribution
    ]


def test_after_a_merge_every_later_event_names_the_survivor_and_minutes_stay_split() -> None:
    e = engine()
    opened = e.on_health(None, health(minutes(0), State.DOWN, ("inc-b",)))
    [alert] = opened.alerts
    [record] = opened.itsm
    assert (alert.incident_id, alert.priority) == ("inc-b", "P3")
    assert (record.action, record.correlated_incident_id) == (ItsmAction.CREATE, "inc-b")

    merged = e.on_health(
        opened.state,
        health(minutes(3), State.DOWN, ("inc-a",), previous=State.DOWN),
    )
    [moved] = [r.event for r in merged.impacts]
    assert (moved.reason, moved.incident_id, moved.incident_ids) == (
        ImpactReason.ATTRIBUTION,
        "inc-a",
        ["inc-a"],
    )
    # 3 minutes down at 100/min before the merge stay B's; A is charged from now on
    assert moved.business_impact_minutes == pytest.approx(300)
    assert shares(merged) == [(["inc-b"], False, 300), (["inc-a"], False, 0)]
    # the alert and the ITSM record are raised again, naming the survivor at the same priority
    [realert] = merged.alerts
    [update] = merged.itsm
    assert (realert.incident_id, realert.priority, realert.dedup_key) == (
        "inc-a",
        "P3",
        alert.dedup_key,
    )
    assert (update.action, update.correlated_incident_id, update.incident_id) == (
        ItsmAction.UPDATE,
        "inc-a",
        record.incident_id,
    )

    recovered = e.on_health(merged.state, health(minutes(6), State.OK, previous=State.DOWN))
    assert recovered.state is None
    last = recovered.impacts[-1].event
    assert (last.reason, last.incident_id) == (ImpactReason.RECOVERED, "inc-a")
    assert shares(recovered) == [(["inc-b"], False, 300), (["inc-a"], False, 300)]
    [closed] = recovered.alerts
    [resolve] = recovered.itsm
    assert closed.resolved and closed.incident_id == "inc-a"
    assert (resolve.correlated_incident_id, resolve.business_impact_minutes) == ("inc-a", 600)


def test_minutes_two_incidents_are_charged_with_together_are_one_shared_share() -> None:
    e = engine()
    step = e.on_health(None, health(minutes(0), State.DEGRADED, ("inc-l",)))
    step = e.on_health(
        step.state,
        health(minutes(2), State.DOWN, ("inc-r", "inc-l"), previous=State.DEGRADED),
    )
    step = e.on_health(
        step.state,
        health(minutes(5), State.DOWN, ("inc-r",), previous=State.DOWN),
    )
    step = e.on_health(step.state, health(minutes(7), State.OK, previous=State.DOWN))
    # degraded 2 min x 50 = 100 (L alone); down 3 min x 100 = 300 (both); down 2 x 100 = 200 (R)
    assert shares(step) == [
        (["inc-l"], False, 100),
        (["inc-r", "inc-l"], False, 300),
        (["inc-r"], False, 200),
    ]
    assert step.impacts[-1].event.business_impact_minutes == pytest.approx(600)


def test_planned_work_pages_nobody_and_the_incident_counts_from_its_opening() -> None:
    e = engine()
    planned = e.on_health(None, health(minutes(0), State.DOWN, planned_by=WINDOW))
    [event] = [r.event for r in planned.impacts]
    assert (event.planned, event.planned_by, event.incident_id) == (True, WINDOW, None)
    assert event.priority == "P3"  # computed and shown ...
    assert planned.alerts == () and planned.itsm == ()  # ... but nothing pages
    ticked = e.on_tick(planned.state, minutes(2))
    assert ticked.alerts == () and ticked.itsm == ()

    opened = e.on_health(
        ticked.state,
        health(minutes(4), State.DOWN, ("inc-1",), previous=State.DOWN),
    )
    [charged] = [r.event for r in opened.impacts]
    assert (charged.reason, charged.planned, charged.incident_id) == (
        ImpactReason.ATTRIBUTION,
        False,
        "inc-1",
    )
    assert shares(opened) == [([], True, 400), (["inc-1"], False, 0)]
    [alert] = opened.alerts
    [record] = opened.itsm
    assert (alert.time, alert.incident_id) == (minutes(4), "inc-1")
    # the record counts from its creation: the 400 planned minutes are not the incident's
    assert (record.action, record.business_impact_minutes) == (ItsmAction.CREATE, 0)

    done = e.on_health(opened.state, health(minutes(8), State.OK, previous=State.DOWN))
    [resolve] = done.itsm
    [closed] = done.alerts
    assert resolve.business_impact_minutes == pytest.approx(400)
    assert closed.summary == "Svc has recovered after 4 min: 400 business impact minutes"
    assert done.impacts[-1].event.business_impact_minutes == pytest.approx(800)


VIP_SERVICE: dict[str, Any] = {
    "personas": [
        {"name": "Clerks", "stakeholder": "service-evaluator", "users": 100},
        # relied on during the close only: not affected without a calendar period
        {
            "name": "Auditors",
            "stakeholder": "resource-allocator",
            "users": 5,
            "periods": ["month-end-close"],
        },
    ],
    "vip_users": [{"user": "lead-auditor", "persona": "Auditors"}],
}


def feedback(at: datetime, user: str | None, csat: int | None = 1, comment: str | None = None):
    return FeedbackEvent(
        id=f"fb-{user}-{at.isoformat()}-{csat}",
        service_id="svc",
        time=at,
        csat=csat,
        comment=comment,
        user_id=user,
    )


def test_a_vip_complaint_during_the_impact_makes_it_high_visibility() -> None:
    e = engine(**VIP_SERVICE)
    opened = e.on_health(None, health(minutes(0), State.DOWN, ("inc-1",)))
    first = opened.impacts[0].event
    # Clerks only: reach 100 -> medium impact, medium urgency -> P3, not high-visibility
    assert (first.priority, first.high_visibility) == ("P3", False)

    state = opened.state
    assert state is not None
    for quiet in (
        feedback(minutes(1), "clerk-7"),  # not a VIP
        feedback(minutes(1), "lead-auditor", csat=5),  # a VIP, but happy
        feedback(minutes(-5), "lead-auditor"),  # about something before the impact
    ):
        assert e.on_feedback(state, quiet, now=minutes(1)).state is state

    reported = e.on_feedback(state, feedback(minutes(1), "lead-auditor"), now=minutes(1))
    [event] = [r.event for r in reported.impacts]
    assert event.reason is ImpactReason.VIP_REPORT
    assert event.time == minutes(1) and event.business_impact_minutes == pytest.approx(100)
    # high visibility raises the impact to high: high x medium urgency -> P2
    assert (event.priority, event.high_visibility) == ("P2", True)
    assert event.visibility_reasons == ["VIP users reported a problem: lead-auditor"]
    [alert] = reported.alerts
    assert alert.priority == "P2" and alert.high_visibility
    assert alert.summary.endswith("P2, reported by lead-auditor")
    # a second complaint changes nothing more
    again = e.on_feedback(reported.state, feedback(minutes(2), "lead-auditor"), now=minutes(2))
    assert again.impacts == ()


def test_a_vip_tied_to_the_whole_service_is_reached_whenever_it_hurts() -> None:
    e = engine(vip_users=["ceo"])
    # reach 100 (medium), raised to high by the VIP; medium urgency -> P2
    event = e.on_health(None, health(minutes(0), State.DOWN, ("inc-1",))).impacts[0].event
    assert (event.priority, event.visibility_reasons) == ("P2", ["VIP users affected: ceo"])


@pytest.mark.parametrize(
    ("csat", "comment", "negative"),
    [
        (1, None, True),
        (2, None, True),
        (3, None, False),
        (None, "The close is blocked again, this is terrible", True),
        (None, "Works fine now, thanks", False),
        (4, "awful and slow", True),
    ],
)
def test_what_counts_as_reporting_a_problem(csat, comment, negative) -> None:
    assert is_negative(feedback(T0, "u", csat=csat, comment=comment)) is negative


def test_an_episode_with_shares_survives_storage_and_old_states_still_read() -> None:
    e = engine()
    step = e.on_health(None, health(minutes(0), State.DOWN, ("inc-b",)))
    step = e.on_health(
        step.state,
        health(minutes(3), State.DOWN, ("inc-a",), previous=State.DOWN),
    )
    assert step.state is not None
    stored = step.state.to_dict()
    assert EpisodeState.from_dict(stored) == step.state
    older = {
        k: v
        for k, v in stored.items()
        if k not in ("incident_ids", "planned_by", "shares", "vip_reports")
    }
    read = EpisodeState.from_dict(older)
    assert (read.incident_ids, read.shares) == ((), ())

"""SLO error budget and multi-window burn-rate alerts from service-health time.

SLO 99.9 % over 30 days: the budget is 0.1 % of the time, 43.2 minutes. A degraded second is
half a bad second. Rules: 1 h / 5 min x14.4 page, 6 h / 30 min x6 page, 3 d / 6 h x1 ticket;
a rule counts once its long window holds 2 minutes of bad time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impactline.core.contracts import ServiceHealthEvent
from impactline.core.experience import (
    ExperiencePolicy,
    ExperienceState,
    ServiceRef,
    alert_priority,
    evaluate,
    fastest_burn_rate,
    publish,
    record_health,
    rule_key,
)
from impactline.core.scoring import AlertSeverity, ServiceProfile
from impactline.core.states import State

POLICY = ExperiencePolicy()
PROFILE = ServiceProfile(id="financial-close", tier=1, users=120, slo_target=0.999)
SERVICE = ServiceRef("financial-close", "Financial Close", "Finance Systems")
_ids = iter(range(1_000_000))


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 12, hour, minute, second, tzinfo=UTC)


def changes(
    *steps: tuple[State, datetime], state: ExperienceState | None = None
) -> ExperienceState:
    state = state or ExperienceState("financial-close")
    for new_state, when in steps:
        n = next(_ids)
        event = ServiceHealthEvent(
            id=f"health-{n}",
            service_id="financial-close",
            state=new_state,
            previous_state=State.OK,
            time=when,
            correlation_domain="london-core",
            cause_ci_id="db-gl-01",
            cause_event_id=f"telemetry-{n}",
            catalog_version=1,
        )
        state = record_health(state, event, POLICY)
    return state


def firing(state: ExperienceState, now: datetime, profile: ServiceProfile = PROFILE) -> list:
    return [
        (rule_key(a.rule), round(a.long_burn_rate, 2), round(a.short_burn_rate, 2))
        for a in evaluate(state, now, profile, POLICY).alerts
    ]


def test_burn_rates_over_every_rule_window():
    state = changes((State.DEGRADED, at(10)), (State.OK, at(10, 30)))
    evaluation = evaluate(state, at(10, 32), PROFILE, POLICY)
    # 900 bad seconds from 10:00 to 10:30; the last 5 min see 10:27-10:30 (90 s of 300),
    # the last 30 min 10:02-10:30 (840 s of 1800); burn = error ratio / 0.001
    assert {w: round(r or 0, 2) for w, r in evaluation.burn_rates.items()} == {
        timedelta(minutes=5): 300.0,
        timedelta(minutes=30): 466.67,
        timedelta(hours=1): 250.0,
        timedelta(hours=6): 41.67,
        timedelta(days=3): 3.47,
    }
    assert firing(state, at(10, 32)) == [
        ("1h-5m", 250.0, 300.0),
        ("6h-30m", 41.67, 466.67),
        ("3d-6h", 3.47, 41.67),
    ]
    assert evaluation.fastest_burn_rate == pytest.approx(250.0)
    # 900 s of a 2,592,000 s budget of 0.1 %: 34.7 % spent
    assert evaluation.budget.consumed == pytest.approx(0.347222, abs=1e-6)


def test_the_short_window_stops_the_pages_soon_after_the_burning_stops():
    state = changes((State.DEGRADED, at(10)), (State.OK, at(10, 30)))
    # at 11:00 nothing bad in the last 5 or 30 minutes: only the slow-burn ticket remains
    assert firing(state, at(11)) == [("3d-6h", 3.47, 41.67)]
    assert fastest_burn_rate(state, at(11), 0.999, POLICY) == pytest.approx(3.4722, abs=1e-4)


def test_a_fresh_degradation_has_no_burn_evidence():
    state = changes((State.DEGRADED, at(10)))
    assert fastest_burn_rate(state, at(10), 0.999, POLICY) is None
    # one minute degraded: 30 bad seconds, under the 2-minute floor
    assert fastest_burn_rate(state, at(10, 1), 0.999, POLICY) is None
    assert firing(state, at(10, 1)) == []


def test_without_the_floor_a_one_minute_blip_on_a_strict_slo_would_page():
    strict = PROFILE.model_copy(update={"slo_target": 0.9995})
    state = changes((State.DEGRADED, at(10)))
    no_floor = ExperiencePolicy(min_bad=timedelta(0))
    # 30 s / 3600 s / 0.0005 = 16.7 over the hour, 200 over 5 minutes: over 14.4
    assert fastest_burn_rate(state, at(10, 1), 0.9995, no_floor) == pytest.approx(16.667, 1e-3)
    assert fastest_burn_rate(state, at(10, 1), 0.9995, POLICY) is None
    assert firing(state, at(10, 1), strict) == []


def test_four_minutes_degraded_or_two_down_page():
    degraded = changes((State.DEGRADED, at(10)))
    assert firing(degraded, at(10, 3, 59)) == []
    # 120 bad seconds: 120 / 3600 / 0.001 = 33.3 over the hour, 400 over 5 minutes
    assert firing(degraded, at(10, 4)) == [("1h-5m", 33.33, 400.0)]
    down = changes((State.DOWN, at(10)))
    assert firing(down, at(10, 1)) == []
    assert firing(down, at(10, 2)) == [("1h-5m", 33.33, 400.0)]


def test_a_burn_rate_alert_is_raised_once_re_raised_on_a_new_priority_and_resolved():
    state = changes((State.DEGRADED, at(10)))
    raised = publish(state, evaluate(state, at(10, 4), PROFILE, POLICY), SERVICE, POLICY)
    [alert] = raised.alerts
    assert (alert.dedup_key, alert.priority, alert.resolved, alert.owner_team) == (
        "financial-close/error-budget/1h-5m",
        "P2",
        False,
        "Finance Systems",
    )
    # 120 s of a 2,592 s budget: 4.6 %
    assert alert.summary == (
        "Financial Close is burning its error budget 33.3x faster than allowed "
        "(1 h and 5 min windows): 5 % of the 30-day budget spent"
    )
    same = publish(
        raised.state, evaluate(raised.state, at(10, 4, 1), PROFILE, POLICY), SERVICE, POLICY
    )
    assert same.alerts == ()

    # the impact engine has a P1 open for the service: the page follows it
    higher = publish(
        same.state,
        evaluate(same.state, at(10, 4, 2), PROFILE, POLICY),
        SERVICE,
        POLICY,
        impact_priority="P1",
        incident_id="incident-7",
    )
    [re_raised] = higher.alerts
    assert (re_raised.dedup_key, re_raised.priority, re_raised.incident_id) == (
        alert.dedup_key,
        "P1",
        "incident-7",
    )

    recovered = changes((State.OK, at(10, 4, 2)), state=higher.state)
    # at 10:10 the last 5 minutes are clean; the 6 h window burns 120/21600/0.001 = 5.6 < 6
    closed = publish(recovered, evaluate(recovered, at(10, 10), PROFILE, POLICY), SERVICE, POLICY)
    [resolved] = closed.alerts
    assert (resolved.dedup_key, resolved.priority, resolved.resolved) == (
        alert.dedup_key,
        "P1",
        True,
    )
    assert resolved.summary.startswith(
        "Financial Close is no longer burning its error budget faster than allowed "
        "(1 h and 5 min windows)"
    )
    assert closed.state.alerts == {}
    assert len({alert.id, re_raised.id, resolved.id}) == 3


def test_priority_of_burn_rate_alerts():
    assert alert_priority(AlertSeverity.PAGE, None) == "P2"
    assert alert_priority(AlertSeverity.PAGE, "P3") == "P2"
    assert alert_priority(AlertSeverity.PAGE, "P1") == "P1"
    assert alert_priority(AlertSeverity.TICKET, "P1") == "P4"


def test_a_slow_burn_opens_a_ticket_at_p4():
    state = changes((State.DEGRADED, at(10)), (State.OK, at(10, 30)))
    outcome = publish(state, evaluate(state, at(11), PROFILE, POLICY), SERVICE, POLICY)
    [ticket] = outcome.alerts
    assert (ticket.dedup_key, ticket.priority) == ("financial-close/error-budget/3d-6h", "P4")
    assert ticket.summary == (
        "Financial Close is burning its error budget 3.5x faster than allowed "
        "(3 days and 6 h windows): 35 % of the 30-day budget spent"
    )


def test_planned_work_spends_no_budget_until_its_incident_is_charged():
    # Down 10:00-10:30 under a maintenance window that ends at 10:20 with the failure still
    # there: only 10:20-10:30 (600 s) is bad time; the planned 20 minutes are not counted.
    steps = [
        (State.DOWN, at(10), "maintenance window db until 10:20", []),
        (State.DOWN, at(10, 20), None, ["inc-1"]),
        (State.OK, at(10, 30), None, ["inc-1"]),
    ]
    state = ExperienceState("financial-close")
    for n, (new_state, when, planned_by, incidents) in enumerate(steps):
        event = ServiceHealthEvent(
            id=f"planned-{n}",
            service_id="financial-close",
            state=new_state,
            previous_state=State.DOWN if n else State.OK,
            time=when,
            correlation_domain="london-core",
            cause_ci_id="db-gl-01",
            cause_event_id="telemetry-planned",
            incident_ids=incidents,
            planned_by=planned_by,
            catalog_version=1,
        )
        state = record_health(state, event, POLICY)
        if n == 0:
            # 19 minutes down under the window: nothing burns, nothing pages
            assert firing(state, at(10, 19)) == []
            assert fastest_burn_rate(state, at(10, 19), 0.999, POLICY) is None
    evaluation = evaluate(state, at(10, 30), PROFILE, POLICY)
    # the hour 9:30-10:30 counts 600 bad seconds of 2,400 (the 1,200 planned are left out)
    assert evaluation.burn_rates[timedelta(hours=1)] == pytest.approx(600 / 2400 / 0.001)

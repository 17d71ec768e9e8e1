"""The impact engine: episodes, accrual, calendar boundaries, recovery, alerts and ITSM records.

Most tests use a one-service catalog with round numbers: tier 3 (factor 1.0), 100 users, no
personas, so a degraded service (state factor 0.5) reaches 0.5 x 100 x 1.0 = 50 weighted users
and its rate is 50 x the calendar weight.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import BusinessCalendar, load_calendar
from impactline.core.catalog import Catalog
from impactline.core.contracts import (
    ImpactReason,
    IncidentAction,
    IncidentEvent,
    IncidentState,
    ItsmAction,
    ServiceHealthEvent,
    Weighting,
)
from impactline.core.impact import (
    EpisodeState,
    EpisodeStateError,
    ImpactEngine,
    RoutingRules,
    Step,
    UnknownService,
)
from impactline.core.states import State

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def uk_finance() -> BusinessCalendar:
    return load_calendar(ROOT / "deploy" / "calendars" / "uk-finance.yaml")


def one_service_catalog(**overrides: Any) -> Catalog:
    service = {
        "id": "supplier-payments",
        "name": "Supplier Payments",
        "owner": "Head of Payables",
        "tier": 3,
        "users": 100,
        "domain": "finance",
        "calendar": "uk-finance",
        "dependencies": [{"to": "db-pay-01"}],
    }
    service.update(overrides)
    cis = [{"id": "db-pay-01", "type": "database", "owner": "Database Team"}]
    return Catalog.from_documents([("test.yaml", {"services": [service], "cis": cis})])


def engine_for(catalog: Catalog, uk_finance: BusinessCalendar, **kwargs: Any) -> ImpactEngine:
    return ImpactEngine(catalog, {"uk-finance": uk_finance}, **kwargs)


def health(
    at: datetime,
    state: State = State.DEGRADED,
    *,
    event_id: str | None = None,
    service_id: str = "supplier-payments",
    cause_ci_id: str = "db-pay-01",
    cause_event_id: str = "telemetry-1",
) -> ServiceHealthEvent:
    return ServiceHealthEvent(
        id=event_id or f"health-{state.value}-{at.isoformat()}",
        service_id=service_id,
        state=state,
        previous_state=State.OK if state is not State.OK else State.DEGRADED,
        time=at,
        correlation_domain="london-core",
        cause_ci_id=cause_ci_id,
        cause_event_id=cause_event_id,
        catalog_version=0,
    )


def london(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


def reasons(step: Step) -> list[ImpactReason]:
    return [routed.event.reason for routed in step.impacts]


# --- the case that matters (DESIGN section 6) -----------------------------------------------


def test_an_open_episode_accrues_rate_times_minutes_on_ticks(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)  # Thursday 12 November, business hours, weight 1.0
    opened = engine.on_health(None, health(start))
    assert opened.impacts[0].event.business_impact_minutes == 0

    ten = engine.on_tick(opened.state, start + timedelta(minutes=10))
    # rate 0.5 x 100 x 1.0 x 1.0 = 50 per minute; one accrual event per minute, the tenth at 500
    accruals = [routed.event for routed in ten.impacts]
    assert {a.reason for a in accruals} == {ImpactReason.ACCRUAL}
    assert [a.time - start for a in accruals] == [timedelta(minutes=m) for m in range(1, 11)]
    assert {a.impact_rate for a in accruals} == {50}
    assert accruals[-1].business_impact_minutes == pytest.approx(500)

    twenty = engine.on_tick(ten.state, start + timedelta(minutes=20))
    # 20 minutes x 50 -> 1000, however seldom the watermark moved
    assert [routed.event.business_impact_minutes for routed in twenty.impacts] == [
        pytest.approx(50 * m) for m in range(11, 21)
    ]
    assert twenty.alerts == () and twenty.itsm == ()


def test_accrual_events_come_at_most_once_per_accrual_period(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance, accrual_period=timedelta(minutes=5))
    start = london(12, 10)
    step = engine.on_health(None, health(start))
    emitted = []
    for seconds in range(30, 20 * 60 + 1, 30):  # a tick every 30 s for 20 minutes
        step = engine.on_tick(step.state, start + timedelta(seconds=seconds))
        emitted += [routed.event for routed in step.impacts]
    assert [event.time - start for event in emitted] == [
        timedelta(minutes=minutes) for minutes in (5, 10, 15, 20)
    ]
    # 5-minute steps at 50 per minute
    assert [event.business_impact_minutes for event in emitted] == pytest.approx(
        [250, 500, 750, 1000]
    )


def test_business_hours_ending_mid_episode_splits_the_accrual_at_exactly_18_00(
    uk_finance: BusinessCalendar,
):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 17)
    opened = engine.on_health(None, health(start))
    assert opened.impacts[0].event.priority == "P3"  # reach 50 medium, weight 1.0 medium

    step = engine.on_tick(opened.state, london(12, 18, 30))
    # An accrual each minute until 17:59, the weight change at 18:00 (which also stands for the
    # 18:00 accrual), then an accrual each minute until 18:30.
    assert reasons(step) == [
        *[ImpactReason.ACCRUAL] * 59,
        ImpactReason.WEIGHT_CHANGE,
        *[ImpactReason.ACCRUAL] * 30,
    ]
    change = step.impacts[59].event
    accrual = step.impacts[-1].event
    assert change.time == london(12, 18)
    assert change.calendar is not None
    assert (change.calendar.period, change.calendar.weight) == ("off-hours", 0.3)
    # 17:00-18:00 at 0.5 x 100 x 1.0 x 1.0 = 50 per minute: 60 x 50 = 3000
    assert change.business_impact_minutes == pytest.approx(3000)
    # from 18:00 the rate is 50 x 0.3 = 15: 3000 + 30 x 15 = 3450 at 18:30
    assert accrual.impact_rate == pytest.approx(15)
    assert accrual.business_impact_minutes == pytest.approx(3450)
    # urgency falls to low (0.3 < 0.8): P4, and the on-call alert and ITSM record follow
    assert change.priority == "P4"
    [alert] = step.alerts
    assert (alert.priority, alert.time, alert.resolved) == ("P4", london(12, 18), False)
    assert alert.dedup_key == opened.alerts[0].dedup_key
    [update] = step.itsm
    assert (update.action, update.priority, update.urgency) == (ItsmAction.UPDATE, "P4", 3)


def test_a_boundary_found_by_the_next_health_event_gives_the_same_events(
    uk_finance: BusinessCalendar,
):
    start, end = london(12, 17), london(12, 18, 30)
    engine = engine_for(one_service_catalog(), uk_finance)
    opened = engine.on_health(None, health(start))
    without_ticks = engine.on_health(opened.state, health(end, State.OK))
    assert reasons(without_ticks) == [ImpactReason.WEIGHT_CHANGE, ImpactReason.RECOVERED]
    change, recovered = (routed.event for routed in without_ticks.impacts)

    ticked = engine.on_tick(opened.state, end - timedelta(seconds=1))
    with_ticks = engine.on_health(ticked.state, health(end, State.OK))
    [ticked_change] = [
        r.event for r in ticked.impacts if r.event.reason is ImpactReason.WEIGHT_CHANGE
    ]
    assert change == ticked_change
    # 3000 until 18:00 (see above) + 30 min x 15 = 3450 either way
    assert recovered.business_impact_minutes == pytest.approx(3450)
    assert with_ticks.impacts[-1].event.business_impact_minutes == pytest.approx(3450)
    assert with_ticks.impacts[-1].event.id == recovered.id


def run_episode(engine: ImpactEngine, *, reload_after_first_tick: bool) -> list[Step]:
    start = london(12, 10)
    steps = [engine.on_health(None, health(start))]
    steps.append(engine.on_tick(steps[-1].state, start + timedelta(minutes=10)))
    state = steps[-1].state
    assert state is not None
    if reload_after_first_tick:
        state = EpisodeState.from_dict(json.loads(json.dumps(state.to_dict())))
    steps.append(engine.on_tick(state, start + timedelta(minutes=20)))
    end = start + timedelta(minutes=30)
    steps.append(engine.on_health(steps[-1].state, health(end, State.OK)))
    return steps


def test_recovery_ends_the_episode_with_a_recovered_event_a_resolved_alert_and_itsm_resolve(
    uk_finance: BusinessCalendar,
):
    engine = engine_for(one_service_catalog(), uk_finance)
    opened, _, _, recovered = run_episode(engine, reload_after_first_tick=False)

    [created_alert] = opened.alerts
    [created] = opened.itsm
    assert created.action is ItsmAction.CREATE
    assert (created.priority, created.impact, created.urgency) == ("P3", 2, 2)
    assert created.short_description == (
        "Supplier Payments is degraded for 100 finance users during business hours (x1): P3"
    )
    assert created_alert.owner_team == "Database Team"  # owner of the cause CI

    assert recovered.state is None
    [event] = [routed.event for routed in recovered.impacts]
    assert (event.reason, event.state, event.impact_rate) == (
        ImpactReason.RECOVERED,
        State.OK,
        0,
    )
    # 30 minutes at 50 per minute
    assert event.business_impact_minutes == pytest.approx(1500)
    assert event.episode_id == opened.impacts[0].event.episode_id
    [resolved] = recovered.alerts
    assert resolved.resolved and resolved.dedup_key == created_alert.dedup_key
    assert resolved.priority == "P3"
    assert resolved.summary == (
        "Supplier Payments has recovered after 30 min: 1,500 business impact minutes"
    )
    [closed] = recovered.itsm
    assert (closed.action, closed.incident_id) == (ItsmAction.RESOLVE, created.incident_id)
    assert closed.business_impact_minutes == pytest.approx(1500)
    all_ids = [
        *(routed.event.id for step in (opened, recovered) for routed in step.impacts),
        *(alert.id for step in (opened, recovered) for alert in step.alerts),
        *(record.id for step in (opened, recovered) for record in step.itsm),
    ]
    assert len(set(all_ids)) == len(all_ids)


def test_state_saved_mid_episode_continues_the_same_episode_and_ids(
    uk_finance: BusinessCalendar,
):
    engine = engine_for(one_service_catalog(), uk_finance)
    straight = run_episode(engine, reload_after_first_tick=False)
    reloaded = run_episode(engine, reload_after_first_tick=True)
    assert reloaded == straight
    assert straight[2].impacts[-1].event.business_impact_minutes == pytest.approx(1000)


def test_replaying_the_same_input_yields_the_same_ids(uk_finance: BusinessCalendar):
    first = run_episode(
        engine_for(one_service_catalog(), uk_finance), reload_after_first_tick=False
    )
    again = run_episode(
        engine_for(one_service_catalog(), uk_finance), reload_after_first_tick=False
    )
    assert [r.event.id for s in first for r in s.impacts] == [
        r.event.id for s in again for r in s.impacts
    ]


def test_a_duplicate_health_event_changes_nothing(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    event = health(start)
    opened = engine.on_health(None, event)
    again = engine.on_health(opened.state, event)
    assert again == Step(opened.state)


def test_going_down_mid_episode_raises_the_priority_once(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(tier=1), uk_finance)
    start = london(12, 10)
    opened = engine.on_health(None, health(start))
    # degraded tier 1: reach 0.5 x 100 x 1.5 = 75, medium; weight 1.0 medium -> P3
    assert opened.alerts[0].priority == "P3"
    down_at = start + timedelta(minutes=6)
    down = engine.on_health(opened.state, health(down_at, State.DOWN))
    [event] = [routed.event for routed in down.impacts]
    # down: reach 1.0 x 100 x 1.5 = 150, high; medium urgency -> P2
    assert (event.reason, event.state, event.priority) == (
        ImpactReason.STATE_CHANGE,
        State.DOWN,
        "P2",
    )
    # accrued at the degraded rate until the change: 6 min x 75
    assert event.business_impact_minutes == pytest.approx(450)
    assert [alert.priority for alert in down.alerts] == ["P2"]
    assert [record.action for record in down.itsm] == [ItsmAction.UPDATE]
    later = engine.on_tick(down.state, down_at + timedelta(minutes=4))
    # 450 + 4 min x 150 = 1050, and no re-alert: the priority did not change
    assert later.impacts[-1].event.business_impact_minutes == pytest.approx(1050)
    assert later.alerts == ()


# --- weighting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("calendar", [None, "no-such-calendar"])
def test_a_service_without_a_known_calendar_is_reported_unweighted(
    uk_finance: BusinessCalendar, calendar: str | None
):
    engine = engine_for(one_service_catalog(calendar=calendar), uk_finance)
    start = london(12, 17)
    opened = engine.on_health(None, health(start))
    event = opened.impacts[0].event
    assert (event.weighting, event.calendar) == (Weighting.UNWEIGHTED, None)
    assert event.impact_rate == 50  # 0.5 x 100 x 1.0, no calendar weight at all
    assert "(no business calendar)" in opened.alerts[0].summary
    # 18:00 is no boundary without a calendar: 90 min x 50 = 4500
    later = engine.on_tick(opened.state, london(12, 18, 30))
    assert reasons(later) == [ImpactReason.ACCRUAL] * 90
    assert later.impacts[-1].event.business_impact_minutes == pytest.approx(4500)


def test_an_episode_lives_in_event_time_only(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    stamped = london(30, 10)  # month-end close, weight 3.0
    opened = engine.on_health(None, health(stamped))
    assert opened.state is not None
    # The watermark of the episode's partition moves it on, whatever day it is processed.
    assert engine.next_due(opened.state) == stamped + timedelta(minutes=1)
    assert engine.on_tick(opened.state, stamped + timedelta(seconds=59)).impacts == ()
    step = engine.on_tick(opened.state, stamped + timedelta(minutes=10))
    accrual = step.impacts[-1].event
    assert accrual.time == stamped + timedelta(minutes=10)
    # 0.5 x 100 x 1.0 x 3.0 = 150 per minute; 10 minutes -> 1500
    assert accrual.business_impact_minutes == pytest.approx(1500)


# --- lifecycle details -------------------------------------------------------------------------


def test_an_ok_event_without_an_episode_does_nothing(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    assert engine.on_health(None, health(london(12, 10), State.OK)) == Step(None)


def test_an_unknown_state_is_an_episode_without_alert(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    opened = engine.on_health(None, health(start, State.UNKNOWN))
    assert [routed.event.impact_rate for routed in opened.impacts] == [0]
    assert opened.alerts == () and opened.itsm == ()
    end = start + timedelta(minutes=5)
    closed = engine.on_health(opened.state, health(end, State.OK))
    assert reasons(closed) == [ImpactReason.RECOVERED]
    assert closed.alerts == () and closed.itsm == () and closed.state is None


def test_a_health_event_for_a_service_outside_the_catalog_is_refused(
    uk_finance: BusinessCalendar,
):
    engine = engine_for(one_service_catalog(), uk_finance)
    with pytest.raises(UnknownService, match=r"'payroll'.*catalog version 0"):
        engine.on_health(None, health(london(12, 10), service_id="payroll"))


def test_an_episode_of_a_service_removed_from_the_catalog_is_closed(
    uk_finance: BusinessCalendar,
):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    opened = engine.on_health(None, health(start))
    engine.use(one_service_catalog(id="other-service"), 2)
    step = engine.on_tick(opened.state, start + timedelta(minutes=3))
    assert step.state is None and step.impacts == ()
    assert [alert.resolved for alert in step.alerts] == [True]
    assert [record.action for record in step.itsm] == [ItsmAction.RESOLVE]


def test_the_correlated_incident_id_is_carried_once_known(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    opened = engine.on_health(None, health(start))
    assert opened.state is not None
    incident = IncidentEvent(
        id="incident-event-1",
        incident_id="inc-42",
        action=IncidentAction.OPENED,
        state=IncidentState.OPEN,
        time=start,
        correlation_domain="london-core",
        affected_services=["supplier-payments"],
        opened_at=start,
    )
    linked = engine.on_incident(opened.state, incident)
    step = engine.on_tick(linked, start + timedelta(minutes=1))
    assert step.impacts[0].event.incident_id == "inc-42"


def test_routing_of_an_episode_sticks_until_its_recovery(uk_finance: BusinessCalendar):
    routing = RoutingRules.from_mapping(
        {
            "rules": [
                {"name": "urgent", "topics": ["impact.urgent"], "match": {"min_priority": "P3"}}
            ]
        }
    )
    engine = engine_for(one_service_catalog(), uk_finance, routing=routing)
    start = london(12, 17)
    opened = engine.on_health(None, health(start))
    assert opened.impacts[0].topics == ("impact.all", "impact.finance", "impact.urgent")
    # after 18:00 the episode is P4, and after recovery P5, yet the subscribers of
    # impact.urgent still hear how it went on and how it ended
    end = london(12, 19)
    closed = engine.on_health(opened.state, health(end, State.OK))
    assert [routed.event.priority for routed in closed.impacts] == ["P4", "P5"]
    assert all("impact.urgent" in routed.topics for routed in closed.impacts)


def test_a_stored_state_of_another_format_is_refused_with_the_way_out():
    with pytest.raises(EpisodeStateError, match=r"format 0.*replaying"):
        EpisodeState.from_dict({"v": 0})


def test_a_stored_state_with_a_bad_field_names_it(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    state = engine.on_health(None, health(start)).state
    assert state is not None
    stored = state.to_dict()
    stored["accrual"]["updated_at"] = "yesterday"
    with pytest.raises(EpisodeStateError, match=r"accrual\.updated_at: expected an ISO 8601"):
        EpisodeState.from_dict(stored)


def test_ticks_before_the_next_due_instant_change_nothing(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 17, 58)  # business hours end at 18:00, the first accrual is at 17:59
    opened = engine.on_health(None, health(start))
    assert opened.state is not None
    assert engine.next_due(opened.state) == start + timedelta(minutes=1)
    quiet = engine.on_tick(opened.state, start + timedelta(seconds=59))
    assert quiet.impacts == () and quiet.state == opened.state

    accrued = engine.on_tick(opened.state, start + timedelta(minutes=1))
    assert reasons(accrued) == [ImpactReason.ACCRUAL]
    assert accrued.state is not None
    # The next accrual would be 18:00 as well, and the weight changes exactly then.
    assert engine.next_due(accrued.state) == london(12, 18)
    changed = engine.on_tick(accrued.state, london(12, 18))
    assert ImpactReason.WEIGHT_CHANGE in reasons(changed)


def test_a_weight_change_before_the_next_accrual_is_due_first(uk_finance: BusinessCalendar):
    engine = engine_for(one_service_catalog(), uk_finance, accrual_period=timedelta(hours=2))
    start = london(12, 17)
    opened = engine.on_health(None, health(start))
    assert opened.state is not None
    assert engine.next_due(opened.state) == london(12, 18)  # before the 19:00 accrual

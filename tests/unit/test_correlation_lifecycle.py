"""Incident lifecycle: resolve after the hold, reopen on recurrence, commands, restarts, replays."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_correlation_support import (
    DOWN,
    OK,
    UNKNOWN,
    actions,
    at,
    context,
    engine,
    of,
    telemetry,
)

from impactline.core.contracts import IncidentAction, IncidentState, TelemetryEvent
from impactline.core.correlation import (
    CITracker,
    CorrelationConfig,
    CorrelationEngine,
    DomainCorrelator,
    IncidentCommandRejected,
    IncidentNotFound,
    StateFormatError,
)

A = IncidentAction
HOLD = 300  # the default resolve hold, in seconds


def outage(e: CorrelationEngine, down_at: float = 0, up_at: float = 60) -> str:
    events = e.process(telemetry("db-gl-01", DOWN, down_at)).incident_events
    e.process(telemetry("db-gl-01", OK, up_at))
    return events[0].incident_id


def test_recovery_resolves_only_after_the_hold_time() -> None:
    e = engine()
    incident_id = outage(e, 0, 60)
    assert e.tick(at(60 + HOLD - 1)).incident_events == []
    resolved = e.tick(at(60 + HOLD + 30)).incident_events
    assert actions(resolved) == [(A.RESOLVED, incident_id)]
    assert resolved[0].time == at(60 + HOLD)
    assert resolved[0].state is IncidentState.RESOLVED
    assert e.tick(at(10_000)).incident_events == []


def test_every_affected_service_must_be_ok_before_the_hold_starts() -> None:
    e = engine()
    incident_id = e.process(telemetry("db-gl-01", DOWN, 0)).incident_events[0].incident_id
    e.process(telemetry("web-close", DOWN, 10))
    e.process(telemetry("db-gl-01", OK, 60))
    # financial-close is still down through web-close, a member
    assert e.tick(at(60 + HOLD + 100)).incident_events == []
    e.process(telemetry("web-close", OK, 500))
    resolved = e.tick(at(500 + HOLD)).incident_events
    assert actions(resolved) == [(A.RESOLVED, incident_id)]


def test_a_member_that_fails_again_during_the_hold_keeps_the_incident_open() -> None:
    e = engine()
    incident_id = outage(e, 0, 60)
    again = e.process(telemetry("db-gl-01", DOWN, 120))
    assert again.incident_events == []  # same member: nothing new, but the hold restarts
    assert again.annotations[0].incident_id == incident_id
    e.process(telemetry("db-gl-01", OK, 200))
    assert e.tick(at(60 + HOLD + 10)).incident_events == []
    assert [ev.time for ev in e.tick(at(200 + HOLD)).incident_events] == [at(200 + HOLD)]


def test_a_recurrence_of_the_root_within_the_window_reopens_the_same_incident() -> None:
    e = engine()
    incident_id = outage(e, 0, 60)
    e.tick(at(60 + HOLD))
    reopened = e.process(telemetry("db-gl-01", DOWN, 60 + HOLD + 600)).incident_events
    assert actions(reopened) == [(A.REOPENED, incident_id)]
    assert reopened[0].state is IncidentState.OPEN
    assert reopened[0].opened_at == at(0)


def test_a_recurrence_after_the_window_opens_a_new_incident() -> None:
    e = engine()
    incident_id = outage(e, 0, 60)
    e.tick(at(60 + HOLD))
    later = e.process(telemetry("db-gl-01", DOWN, 60 + HOLD + 3601)).incident_events
    assert [ev.action for ev in later] == [A.OPENED]
    assert later[0].incident_id != incident_id


def test_acknowledge_then_resolve_by_hand() -> None:
    e = engine()
    incident_id = e.process(telemetry("db-gl-01", DOWN, 0)).incident_events[0].incident_id
    acked = e.acknowledge(incident_id, at(30), command_id="ack-1").incident_events
    assert actions(acked) == [(A.ACKNOWLEDGED, incident_id)]
    assert acked[0].state is IncidentState.ACKNOWLEDGED
    assert e.acknowledge(incident_id, at(31)).incident_events == []  # twice changes nothing
    # updates keep the acknowledged state
    joined = e.process(telemetry("gl-ledger", DOWN, 40)).incident_events
    assert [(ev.action, ev.state) for ev in joined] == [(A.UPDATED, IncidentState.ACKNOWLEDGED)]
    resolved = e.resolve(incident_id, at(50), command_id="res-1").incident_events
    assert actions(resolved) == [(A.RESOLVED, incident_id)]
    with pytest.raises(IncidentCommandRejected, match="resolved"):
        e.acknowledge(incident_id, at(60))
    with pytest.raises(IncidentNotFound, match="no-such-incident"):
        e.resolve("no-such-incident", at(60))


def test_a_ci_still_down_after_a_manual_resolve_does_not_reopen_by_itself() -> None:
    e = engine()
    incident_id = e.process(telemetry("db-gl-01", DOWN, 0)).incident_events[0].incident_id
    e.resolve(incident_id, at(50))
    assert e.tick(at(1000)).incident_events == []
    assert e.process(telemetry("db-gl-01", DOWN, 1060, summary="still")).incident_events == []
    # but a fresh failure of its root after a recovery does reopen it
    e.process(telemetry("db-gl-01", OK, 1070))
    assert actions(e.process(telemetry("db-gl-01", DOWN, 1080)).incident_events) == [
        (A.REOPENED, incident_id)
    ]


def test_an_unknown_bystander_does_not_hold_an_incident_open() -> None:
    cfg = CorrelationConfig.model_validate({"staleness": {"by_ci_type": {"identity": "2m"}}})
    e = engine(cfg)
    e.process(telemetry("sso-01", OK, 0))
    incident_id = outage(e, 0, 60)
    # sso-01 went silent, so financial-close is unknown: that is not the incident's doing
    assert actions(e.tick(at(60 + HOLD)).incident_events) == [(A.RESOLVED, incident_id)]
    assert e.trackers["sso-01"].state is UNKNOWN


def test_a_member_that_went_silent_holds_its_incident_open() -> None:
    cfg = CorrelationConfig.model_validate({"staleness": {"by_ci_type": {"database": "2m"}}})
    e = engine(cfg)
    e.process(telemetry("db-gl-01", DOWN, 0))
    assert e.tick(at(HOLD * 10)).incident_events == []
    assert e.trackers["db-gl-01"].state is UNKNOWN
    assert [i.state for i in e.incidents()] == [IncidentState.OPEN]


def flapping(period: int, duration: int, ci: str = "db-gl-01") -> list[TelemetryEvent]:
    return [
        telemetry(ci, DOWN if n % 2 == 0 else OK, n * period) for n in range(duration // period + 1)
    ]


def test_a_ci_flapping_every_ten_seconds_for_five_minutes_opens_one_incident() -> None:
    e = engine()
    events = []
    for event in flapping(10, 290):  # ends with an ok report
        events += e.process(event).incident_events
    events += e.tick(at(3600)).incident_events
    assert len(of(events, A.OPENED)) == 1
    assert of(events, A.REOPENED) == []
    assert [ev.action for ev in events] == [A.OPENED, A.RESOLVED]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 60), st.integers(60, 600), st.sampled_from(["db-gl-01", "web-close"]))
def test_flapping_at_any_pace_opens_at_most_one_incident(
    period: int, duration: int, ci: str
) -> None:
    e = engine()
    events = []
    for event in flapping(period, duration, ci):
        events += e.process(event).incident_events
    events += e.tick(at(duration + 7200)).incident_events
    assert len(of(events, A.OPENED)) == 1
    assert of(events, A.REOPENED) == []


def scenario() -> list[tuple[str, object]]:
    steps: list[tuple[str, object]] = []
    for ci, seconds in [("db-gl-01", 0), ("gl-ledger", 10), ("web-close", 20), ("pay-app", 25)]:
        steps.append(("event", telemetry(ci, DOWN, seconds, event_id=f"d-{ci}")))
    steps.append(("tick", at(40)))
    for ci, seconds in [("db-gl-01", 60), ("gl-ledger", 65), ("web-close", 70), ("pay-app", 75)]:
        steps.append(("event", telemetry(ci, OK, seconds, event_id=f"u-{ci}")))
    steps.append(("tick", at(400)))
    steps.append(("event", telemetry("db-gl-01", DOWN, 900, event_id="again")))
    steps.append(("event", telemetry("db-gl-01", OK, 960, event_id="fixed")))
    steps.append(("tick", at(5000)))
    return steps


def play(steps, restart_at: int | None = None, ticks: bool = True) -> list[str]:
    e, seen = engine(), []
    for n, (kind, item) in enumerate(steps):
        if n == restart_at:
            e = CorrelationEngine.from_dict(json.loads(json.dumps(e.to_dict())), context())
        if kind == "event":
            result = e.process(item)
        elif ticks:
            result = e.tick(item)
        else:
            continue
        seen += [f"{ev.id} {ev.action} {ev.incident_id} {ev.time}" for ev in result.incident_events]
    seen += [
        f"{ev.id} {ev.action} {ev.incident_id} {ev.time}" for ev in e.tick(at(9999)).incident_events
    ]
    return seen


def test_a_worker_restarted_mid_incident_continues_the_same_incident() -> None:
    uninterrupted = play(scenario())
    assert any("resolved" in line for line in uninterrupted)
    assert any("reopened" in line for line in uninterrupted)
    # restart after the cascade opened, before the recovery
    assert play(scenario(), restart_at=5) == uninterrupted


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 13))
def test_restarting_anywhere_and_replaying_without_ticks_yield_the_same_events(n: int) -> None:
    uninterrupted = play(scenario())
    assert play(scenario(), restart_at=n) == uninterrupted
    # without ticks a domain decides when its next input arrives, so only the interleaving of
    # independent domains may differ: same events, same ids, same times
    assert per_incident(play(scenario(), ticks=False)) == per_incident(uninterrupted)


def per_incident(lines: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for line in lines:
        grouped.setdefault(line.split()[2], []).append(line)
    return grouped


def test_an_incident_stays_open_while_a_service_it_affected_is_still_impaired() -> None:
    e = engine()
    sso = e.process(telemetry("sso-01", DOWN, 0)).incident_events[0].incident_id
    e.process(telemetry("sso-01", OK, 30))
    db = e.process(telemetry("db-gl-01", DOWN, 60)).incident_events[0].incident_id
    assert sso != db
    # sso-01 is fine, but financial-close is still down through db-gl-01
    assert e.tick(at(30 + HOLD + 60)).incident_events == []
    e.process(telemetry("db-gl-01", OK, 900))
    resolved = e.tick(at(900 + HOLD)).incident_events
    assert sorted(actions(resolved)) == sorted([(A.RESOLVED, sso), (A.RESOLVED, db)])


def test_a_reopened_incident_needs_a_new_acknowledgement() -> None:
    e = engine()
    incident_id = outage(e, 0, 60)
    e.acknowledge(incident_id, at(30))
    e.tick(at(60 + HOLD))
    reopened = e.process(telemetry("db-gl-01", DOWN, 1000)).incident_events
    assert [(ev.action, ev.state) for ev in reopened] == [(A.REOPENED, IncidentState.OPEN)]
    acked = e.acknowledge(incident_id, at(1010)).incident_events
    assert actions(acked) == [(A.ACKNOWLEDGED, incident_id)]


def test_stored_state_of_an_unknown_layout_is_refused_with_what_to_do() -> None:
    for load in (CITracker.from_dict, DomainCorrelator.from_dict):
        with pytest.raises(StateFormatError, match="replaying"):
            load({"v": 99})
    broken = engine()
    broken.process(telemetry("db-gl-01", DOWN, 0))
    stored = broken.domains["dom-budgeting"].to_dict()
    del stored["incidents"][0]["members"]
    with pytest.raises(StateFormatError, match="malformed"):
        DomainCorrelator.from_dict(stored)


def test_misrouted_input_is_refused_with_the_routing_rule() -> None:
    with pytest.raises(ValueError, match="route telemetry by CI id"):
        CITracker("db-gl-01").observe(telemetry("sso-01", DOWN, 0), CorrelationConfig())
    change = telemetry("db-gl-01", DOWN, 0)
    record = engine().process(change).ci_changes[0]
    with pytest.raises(ValueError, match="route ci-state records by correlation domain"):
        DomainCorrelator("dom-payroll").apply(record, context())

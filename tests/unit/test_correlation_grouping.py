"""Per domain: which failures form one incident, its root-cause candidates and suspect changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_correlation_support import (
    DEGRADED,
    DOWN,
    GL_DOMAIN,
    OK,
    PAY_DOMAIN,
    change,
    engine,
    telemetry,
)

from impactline.core.contracts import ChangeKind, IncidentAction, IncidentState
from impactline.core.correlation import CorrelationConfig, CorrelationEngine, Note

OPENED, UPDATED, RESOLVED = IncidentAction.OPENED, IncidentAction.UPDATED, IncidentAction.RESOLVED
CASCADE = [
    ("db-gl-01", 0),
    ("gl-ledger", 12),
    ("web-close", 25),
    ("web-report", 40),
    ("web-budget", 55),
]


def run(e: CorrelationEngine, steps: list[tuple[str, float]], state=DOWN):
    events = []
    for ci, seconds in steps:
        events += e.process(telemetry(ci, state, seconds)).incident_events
    return events


def test_a_cascade_within_a_minute_is_one_incident_rooted_at_the_database() -> None:
    events = run(engine(), CASCADE)
    assert [e.action for e in events] == [OPENED, UPDATED, UPDATED, UPDATED, UPDATED]
    assert len({e.incident_id for e in events}) == 1
    last = events[-1]
    assert last.root_cause_candidates == ["db-gl-01"]
    assert last.member_cis == ["db-gl-01", "gl-ledger", "web-budget", "web-close", "web-report"]
    assert last.affected_services == ["budgeting", "financial-close", "reporting"]
    assert last.correlation_domain == GL_DOMAIN
    assert last.state is IncidentState.OPEN
    assert last.opened_at == events[0].time


def test_effects_reported_before_their_cause_merge_into_one_incident_at_the_cause() -> None:
    e = engine()
    order = [ci for ci, _ in reversed(CASCADE)]
    events = run(e, [(ci, seconds) for ci, (_, seconds) in zip(order, CASCADE, strict=True)])
    # the three front ends have no path between them: three incidents until gl-ledger ties
    # them together, then the database joins and becomes the root
    first = events[0].incident_id
    assert [ev.action for ev in events] == [
        OPENED,
        OPENED,
        OPENED,
        RESOLVED,
        RESOLVED,
        UPDATED,
        UPDATED,
    ]
    assert {ev.incident_id for ev in events[3:5]} == {ev.incident_id for ev in events[1:3]}
    assert [ev.incident_id for ev in events[5:]] == [first, first]
    assert [ev.root_cause_candidates for ev in events[5:]] == [["gl-ledger"], ["db-gl-01"]]
    assert [i.id for i in e.incidents() if i.active] == [first]


def test_unrelated_failures_at_the_same_second_are_separate_incidents() -> None:
    e = engine()
    events = run(e, [("db-gl-01", 0), ("sso-01", 0), ("db-pay-01", 0)])
    opened = [ev for ev in events if ev.action is OPENED]
    assert len(opened) == 3
    assert {tuple(ev.root_cause_candidates) for ev in opened} == {
        ("db-gl-01",),
        ("sso-01",),
        ("db-pay-01",),
    }
    # sso-01 and db-gl-01 share services, a dependent and a domain, but no dependency path
    assert [ev.correlation_domain for ev in opened] == [GL_DOMAIN, GL_DOMAIN, PAY_DOMAIN]
    assert "financial-close" in opened[0].affected_services
    assert opened[1].affected_services == ["financial-close", "reporting"]


def test_a_related_failure_long_after_the_first_recovered_is_a_new_incident() -> None:
    cfg = CorrelationConfig.model_validate(
        {"grouping": {"window": "2m"}, "lifecycle": {"resolve_hold": "30m"}}
    )
    e = engine(cfg)
    first = run(e, [("db-gl-01", 0)])
    e.process(telemetry("db-gl-01", OK, 30))
    later = run(e, [("web-close", 200)])
    assert later[0].action is OPENED
    assert later[0].incident_id != first[0].incident_id
    soon = engine(cfg)
    run(soon, [("db-gl-01", 0)])
    soon.process(telemetry("db-gl-01", OK, 30))
    assert run(soon, [("web-close", 100)])[0].action is UPDATED


def test_a_failure_while_its_upstream_is_still_down_joins_however_late_it_comes() -> None:
    e = engine()
    first = run(e, [("db-gl-01", 0)])
    late = run(e, [("web-close", 3600)])
    assert [(ev.action, ev.incident_id) for ev in late] == [(UPDATED, first[0].incident_id)]


def test_a_common_cause_merges_incidents_into_the_oldest() -> None:
    e = engine()
    a = run(e, [("web-close", 0)])[0]
    b = run(e, [("pay-app", 1), ("web-report", 2)])
    assert [ev.action for ev in b] == [OPENED, OPENED]
    merged = run(e, [("gl-ledger", 5)])
    assert [(ev.action, ev.incident_id) for ev in merged] == [
        (RESOLVED, b[1].incident_id),
        (UPDATED, a.incident_id),
    ]
    assert merged[1].member_cis == ["gl-ledger", "web-close", "web-report"]
    assert merged[1].root_cause_candidates == ["gl-ledger"]
    assert [i.id for i in e.incidents() if i.active] == [a.incident_id, b[0].incident_id]


def test_several_root_candidates_are_ranked_by_failing_dependents_then_earliest() -> None:
    e = engine()
    run(e, [("report-api", 0), ("sso-01", 5), ("db-gl-01", 10)])
    [incident] = e.incidents()
    # neither depends on the other: both are candidates, tied on one failing dependent
    assert incident.root_cause_candidates == ["sso-01", "db-gl-01"]
    events = run(e, [("gl-ledger", 15)])
    assert events[-1].root_cause_candidates == ["db-gl-01", "sso-01"]


def test_a_deployment_on_the_database_shortly_before_the_failure_is_suspect() -> None:
    e = engine()
    e.record_change(change("db-gl-01", -300, change_id="deploy-db"))
    e.record_change(change("pay-app", -200, change_id="deploy-pay"))  # other domain
    e.record_change(change("web-close", -100, change_id="deploy-web"))  # downstream, not a cause
    e.record_change(change("db-gl-01", -3 * 3600, change_id="ancient"))  # beyond the lookback
    events = run(e, CASCADE[:2])
    assert [s.change_id for s in events[0].suspect_changes] == ["deploy-db"]
    suspect = events[0].suspect_changes[0]
    assert (suspect.ci_id, suspect.kind) == ("db-gl-01", ChangeKind.DEPLOYMENT)
    # once web-close itself fails, the change on it becomes suspect too
    more = run(e, [("web-close", 30)])
    assert [s.change_id for s in more[-1].suspect_changes] == ["deploy-db", "deploy-web"]


def test_a_change_record_arriving_after_the_incident_opened_updates_it() -> None:
    e = engine()
    opened = run(e, [("gl-ledger", 0)])[0]
    assert opened.suspect_changes == []
    late = e.record_change(change("db-gl-01", -600, ChangeKind.CONFIGURATION, "cfg-1"))
    assert [(ev.action, ev.incident_id) for ev in late] == [(UPDATED, opened.incident_id)]
    assert [s.change_id for s in late[0].suspect_changes] == ["cfg-1"]
    assert e.record_change(change("db-gl-01", -600, ChangeKind.CONFIGURATION, "cfg-1")) == []
    # a change after every member failed cannot explain them
    assert e.record_change(change("db-gl-01", 60, change_id="fix")) == []


def test_a_worsening_member_updates_the_affected_services() -> None:
    cfg = CorrelationConfig()
    e = engine(cfg)
    first = e.process(telemetry("sso-01", DEGRADED, 0)).incident_events
    assert first[0].affected_services == ["financial-close", "reporting"]
    again = e.process(telemetry("sso-01", DOWN, 10))
    assert again.incident_events == []  # same member, same services: nothing new to tell
    assert again.annotations[0].note is Note.MEMBER


@settings(max_examples=40, deadline=None)
@given(st.permutations(CASCADE), st.lists(st.integers(0, 20), min_size=5, max_size=5))
def test_any_order_of_a_cascade_within_a_minute_ends_as_one_incident_rooted_at_the_database(
    order: list[tuple[str, float]], gaps: list[int]
) -> None:
    e = engine()
    clock, events = 0, []
    for (ci, _), gap in zip(order, gaps, strict=True):
        clock += gap
        events += e.process(telemetry(ci, DOWN, clock)).incident_events
    active = [i for i in e.incidents() if i.active]
    assert len(active) == 1
    assert active[0].root_cause_candidates == ["db-gl-01"]
    assert active[0].affected_services == {"budgeting", "financial-close", "reporting"}

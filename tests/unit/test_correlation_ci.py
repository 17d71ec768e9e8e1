"""Per CI: duplicates, hysteresis, flap holding, staleness and a tracker that survives restarts."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from test_correlation_support import DEGRADED, DOWN, OK, UNKNOWN, at, telemetry

from impactline.core.contracts import TelemetryEvent
from impactline.core.correlation import (
    CITracker,
    CorrelationConfig,
    StateChange,
    Verdict,
    changes_of,
)
from impactline.core.states import State

DEFAULTS = CorrelationConfig()


def config(**sections: dict[str, object]) -> CorrelationConfig:
    return CorrelationConfig.model_validate(sections)


def feed(tracker: CITracker, events: list[TelemetryEvent], cfg: CorrelationConfig = DEFAULTS):
    return [o for e in events for o in tracker.observe(e, cfg)]


def accepted(outcomes) -> list[tuple[State, float]]:
    return [(c.state, (c.time - at(0)).total_seconds()) for c in changes_of(outcomes)]


# -- duplicates ----------------------------------------------------------------------------------


def test_a_redelivered_event_is_ignored_even_when_the_state_would_change() -> None:
    tracker = CITracker("db-gl-01")
    down = telemetry("db-gl-01", DOWN, 0, event_id="e1")
    first = tracker.observe(down, DEFAULTS)
    again = tracker.observe(down, DEFAULTS)
    assert [o.verdict for o in first] == [Verdict.ACCEPTED]
    assert [o.verdict for o in again] == [Verdict.DUPLICATE_ID]
    assert changes_of(again) == []


def test_event_id_memory_is_bounded_and_forgets_the_oldest_ids() -> None:
    cfg = config(dedup={"recent_ids": 3})
    tracker = CITracker("db-gl-01")
    for n in range(5):
        tracker.observe(telemetry("db-gl-01", OK, n, event_id=f"e{n}"), cfg)
    assert len(tracker.recent_ids) == 3
    assert tracker.observe(telemetry("db-gl-01", OK, 9, event_id="e4"), cfg)[-1].verdict is (
        Verdict.DUPLICATE_ID
    )
    assert tracker.observe(telemetry("db-gl-01", OK, 9, event_id="e0"), cfg)[-1].verdict is not (
        Verdict.DUPLICATE_ID
    )


def test_the_same_report_repeated_within_the_window_is_a_fingerprint_duplicate() -> None:
    tracker = CITracker("db-gl-01")
    verdicts = [
        tracker.observe(telemetry("db-gl-01", DOWN, s, summary="refused"), DEFAULTS)[-1].verdict
        for s in (0, 20, 59, 61)
    ]
    assert verdicts == [
        Verdict.ACCEPTED,
        Verdict.DUPLICATE_FINGERPRINT,
        Verdict.DUPLICATE_FINGERPRINT,
        Verdict.UNCHANGED,  # the window is measured from the first sighting
    ]


def test_a_repeat_of_an_earlier_report_after_a_change_is_not_a_duplicate() -> None:
    # down, ok, down with identical texts is a flap, not a repeat: it must reach the state.
    tracker = CITracker("db-gl-01")
    outs = feed(
        tracker,
        [
            telemetry("db-gl-01", DOWN, 0, summary="refused"),
            telemetry("db-gl-01", OK, 5, summary="fine"),
            telemetry("db-gl-01", DOWN, 10, summary="refused"),
        ],
    )
    assert accepted(outs) == [(DOWN, 0), (OK, 5), (DOWN, 10)]


def test_an_event_older_than_the_current_state_is_late_and_changes_nothing() -> None:
    tracker = CITracker("db-gl-01")
    feed(tracker, [telemetry("db-gl-01", DOWN, 10)])
    late = tracker.observe(telemetry("db-gl-01", OK, 5), DEFAULTS)
    assert late[-1].verdict is Verdict.LATE
    assert tracker.state is DOWN


# -- hysteresis ----------------------------------------------------------------------------------


def test_a_new_state_needs_the_configured_number_of_reports() -> None:
    cfg = config(damping={"confirm_count": 3, "confirm_after": 0})
    tracker = CITracker("db-gl-01")
    outs = feed(tracker, [telemetry("db-gl-01", DOWN, s, summary=f"#{s}") for s in (0, 5, 10)], cfg)
    assert [o.verdict for o in outs] == [Verdict.PENDING, Verdict.PENDING, Verdict.ACCEPTED]
    assert accepted(outs) == [(DOWN, 10)]


def test_a_contradicting_report_cancels_a_pending_state() -> None:
    cfg = config(damping={"confirm_count": 2, "confirm_after": 0})
    tracker = CITracker("db-gl-01")
    outs = feed(
        tracker,
        [
            telemetry("db-gl-01", DOWN, 0),
            telemetry("db-gl-01", OK, 5),
            telemetry("db-gl-01", DOWN, 10),
        ],
        cfg,
    )
    assert accepted(outs) == []
    assert tracker.state is OK


def test_a_pending_state_that_stands_long_enough_is_confirmed_by_the_timer() -> None:
    cfg = config(damping={"confirm_count": 3, "confirm_after": "30s"})
    tracker = CITracker("db-gl-01")
    feed(tracker, [telemetry("db-gl-01", DOWN, 0)], cfg)
    assert tracker.tick(at(29), cfg) == []
    assert tracker.next_deadline(cfg) == at(30)
    outs = tracker.tick(at(45), cfg)
    assert [(o.verdict, o.change.state if o.change else None) for o in outs] == [
        (Verdict.CONFIRMED, DOWN)
    ]
    assert outs[0].time == at(30)  # stamped with the deadline, not with the tick's clock


def test_timer_decisions_are_the_same_whether_ticks_ran_or_the_next_event_found_them() -> None:
    cfg = config(damping={"confirm_count": 3, "confirm_after": "30s"})
    events = [telemetry("db-gl-01", DOWN, 0), telemetry("db-gl-01", DOWN, 100, summary="again")]
    ticking, replaying = CITracker("db-gl-01"), CITracker("db-gl-01")
    with_ticks = ticking.observe(events[0], cfg) + ticking.tick(at(60), cfg)
    with_ticks += ticking.observe(events[1], cfg)
    without = feed(replaying, events, cfg)
    assert changes_of(with_ticks) == changes_of(without)


# -- flapping ------------------------------------------------------------------------------------


def flapping(period: float, until: float, ci: str = "db-gl-01") -> list[TelemetryEvent]:
    steps = int(until // period)
    return [telemetry(ci, DOWN if n % 2 == 0 else OK, n * period) for n in range(steps + 1)]


def test_a_flapping_ci_is_held_in_its_worst_state_until_stable() -> None:
    tracker = CITracker("db-gl-01")
    outs = feed(tracker, flapping(10, 290))
    # five changes within ten minutes: from the fifth on the CI stays down
    assert accepted(outs) == [(DOWN, 0), (OK, 10), (DOWN, 20), (OK, 30), (DOWN, 40)]
    assert outs[-1].verdict is Verdict.FLAPPING
    assert tracker.state is DOWN
    assert tracker.reported is OK  # the last report (at 290 s) said ok
    assert tracker.next_deadline(DEFAULTS) == at(290 + 300)
    assert tracker.tick(at(589), DEFAULTS) == []
    released = tracker.tick(at(600), DEFAULTS)
    assert [(o.verdict, o.change.state if o.change else None) for o in released] == [
        (Verdict.RELEASED, OK)
    ]


def test_a_flapping_ci_escalates_to_a_worse_state_while_held() -> None:
    tracker = CITracker("db-gl-01")
    states = [DEGRADED, OK, DEGRADED, OK, DEGRADED, OK, DOWN, OK]
    outs = feed(tracker, [telemetry("db-gl-01", s, n * 10) for n, s in enumerate(states)])
    assert accepted(outs)[-1] == (DOWN, 60)
    assert tracker.state is DOWN


def test_changes_spread_wider_than_the_flap_window_are_not_flapping() -> None:
    tracker = CITracker("db-gl-01")
    outs = feed(tracker, flapping(200, 1400))
    assert all(o.verdict is not Verdict.FLAPPING for o in outs)
    assert tracker.state is OK  # 1400 / 200 = 7 changes, the last one to ok


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 30), st.sampled_from([OK, DEGRADED, DOWN])),
        min_size=6,
        max_size=60,
    )
)
def test_while_held_the_state_never_improves(steps: list[tuple[int, State]]) -> None:
    tracker = CITracker("db-gl-01")
    now = 0.0
    for gap, state in steps:
        now += gap
        before_held, before = tracker.held, tracker.state
        tracker.observe(telemetry("db-gl-01", state, now), DEFAULTS)
        if before_held and tracker.held:
            assert tracker.state.severity >= before.severity


# -- staleness -----------------------------------------------------------------------------------


def test_staleness_is_off_by_default() -> None:
    tracker = CITracker("db-gl-01")
    feed(tracker, [telemetry("db-gl-01", OK, 0)])
    assert tracker.tick(at(86400), DEFAULTS) == []


def test_a_silent_ci_becomes_unknown_after_the_threshold_for_its_type() -> None:
    cfg = config(staleness={"after": "10m", "by_ci_type": {"link": "2m"}})
    link, db = CITracker("wan-01"), CITracker("db-gl-01")
    link.observe(telemetry("wan-01", OK, 0), cfg, "link")
    db.observe(telemetry("db-gl-01", OK, 0), cfg, "database")
    link_outs = link.tick(at(180), cfg, "link")
    assert [(o.verdict, o.change.state if o.change else None) for o in link_outs] == [
        (Verdict.STALE, UNKNOWN)
    ]
    assert link_outs[0].time == at(120)
    assert db.tick(at(180), cfg, "database") == []
    assert changes_of(db.tick(at(600), cfg, "database"))[0].state is UNKNOWN
    # a stale CI is not marked stale again, and a report brings it back
    assert link.tick(at(10_000), cfg, "link") == []
    back = link.observe(telemetry("wan-01", OK, 10_001), cfg, "link")
    assert accepted(back) == [(OK, 10_001)]


def test_timer_changes_carry_ids_derived_from_the_decision() -> None:
    cfg = config(staleness={"after": "1m"})
    first, second = CITracker("db-gl-01"), CITracker("db-gl-01")
    for tracker in (first, second):
        tracker.observe(telemetry("db-gl-01", OK, 0, event_id="same"), cfg)
    a = changes_of(first.tick(at(100), cfg))[0]
    b = changes_of(second.tick(at(5000), cfg))[0]
    assert a == b
    assert a.to_event("dom-x").id == b.to_event("dom-x").id


# -- storage -------------------------------------------------------------------------------------


def test_a_tracker_restored_from_json_decides_exactly_like_the_original() -> None:
    cfg = config(damping={"confirm_count": 2, "confirm_after": "30s"}, staleness={"after": "5m"})
    events = [*flapping(10, 120), telemetry("db-gl-01", DEGRADED, 130, summary="slow")]
    original = CITracker("db-gl-01")
    feed(original, events[:7], cfg)
    restored = CITracker.from_dict(json.loads(json.dumps(original.to_dict())))
    assert restored.to_dict() == original.to_dict()
    rest = events[7:]
    assert feed(restored, rest, cfg) == feed(original, rest, cfg)
    assert restored.tick(at(2000), cfg) == original.tick(at(2000), cfg)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 90), st.sampled_from(list(State)), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.data(),
)
def test_redeliveries_and_restarts_never_change_the_accepted_states(
    steps: list[tuple[int, State, bool]], data: st.DataObject
) -> None:
    cfg = config(damping={"confirm_count": 2, "confirm_after": "45s"}, staleness={"after": "3m"})
    now, events = 0.0, []
    for gap, state, same_text in steps:
        now += gap
        summary = "steady" if same_text else f"at {now}"
        events.append(telemetry("db-gl-01", state, now, summary=summary))
    clean = CITracker("db-gl-01")
    expected = changes_of(feed(clean, events, cfg) + clean.tick(at(now + 3600), cfg))

    noisy, got = CITracker("db-gl-01"), []
    for event in events:
        if data.draw(st.booleans(), label="restart before"):
            noisy = CITracker.from_dict(json.loads(json.dumps(noisy.to_dict())))
        got += noisy.observe(event, cfg)
        if data.draw(st.booleans(), label="redeliver"):
            got += noisy.observe(event, cfg)
    got += noisy.tick(at(now + 3600), cfg)
    assert changes_of(got) == expected


def test_a_change_becomes_a_ci_state_record_keyed_by_domain() -> None:
    change = StateChange("db-gl-01", DOWN, OK, at(5), "e1", Verdict.ACCEPTED)
    record = change.to_event("dom-budgeting")
    assert (record.ci_id, record.state, record.previous_state) == ("db-gl-01", DOWN, OK)
    assert record.correlation_domain == "dom-budgeting"
    assert record.cause_event_id == "e1"
    assert record.time == at(5)
    assert record.id == change.to_event("dom-budgeting").id

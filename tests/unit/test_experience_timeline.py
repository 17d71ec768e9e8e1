"""Availability over rolling windows from service-health transitions, in bounded memory.

Figures worked by hand: a degraded minute counts as half a bad minute, a down minute as a whole
one, unknown minutes are left out, and the time before the first report is ok.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from impactline.core.contracts import FeedbackEvent, ServiceHealthEvent
from impactline.core.experience import (
    Bucket,
    ExperiencePolicy,
    ExperienceState,
    ExperienceStateError,
    PolicyError,
    Timeline,
    evaluate,
    iso_duration,
    record_feedback,
    record_health,
    span_phrase,
)
from impactline.core.scoring import ServiceProfile
from impactline.core.states import State

POLICY = ExperiencePolicy()
PROFILE = ServiceProfile(
    id="financial-close", tier=1, users=120, slo_target=0.999, impact_budget_minutes=2400
)
_counter = iter(range(1_000_000))


def at(hour: int, minute: int = 0, day: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def health(state: State, when: datetime) -> ServiceHealthEvent:
    n = next(_counter)
    return ServiceHealthEvent(
        id=f"health-{n}",
        service_id="financial-close",
        state=state,
        previous_state=State.OK,
        time=when,
        correlation_domain="london-core",
        cause_ci_id="db-gl-01",
        cause_event_id=f"telemetry-{n}",
        catalog_version=1,
    )


def history(*changes: tuple[State, datetime], policy: ExperiencePolicy = POLICY):
    state = ExperienceState("financial-close")
    for new_state, when in changes:
        state = record_health(state, health(new_state, when), policy)
    return state


def availability(state: ExperienceState, now: datetime) -> dict[str, float | None]:
    evaluation = evaluate(state, now, PROFILE, POLICY)
    return {iso_duration(s.window): s.signals.availability for s in evaluation.scores}


def test_half_an_hour_degraded_is_a_quarter_of_the_last_hour_and_less_of_longer_windows():
    state = history((State.DEGRADED, at(10)), (State.OK, at(10, 30)))
    # 30 min x 0.5 = 900 bad seconds
    assert availability(state, at(11)) == {
        "PT1H": pytest.approx(1 - 900 / 3600),  # 0.75
        "P1D": pytest.approx(1 - 900 / 86400),  # 0.98958
        "P7D": pytest.approx(1 - 900 / 604800),  # 0.99851
        "P30D": pytest.approx(1 - 900 / 2592000),  # 0.99965
    }
    # Two hours later the hour window no longer sees it.
    assert availability(state, at(12, 30))["PT1H"] == 1.0


def test_the_current_state_counts_up_to_now_and_down_counts_fully():
    state = history((State.DOWN, at(10)))
    assert availability(state, at(10, 15))["PT1H"] == pytest.approx(1 - 900 / 3600)


def test_unknown_time_is_left_out_of_the_count():
    state = history((State.UNKNOWN, at(10)), (State.DOWN, at(10, 30)), (State.OK, at(10, 45)))
    # the hour to 11:00 counts 1800 s, of which 900 s were down
    assert availability(state, at(11))["PT1H"] == pytest.approx(0.5)


def test_a_window_of_nothing_but_unknown_has_no_availability():
    state = history((State.UNKNOWN, at(9)))
    assert availability(state, at(11))["PT1H"] is None


def test_a_late_change_takes_effect_when_the_current_state_began():
    state = history((State.DEGRADED, at(10, 30)), (State.DOWN, at(10)), (State.OK, at(10, 40)))
    # degraded 10:30-10:30 (nothing), down 10:30-10:40: 600 bad seconds
    assert availability(state, at(11))["PT1H"] == pytest.approx(1 - 600 / 3600)


def test_a_window_starting_inside_a_bucket_counts_the_overlapping_share():
    hour = int(at(10).timestamp())
    timeline = Timeline(coarse={hour: Bucket(bad=600.0)})
    index = timeline.index(POLICY)
    # (10:15, 12:00] overlaps three quarters of the 10:00 hour bucket: 450 s
    assert index.totals(at(10, 15), at(12)).bad == pytest.approx(450.0)
    assert index.totals(at(9), at(12)).bad == pytest.approx(600.0)
    assert index.totals(at(11), at(12)).bad == 0.0


def test_old_time_moves_to_coarse_buckets_without_changing_the_totals():
    state = history((State.DOWN, at(10, 0, day=10)), (State.OK, at(10, 30, day=10)))
    fresh = availability(state, at(10, 31, day=10))
    later = history(
        (State.DOWN, at(10, 0, day=10)),
        (State.OK, at(10, 30, day=10)),
        (State.DEGRADED, at(10, 0, day=12)),
        (State.OK, at(10, 1, day=12)),
    )
    assert not any(k < at(0, 0, day=11).timestamp() for k in later.timeline.fine)
    assert set(later.timeline.coarse) == {int(at(10, 0, day=10).timestamp())}
    # the 30-day window sees 1800 s down + 30 s degraded-half
    assert availability(later, at(11, 0, day=12))["P30D"] == pytest.approx(1 - 1830 / 2592000)
    assert fresh["P30D"] == pytest.approx(1 - 1800 / 2592000)


def test_memory_stays_bounded_however_much_the_service_flaps():
    changes = []
    start = at(0, 0, day=1)
    for n in range(0, 40 * 48):  # a change every 30 minutes for 40 days
        changes.append(
            (State.DEGRADED if n % 2 == 0 else State.OK, start + n * timedelta(minutes=30))
        )
    state = history(*changes)
    fine_limit = POLICY.fine_span / POLICY.fine_bucket + 1
    coarse_limit = POLICY.retention / POLICY.coarse_bucket + 1
    assert len(state.timeline.fine) <= fine_limit
    assert len(state.timeline.coarse) <= coarse_limit
    assert len(json.dumps(state.to_dict())) < 40_000
    # degraded half of the time: a quarter of each window is bad time
    now = changes[-1][1]
    assert availability(state, now)["P30D"] == pytest.approx(0.75, abs=1e-3)


def test_state_round_trips_through_plain_json():
    state = history((State.DEGRADED, at(10)), (State.OK, at(10, 30)), (State.DOWN, at(10, 45)))
    feedback = FeedbackEvent(
        id="fb-1", service_id="financial-close", time=at(10, 50), csat=2, comment="slow again"
    )
    state = record_feedback(state, feedback, POLICY)
    copy = ExperienceState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert copy == state
    assert evaluate(copy, at(11), PROFILE, POLICY) == evaluate(state, at(11), PROFILE, POLICY)


def test_a_stored_state_of_another_format_is_refused_with_what_to_do():
    with pytest.raises(ExperienceStateError, match=r"format 99.*Delete the entry"):
        ExperienceState.from_dict({"v": 99, "service_id": "financial-close"})
    with pytest.raises(ExperienceStateError, match="damaged"):
        ExperienceState.from_dict({"v": 2, "service_id": "financial-close"})


def test_events_of_another_service_are_refused():
    other = ServiceHealthEvent(
        **{**health(State.DOWN, at(10)).model_dump(), "service_id": "payroll"}
    )
    with pytest.raises(ValueError, match="one state per business service"):
        record_health(ExperienceState("financial-close"), other, POLICY)


def test_policy_errors_name_the_knob():
    with pytest.raises(PolicyError, match="coarse_bucket"):
        ExperiencePolicy(fine_bucket=timedelta(seconds=7))
    with pytest.raises(PolicyError, match="windows"):
        ExperiencePolicy(windows=())
    with pytest.raises(PolicyError, match="degraded_badness"):
        ExperiencePolicy(degraded_badness=2.0)


def test_window_names():
    assert [iso_duration(w) for w in POLICY.windows] == ["PT1H", "P1D", "P7D", "P30D"]
    assert iso_duration(timedelta(seconds=90)) == "PT1M30S"
    assert [span_phrase(w) for w in POLICY.windows] == ["1 h", "24 h", "7 days", "30 days"]
    assert span_phrase(timedelta(minutes=5)) == "5 min"


def test_feedback_moves_the_time_only_of_a_service_without_health_history():
    survey = FeedbackEvent(id="fb-1", service_id="financial-close", time=at(10), csat=4)
    alone = record_feedback(ExperienceState("financial-close"), survey, POLICY)
    # a survey of 12 November is scored in 12 November time, never before it
    assert alone.time_at(at(9)) == at(10)
    assert alone.time_at(at(10, 1)) == at(10, 1)

    monitored = history((State.DOWN, at(10)))
    skewed = FeedbackEvent(
        id="fb-2", service_id="financial-close", time=at(10, day=12) + timedelta(days=365), csat=1
    )
    monitored = record_feedback(monitored, skewed, POLICY)
    # a rating stamped a year ahead does not drag a monitored service's time with it
    assert monitored.time_at(at(10, 6)) == at(10, 6)
    assert availability(monitored, at(10, 6))["PT1H"] == pytest.approx(1 - 360 / 3600)

"""The figures behind the board and the value stream: availability, impact minutes, XLA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impactline.api.health_model import figures as f
from impactline.api.health_model.routes import parse_span
from impactline.core.scoring import DEFAULT_WEIGHTS, ServiceProfile
from impactline.core.states import State
from impactline.runtime.problems import Problem

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)
MIN = timedelta(minutes=1)
FACTORS = {State.OK: 0.0, State.DEGRADED: 0.5, State.DOWN: 1.0, State.UNKNOWN: 0.0}


def change(minutes: float, state: State, before: State = State.OK, incident: str | None = None):
    return f.HealthChange(T0 + minutes * MIN, state, before, incident)


def test_stretches_start_from_the_state_in_force_and_end_at_the_window() -> None:
    changes = [change(-5, State.DOWN, incident="a"), change(10, State.OK, State.DOWN)]
    spans = f.stretches(f.initial_state(changes), changes, T0, T0 + 60 * MIN)
    assert [(s.state, s.end - s.start, s.incident_id) for s in spans] == [
        (State.DOWN, 10 * MIN, "a"),
        (State.OK, 50 * MIN, None),
    ]


def test_a_service_never_reported_is_ok_for_the_whole_window() -> None:
    assert f.initial_state([]) is State.OK
    spent = f.budget(f.stretches(State.OK, [], T0, T0 + DAY), FACTORS, 0.999, T0, T0 + DAY)
    assert (spent.availability, spent.consumed) == (1.0, 0.0)


def test_degraded_time_counts_by_its_factor_and_unknown_time_is_left_out() -> None:
    changes = [
        change(0, State.DEGRADED, incident="slow"),
        change(20, State.UNKNOWN, State.DEGRADED),
        change(30, State.DOWN, State.UNKNOWN, incident="out"),
        change(35, State.OK, State.DOWN),
    ]
    end = T0 + 100 * MIN
    spans = f.stretches(State.OK, changes, T0, end)
    spent = f.budget(spans, FACTORS, 0.99, T0, end)
    # 90 observed minutes; 20 x 0.5 + 5 x 1 = 15 unavailable.
    assert spent.availability == pytest.approx(75 / 90)
    assert spent.consumed == pytest.approx(15 / (90 * 0.01))
    by_incident = f.budget_by_incident(spans, FACTORS, T0, end)
    assert by_incident == {"slow": 10 * 60_000, "out": 5 * 60_000}


def test_the_hourly_burn_rate_reads_only_the_last_hour() -> None:
    changes = [change(0, State.DOWN), change(6, State.OK, State.DOWN)]
    now = T0 + 60 * MIN
    spans = f.stretches(State.OK, changes, now - DAY, now + DAY)
    # 6 of 60 minutes down against a 1 % budget: ten times too fast.
    assert f.hourly_burn_rate(spans, FACTORS, 0.99, now) == pytest.approx(10.0)
    assert f.hourly_burn_rate(spans, FACTORS, 0.99, now + DAY) == pytest.approx(0.0)


def point(minutes: float, total: float, episode: str = "e", weight: float | None = 3.0):
    period = None if weight is None else ("month-end-close" if weight != 1 else "business-hours")
    return f.ImpactPoint(T0 + minutes * MIN, episode, total, weight, period)


def test_increments_accrue_at_the_weight_in_force_since_the_previous_event() -> None:
    points = [
        point(0, 0, weight=1.0),
        point(10, 100, weight=3.0),  # weight changed at 10: the first 100 accrued at weight 1
        point(20, 400, weight=3.0),
        point(5, 0, episode="other", weight=None),
        point(15, 50, episode="other", weight=None),
    ]
    ledger = f.ImpactLedger(f.increments(points))
    totals = ledger.totals(T0 - MIN, T0 + DAY)
    assert totals.minutes == 450
    assert totals.weighted_minutes == 300
    assert totals.by_period == {"business-hours": 100, "month-end-close": 300, "unweighted": 50}
    assert totals.weighted_share == pytest.approx(300 / 450)
    assert ledger.totals(T0 + 12 * MIN, T0 + DAY).minutes == 350  # 300 weighted, 50 not


def test_a_replayed_or_out_of_order_event_adds_nothing() -> None:
    points = [point(0, 0), point(20, 400), point(10, 100), point(20, 400)]
    assert sum(i.minutes for i in f.increments(points)) == 400


def test_buckets_slice_the_range_and_add_up_to_the_total() -> None:
    ledger = f.ImpactLedger(f.increments([point(0, 0), point(30, 60), point(90, 90)]))
    slices = f.buckets(ledger, T0, T0 + 120 * MIN, 4)
    # Each slice holds what accrued after its start and up to its end.
    assert [t.minutes for _, _, t in slices] == [60, 0, 30, 0]
    assert slices[-1][1] == T0 + 120 * MIN


def test_xla_combines_availability_impact_and_feedback() -> None:
    profile = ServiceProfile(id="s", slo_target=0.999, impact_budget_minutes=1000)
    end = T0 + 30 * DAY
    spans = f.stretches(State.OK, [], T0, end)
    ledger = f.ImpactLedger(f.increments([point(0, 0), point(60, 1000)]))
    feedback = f.FeedbackLog(
        [f.FeedbackPoint(T0 + DAY, 1, -0.5), f.FeedbackPoint(T0 + DAY, 3, None)]
    )
    score, spent, signals = f.xla_at(
        profile, DEFAULT_WEIGHTS, spans, FACTORS, ledger, feedback, T0 - MIN, end
    )
    assert (signals.availability, signals.impact_minutes, signals.csat) == (1.0, 1000, 2.0)
    assert score.components == {
        "availability": 100.0,
        "impact": 50.0,
        "csat": 25.0,
        "sentiment": 25.0,
    }
    assert score.breached and spent.consumed == 0
    quiet, _, _ = f.xla_at(
        profile, DEFAULT_WEIGHTS, spans, FACTORS, ledger, feedback, end, end + DAY
    )
    assert quiet.score == 100.0  # nothing happened in that window


def test_percentiles_interpolate_and_negative_durations_count_as_zero() -> None:
    assert f.percentile([], 0.5) is None
    assert f.percentile([10, 20, 30, 40], 0.5) == 25
    assert f.percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    spread = f.spread([timedelta(seconds=-5), timedelta(minutes=1), timedelta(minutes=3)])
    assert (spread.count, spread.median_s, spread.p90_s) == (3, 60, pytest.approx(156))


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("P30D", timedelta(days=30)),
        ("PT6H", timedelta(hours=6)),
    ],
)
def test_windows_are_written_short_or_in_iso_8601(text: str, span: timedelta) -> None:
    assert parse_span(text, "window") == span


@pytest.mark.parametrize("text", ["", "soon", "-1h", "0d", "100000d"])
def test_a_bad_window_names_the_parameter(text: str) -> None:
    with pytest.raises(Problem) as raised:
        parse_span(text, "step")
    assert raised.value.status == 422
    assert raised.value.extensions["errors"][0]["field"] == "step"

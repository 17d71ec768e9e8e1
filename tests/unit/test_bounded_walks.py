"""Calendar walks are bounded in steps: an event time centuries away costs bounded work and
output, where it used to walk every calendar boundary in between (and never finish)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from impactline.core.calendar import BusinessCalendar, load_calendar
from impactline.core.calendar.business_calendar import MAX_SCAN_DAYS
from impactline.core.contracts import ImpactReason
from impactline.core.impact.engine import MAX_WALK_STEPS
from impactline.core.scoring.accrual import ImpactAccrual
from impactline.core.states import State
from tests.unit.test_impact_engine import engine_for, health, london, one_service_catalog

ROOT = Path(__file__).resolve().parents[2]
FAR = datetime(9000, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def uk_finance() -> BusinessCalendar:
    return load_calendar(ROOT / "deploy" / "calendars" / "uk-finance.yaml")


def test_an_event_centuries_ahead_of_an_open_episode_ends_in_bounded_steps(
    uk_finance: BusinessCalendar,
) -> None:
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    opened = engine.on_health(None, health(start))
    began = time.monotonic()
    step = engine.on_health(opened.state, health(FAR, State.DOWN))
    assert time.monotonic() - began < 60, "the walk must not visit every day until 9000"
    weight_changes = [r for r in step.impacts if r.event.reason is ImpactReason.WEIGHT_CHANGE]
    assert 0 < len(weight_changes) <= MAX_WALK_STEPS
    # The jump ends at the event: the last figures are those of the state change there.
    last = step.impacts[-1].event
    assert (last.reason, last.time, last.state) == (ImpactReason.STATE_CHANGE, FAR, State.DOWN)
    assert last.business_impact_minutes > 0


def test_a_tick_far_ahead_is_bounded_too(uk_finance: BusinessCalendar) -> None:
    engine = engine_for(one_service_catalog(), uk_finance)
    start = london(12, 10)
    opened = engine.on_health(None, health(start))
    assert opened.state is not None
    began = time.monotonic()
    step = engine.on_tick(opened.state, FAR)
    assert engine.next_due(opened.state) > start
    assert time.monotonic() - began < 60
    assert step.state is not None and step.state.updated_at == FAR


def test_next_change_after_looks_at_most_about_ten_years_ahead(
    uk_finance: BusinessCalendar,
) -> None:
    begin = london(12, 10)
    # The next change of a business calendar is within a day, whatever the horizon.
    change = uk_finance.next_change_after(begin, horizon=FAR - begin)
    assert change is not None and change - begin < timedelta(days=1)
    # From the last day the scan may reach, nothing later is looked at.
    edge = begin + timedelta(days=MAX_SCAN_DAYS)
    assert uk_finance.next_change_after(begin, horizon=FAR - begin) == change
    assert uk_finance.next_change_after(edge, horizon=timedelta(days=1)) is not None


def test_accrual_over_centuries_is_split_into_a_bounded_number_of_pieces(
    uk_finance: BusinessCalendar,
) -> None:
    start = london(12, 10)
    accrual = ImpactAccrual.start(start)
    calls = 0

    def rate(weight: object) -> float:
        nonlocal calls
        calls += 1
        return 10.0

    began = time.monotonic()
    far = accrual.advance(FAR, rate, uk_finance)
    assert time.monotonic() - began < 60
    assert calls <= 10_000
    assert far.updated_at == FAR and far.impact_minutes > 0

"""The demo scenario tells the same story on any day: an ordinary business day at weight 1 (P3)
and the last day of the month-end close at weight 3 with the CFO office (P1, high visibility),
found in the uk-finance calendar relative to the day it runs."""

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from impactline.core.contracts import ImpactEvent, ImpactReason
from impactline.core.scenario import Scenario, ScenarioClock
from tests.time_scenarios import CALENDARS, DEMO, play_demo

PLAN = Scenario.model_validate(yaml.safe_load(DEMO.read_text()))
# The 1st, 12th and 28th of every month of 2027, and the days around a year's end.
DAYS = [datetime(2027, m, d, 7, 30, tzinfo=UTC) for m in range(1, 13) for d in (1, 12, 28)] + [
    datetime(2026, 12, 31, 9, 59, tzinfo=UTC),
    datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
]


@pytest.mark.parametrize("today", DAYS, ids=lambda d: d.date().isoformat())
def test_the_anchors_are_the_last_day_of_a_close_and_an_ordinary_day_before_it(
    today: datetime,
) -> None:
    anchors = PLAN.resolve(CALENDARS, today)
    uk = CALENDARS["uk-finance"]
    month_end, mid_month = anchors["month-end"], anchors["mid-month"]
    assert month_end.date() <= today.date()
    assert "month-end-close" in uk.weight_at(month_end).periods
    following = month_end + timedelta(days=1)
    while not uk.is_business_day(uk.local_time(following).date()):
        following += timedelta(days=1)
    assert "month-end-close" not in uk.weight_at(following).periods  # the close's last day
    ordinary = uk.weight_at(mid_month)
    assert (ordinary.period, ordinary.weight, ordinary.holiday) == ("business-hours", 1.0, None)
    assert month_end - mid_month >= timedelta(days=18)
    assert uk.local_time(mid_month).hour == uk.local_time(month_end).hour == 10


@pytest.mark.parametrize("today", DAYS[::5], ids=lambda d: d.date().isoformat())
def test_make_run_prints_p3_at_weight_1_then_p1_at_weight_3_on_any_day(today: datetime) -> None:
    opened = [
        o.event
        for o in play_demo(today)
        if o.topic.name == "impact.all"
        and isinstance(o.event, ImpactEvent)
        and o.event.service_id == "financial-close"
        and o.event.reason is ImpactReason.STATE_CHANGE
    ]
    mid, close = opened
    assert mid.calendar is not None and close.calendar is not None
    assert (mid.calendar.weight, mid.priority, mid.high_visibility) == (1.0, "P3", False)
    assert (close.calendar.period, close.calendar.weight, close.priority) == (
        "month-end-close",
        3.0,
        "P1",
    )
    assert "CFO office" in close.personas_affected and close.high_visibility


def test_a_step_continues_from_the_time_the_last_one_set() -> None:
    clock = ScenarioClock()
    wall = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    set_to = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert clock.time_of(None, wall) == wall  # nothing set: the wall clock
    assert clock.time_of(set_to, wall) == set_to
    assert clock.time_of(None, wall + timedelta(seconds=65)) == set_to + timedelta(seconds=65)


def test_a_reference_to_an_unknown_anchor_is_named() -> None:
    broken = yaml.safe_load(DEMO.read_text())
    broken["steps"][0]["at"] = "quarter-end"
    with pytest.raises(ValidationError, match=r"steps\[0\]\.at: .*'quarter-end'"):
        Scenario.model_validate(broken)
    broken = yaml.safe_load(DEMO.read_text())
    broken["clock"] = "nowhere"
    with pytest.raises(ValidationError, match="clock: no anchor 'nowhere'"):
        Scenario.model_validate(broken)

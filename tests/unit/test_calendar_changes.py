"""`next_change_after`: when the impact service has to re-weigh an open incident."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impactline.core.calendar import BusinessCalendar

LONDON = ZoneInfo("Europe/London")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


def calendar(*periods: dict, **extra) -> BusinessCalendar:
    return BusinessCalendar.from_document(
        "changes",
        {
            "timezone": "Europe/London",
            "baseline": {"name": "off-hours", "weight": 0.3},
            "periods": list(periods),
            **extra,
        },
    )


CLOSE = {"name": "month-end-close", "weight": 3.0, "month_end": {"business_days": 3}}
HOURS = {
    "name": "business-hours",
    "weight": 1.0,
    "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}],
}


@pytest.fixture(scope="module")
def finance() -> BusinessCalendar:
    return calendar(CLOSE, HOURS, holidays={"country": "GB", "subdivision": "ENG", "weight": 0.3})


def test_business_hours_end_then_start_the_next_morning(finance):
    assert finance.next_change_after(local(2026, 11, 12, 10, 0)) == local(2026, 11, 12, 18, 0)
    # Midnight is not a change: off-hours continues until 08:00.
    assert finance.next_change_after(local(2026, 11, 12, 18, 0)) == local(2026, 11, 13, 8, 0)


def test_weekend_is_skipped_in_one_step(finance):
    assert finance.next_change_after(local(2026, 11, 13, 18, 0)) == local(2026, 11, 16, 8, 0)


def test_month_end_close_starts_at_local_midnight_across_spring_forward(finance):
    # March 2026 closes on Fri 27, Mon 30, Tue 31; clocks go forward on Sun 29.
    assert finance.next_change_after(local(2026, 3, 27, 20, 0)) == datetime(2026, 3, 28, tzinfo=UTC)
    after_weekend = finance.next_change_after(datetime(2026, 3, 28, tzinfo=UTC))
    # Monday 00:00 BST is Sunday 23:00 UTC.
    assert after_weekend == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)
    assert finance.weight_at(after_weekend).period == "month-end-close"


def test_change_of_active_periods_counts_even_when_the_weight_stays(finance):
    # Mon 30 Nov 2026 is a close day: at 08:00 business hours join the close (weight stays 3).
    assert finance.next_change_after(local(2026, 11, 30, 2, 0)) == local(2026, 11, 30, 8, 0)
    assert finance.weight_at(local(2026, 11, 30, 8, 0)).periods == (
        "month-end-close",
        "business-hours",
    )


def test_the_instant_of_a_change_is_not_its_own_next_change(finance):
    boundary = local(2026, 11, 12, 8, 0)
    assert finance.weight_at(boundary).period == "business-hours"
    assert finance.next_change_after(boundary) == local(2026, 11, 12, 18, 0)
    assert finance.weight_at(boundary - timedelta(microseconds=1)).period == "off-hours"


def test_holidays_are_changes(finance):
    # Christmas (Fri 25) and Boxing Day observed (Mon 28) are different holidays, with a weekend
    # in between, so each midnight between them is a change.
    assert finance.next_change_after(local(2026, 12, 24, 18, 0)) == local(2026, 12, 25, 0, 0)
    assert finance.next_change_after(local(2026, 12, 25, 12, 0)) == local(2026, 12, 26, 0, 0)


def test_calendar_without_changes_answers_none_quickly():
    flat = calendar()
    assert flat.next_change_after(local(2026, 1, 1, 0, 0)) is None
    assert flat.next_change_after(local(2026, 1, 1), horizon=timedelta(days=3)) is None


def test_horizon_limits_the_search():
    yearly = {
        "name": "audit",
        "weight": 2.0,
        "dates": [{"start": "2026-09-01", "end": "2026-09-02"}],
    }
    cal = calendar(yearly)
    assert cal.next_change_after(local(2026, 1, 1), horizon=timedelta(days=30)) is None
    assert cal.next_change_after(local(2026, 1, 1)) == local(2026, 9, 1, 0, 0)


def test_walking_changes_reproduces_weight_at_minute_by_minute(finance):
    # Over a close week with DST-free November, every minute's weight_at must equal the value
    # of the segment found by walking next_change_after.
    start, end = local(2026, 11, 25, 0, 0), local(2026, 12, 2, 0, 0)
    segments, cursor = [], start
    while cursor < end:
        following = finance.next_change_after(cursor) or end
        segments.append((cursor, min(following, end), finance.weight_at(cursor)))
        cursor = following
    for begins, ends, value in segments:
        minute = begins
        while minute < ends:
            assert finance.weight_at(minute) == value
            minute += timedelta(minutes=30)
    assert [value.period for _, _, value in segments] == [
        "off-hours",  # Wed 25, before 08:00
        "business-hours",
        "off-hours",
        "month-end-close",  # Thu 26, 00:00-08:00
        "month-end-close",  # with business hours
        "month-end-close",  # 18:00 until Fri 27 08:00
        "month-end-close",
        "month-end-close",
        "off-hours",  # weekend
        "month-end-close",  # Mon 30
        "month-end-close",
        "month-end-close",
        "off-hours",  # Tue 1 Dec
        "business-hours",
        "off-hours",
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.just(UTC),
    )
)
def test_weight_is_constant_until_the_next_change_and_differs_at_it(instant):
    finance = calendar(
        CLOSE, HOURS, holidays={"country": "GB", "subdivision": "ENG", "weight": 0.3}
    )
    change = finance.next_change_after(instant)
    assert change is not None and change > instant
    assert finance.weight_at(change - timedelta(microseconds=1)) == finance.weight_at(instant)
    assert finance.weight_at(change) != finance.weight_at(instant)

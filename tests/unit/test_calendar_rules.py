"""Period rules, business days, holidays and the overlap rule."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import BusinessCalendar

LONDON = ZoneInfo("Europe/London")


def calendar(*periods: dict, holidays: dict | None = None, **extra) -> BusinessCalendar:
    document = {
        "timezone": "Europe/London",
        "baseline": {"name": "off-hours", "weight": 0.3},
        "periods": list(periods),
        **extra,
    }
    if holidays is not None:
        document["holidays"] = holidays
    return BusinessCalendar.from_document("test", document)


ENGLAND = {"country": "GB", "subdivision": "ENG", "weight": 0.1}
CLOSE = {"name": "month-end-close", "weight": 3.0, "month_end": {"business_days": 3}}
HOURS = {
    "name": "business-hours",
    "weight": 1.0,
    "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}],
}


def period_on(cal: BusinessCalendar, day: date, hour: int = 12) -> str:
    return cal.weight_at(datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)).period


def close_days(cal: BusinessCalendar, year: int, month: int) -> list[int]:
    days = []
    for number in range(1, 32):
        try:
            day = date(year, month, number)
        except ValueError:
            break
        if period_on(cal, day) == "month-end-close":
            days.append(number)
    return days


def test_month_ending_on_a_weekend_closes_on_the_preceding_business_days():
    # January 2026 ends on Saturday 31st: close on Wed 28, Thu 29, Fri 30.
    assert close_days(calendar(CLOSE, holidays=ENGLAND), 2026, 1) == [28, 29, 30]


def test_bank_holiday_at_month_end_shifts_the_close_earlier():
    # Mon 31 Aug 2026 is the Late Summer Bank Holiday and 29-30 are a weekend,
    # so the last three business days are Wed 26, Thu 27, Fri 28.
    cal = calendar(CLOSE, HOURS, holidays=ENGLAND)
    assert close_days(cal, 2026, 8) == [26, 27, 28]
    holiday = cal.weight_at(datetime(2026, 8, 31, 10, tzinfo=LONDON))
    assert holiday.holiday == "Late Summer Bank Holiday"
    assert (holiday.period, holiday.weight) == ("public-holiday", 0.1)


def test_without_the_holiday_table_the_bank_holiday_counts_as_a_business_day():
    assert close_days(calendar(CLOSE), 2026, 8) == [27, 28, 31]


def test_explicit_holiday_dates_add_to_the_country_table():
    closure = {**ENGLAND, "dates": {"2026-03-31": "Company closure"}}
    cal = calendar(CLOSE, holidays=closure)
    # March 2026 ends on Tue 31, now a closure day: close on Thu 26, Fri 27, Mon 30.
    assert close_days(cal, 2026, 3) == [26, 27, 30]
    assert cal.holiday_name(date(2026, 3, 31)) == "Company closure"


def test_leap_year_february_closes_on_the_29th():
    # 2028 is a leap year and Tue 29 Feb is its last business day: close on 25 (Fri), 28, 29.
    assert close_days(calendar(CLOSE), 2028, 2) == [25, 28, 29]
    # 2027 is not: February ends on Sunday 28th, close on 24, 25, 26.
    assert close_days(calendar(CLOSE), 2027, 2) == [24, 25, 26]


def test_first_business_days_of_the_month_skip_new_year():
    opening = {"name": "month-open", "weight": 1.5, "month_start": {"business_days": 2}}
    cal = calendar(opening, holidays=ENGLAND)
    # Thu 1 Jan 2026 is New Year's Day: the first two business days are Fri 2 and Mon 5.
    assert [n for n in range(1, 8) if period_on(cal, date(2026, 1, n)) == "month-open"] == [2, 5]


def test_quarter_end_uses_only_quarter_months_and_honours_hours():
    quarter = {
        "name": "quarter-end",
        "weight": 3.0,
        "quarter_end": {"business_days": 2, "hours": "07:00-23:00"},
    }
    cal = calendar(quarter)
    # Q1 2026 ends Tue 31 March: Mon 30 and Tue 31, 07:00-23:00 only.
    assert period_on(cal, date(2026, 3, 30), 7) == "quarter-end"
    assert period_on(cal, date(2026, 3, 31), 22) == "quarter-end"
    assert period_on(cal, date(2026, 3, 31), 23) == "off-hours"
    assert period_on(cal, date(2026, 3, 31), 6) == "off-hours"
    assert period_on(cal, date(2026, 3, 27)) == "off-hours"
    # April is not a quarter end.
    assert period_on(cal, date(2026, 4, 30)) == "off-hours"


def test_quarter_end_can_reach_back_into_the_previous_month():
    quarter = {"name": "quarter-end", "weight": 3.0, "quarter_end": {"business_days": 6}}
    cal = calendar(quarter, workdays=["fri"])
    # Fridays only: the last six on or before 30 Jun 2026 are 26, 19, 12, 5 June and
    # 29, 22 May, so the selection starts in May.
    assert period_on(cal, date(2026, 5, 22)) == "quarter-end"
    assert period_on(cal, date(2026, 5, 29)) == "quarter-end"
    assert period_on(cal, date(2026, 5, 15)) == "off-hours"
    assert period_on(cal, date(2026, 6, 26)) == "quarter-end"


def test_rrule_period_follows_wall_time_for_its_duration():
    payroll = {
        "name": "payroll-run",
        "weight": 2.0,
        "rrule": {
            "rule": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYMONTHDAY=20,21,22,23,24,25;BYSETPOS=-1",
            "start": "2026-01-01T07:00:00",
            "duration": "PT12H",
        },
    }
    cal = calendar(payroll, HOURS)
    # 25 April 2026 is a Saturday, so payroll runs on Friday 24 April.
    assert period_on(cal, date(2026, 4, 24), 7) == "payroll-run"
    assert period_on(cal, date(2026, 4, 24), 19) == "off-hours"
    assert period_on(cal, date(2026, 4, 23), 12) == "business-hours"


def test_rrule_occurrence_spanning_midnight_is_active_on_the_next_day():
    batch = {
        "name": "overnight-batch",
        "weight": 1.2,
        "rrule": {"rule": "FREQ=DAILY", "start": "2026-06-01T22:00:00", "duration": "PT4H"},
    }
    cal = calendar(batch)
    assert period_on(cal, date(2026, 6, 2), 1) == "overnight-batch"
    assert period_on(cal, date(2026, 6, 2), 2) == "off-hours"
    # Before the first occurrence nothing is active.
    assert period_on(cal, date(2026, 6, 1), 1) == "off-hours"


def test_weekly_window_past_midnight():
    night = {
        "name": "night-shift",
        "weight": 0.6,
        "weekly": [{"days": ["fri"], "from": "22:00", "to": "06:00"}],
    }
    cal = calendar(night)
    assert period_on(cal, date(2026, 6, 5), 23) == "night-shift"
    assert period_on(cal, date(2026, 6, 6), 5) == "night-shift"
    assert period_on(cal, date(2026, 6, 6), 6) == "off-hours"
    assert period_on(cal, date(2026, 6, 4), 23) == "off-hours"


def test_date_ranges_include_both_end_dates_and_datetimes_are_half_open():
    freeze = {
        "name": "change-freeze",
        "weight": 2.0,
        "dates": [
            {"start": "2026-12-21", "end": "2026-12-23"},
            {"start": "2026-06-10T09:30:00", "end": "2026-06-10T11:00:00"},
        ],
    }
    cal = calendar(freeze)
    assert period_on(cal, date(2026, 12, 23), 23) == "change-freeze"
    assert period_on(cal, date(2026, 12, 24), 0) == "off-hours"
    assert cal.weight_at(datetime(2026, 6, 10, 9, 30, tzinfo=LONDON)).weight == 2.0
    assert cal.weight_at(datetime(2026, 6, 10, 11, 0, tzinfo=LONDON)).weight == 0.3


def test_highest_weight_wins_and_ties_go_to_the_first_declared():
    first = {
        "name": "first",
        "weight": 2.0,
        "dates": [{"start": "2026-06-10", "end": "2026-06-10"}],
    }
    second = {
        "name": "second",
        "weight": 2.0,
        "dates": [{"start": "2026-06-10", "end": "2026-06-10"}],
    }
    low = {"name": "low", "weight": 0.5, "dates": [{"start": "2026-06-10", "end": "2026-06-10"}]}
    verdict = calendar(low, first, second).weight_at(datetime(2026, 6, 10, 12, tzinfo=LONDON))
    assert verdict.period == "first"
    assert verdict.periods == ("first", "second", "low")


def test_a_period_weighted_below_the_baseline_still_applies_when_active():
    quiet = {
        "name": "shutdown",
        "weight": 0.1,
        "dates": [{"start": "2026-08-03", "end": "2026-08-07"}],
    }
    verdict = calendar(quiet).weight_at(datetime(2026, 8, 4, 3, tzinfo=LONDON))
    assert (verdict.period, verdict.weight) == ("shutdown", 0.1)


def test_holidays_suppress_business_day_periods_unless_on_holidays():
    support = {**HOURS, "name": "support-desk", "weight": 0.8, "on_holidays": True}
    cal = calendar(HOURS, support, holidays=ENGLAND)
    christmas = cal.weight_at(datetime(2026, 12, 25, 10, tzinfo=LONDON))
    assert christmas.periods == ("support-desk", "public-holiday")
    assert christmas.weight == 0.8
    assert christmas.holiday == "Christmas Day"


def test_rrule_and_date_periods_stay_active_on_holidays_by_default():
    sale = {
        "name": "boxing-sale",
        "weight": 2.0,
        "dates": [{"start": "2026-12-26", "end": "2026-12-28"}],
    }
    cal = calendar(sale, holidays=ENGLAND)
    verdict = cal.weight_at(datetime(2026, 12, 28, 10, tzinfo=LONDON))
    assert verdict.holiday == "Boxing Day (observed)"
    assert verdict.period == "boxing-sale"
    off = calendar({**sale, "on_holidays": False}, holidays=ENGLAND)
    assert off.weight_at(datetime(2026, 12, 28, 10, tzinfo=LONDON)).period == "public-holiday"


def test_custom_workdays_make_saturday_a_business_day():
    cal = calendar(CLOSE, workdays=["mon", "tue", "wed", "thu", "fri", "sat"])
    # January 2026 ends on Saturday 31st, now a business day: close on 29, 30, 31.
    assert close_days(cal, 2026, 1) == [29, 30, 31]


@pytest.mark.parametrize("naive", [datetime(2026, 6, 1, 12), datetime(2026, 6, 1)])
def test_weight_at_refuses_naive_datetimes(naive):
    with pytest.raises(ValueError, match="no time zone"):
        calendar(HOURS).weight_at(naive)

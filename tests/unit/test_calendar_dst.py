"""Daylight-saving transitions and calendars in different time zones."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from impactline.core.calendar import BusinessCalendar

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def calendar(tz: str, *periods: dict) -> BusinessCalendar:
    return BusinessCalendar.from_document(
        "dst",
        {
            "timezone": tz,
            "baseline": {"name": "off-hours", "weight": 0.3},
            "periods": list(periods),
        },
    )


HOURS = {
    "name": "business-hours",
    "weight": 1.0,
    "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}],
}


def test_london_business_hours_start_an_hour_earlier_in_utc_after_spring_forward():
    cal = calendar("Europe/London", HOURS)
    # Fri 27 Mar 2026 is GMT (UTC+0): 08:00 local = 08:00 UTC.
    assert cal.weight_at(utc(2026, 3, 27, 7, 30)).weight == 0.3
    assert cal.weight_at(utc(2026, 3, 27, 8, 0)).weight == 1.0
    # Clocks go forward on Sun 29 Mar; Mon 30 Mar is BST (UTC+1): 08:00 local = 07:00 UTC.
    assert cal.weight_at(utc(2026, 3, 30, 7, 0)).weight == 1.0
    assert cal.weight_at(utc(2026, 3, 30, 6, 59)).weight == 0.3
    assert cal.weight_at(utc(2026, 3, 30, 17, 0)).weight == 0.3


def test_new_york_business_hours_across_fall_back():
    cal = calendar("America/New_York", HOURS)
    # Fri 30 Oct 2026 is EDT (UTC-4): 08:00-18:00 local = 12:00-22:00 UTC.
    assert cal.weight_at(utc(2026, 10, 30, 12, 0)).weight == 1.0
    assert cal.weight_at(utc(2026, 10, 30, 22, 0)).weight == 0.3
    # Clocks go back on Sun 1 Nov; Mon 2 Nov is EST (UTC-5): 13:00-23:00 UTC.
    assert cal.weight_at(utc(2026, 11, 2, 12, 30)).weight == 0.3
    assert cal.weight_at(utc(2026, 11, 2, 22, 30)).weight == 1.0


def test_whole_day_periods_last_23_and_25_hours_on_transition_days():
    days = {
        "name": "maintenance",
        "weight": 2.0,
        "dates": [
            {"start": "2026-03-29", "end": "2026-03-29"},
            {"start": "2026-10-25", "end": "2026-10-25"},
        ],
    }
    cal = calendar("Europe/London", days)
    spring_start = utc(2026, 3, 29, 0, 0)  # midnight GMT
    assert cal.weight_at(spring_start).period == "maintenance"
    assert cal.next_change_after(spring_start) - spring_start == timedelta(hours=23)
    autumn_start = utc(2026, 10, 24, 23, 0)  # midnight BST
    assert cal.weight_at(autumn_start).period == "maintenance"
    assert cal.next_change_after(autumn_start) - autumn_start == timedelta(hours=25)


def test_occurrence_at_a_skipped_wall_time_starts_when_the_clock_jumps():
    # 01:30 does not exist in London on 29 Mar 2026: clocks jump from 01:00 GMT to 02:00 BST
    # at 01:00 UTC. The occurrence starts at that jump and lasts its exact 30 minutes.
    job = {
        "name": "nightly-job",
        "weight": 1.5,
        "rrule": {"rule": "FREQ=DAILY", "start": "2026-03-01T01:30:00", "duration": "PT30M"},
    }
    cal = calendar("Europe/London", job)
    assert cal.weight_at(utc(2026, 3, 29, 0, 59)).weight == 0.3
    assert cal.weight_at(utc(2026, 3, 29, 1, 0)).weight == 1.5
    assert cal.weight_at(utc(2026, 3, 29, 1, 29, 59)).weight == 1.5
    assert cal.weight_at(utc(2026, 3, 29, 1, 30)).weight == 0.3
    # The day before, an ordinary GMT night: 01:30-02:00 UTC.
    assert cal.weight_at(utc(2026, 3, 28, 1, 30)).weight == 1.5


def test_occurrence_at_a_repeated_wall_time_takes_the_first_one():
    # 01:30 happens twice in New York on 1 Nov 2026: 05:30 UTC (EDT), then 06:30 UTC (EST).
    job = {
        "name": "nightly-job",
        "weight": 1.5,
        "rrule": {"rule": "FREQ=DAILY", "start": "2026-10-01T01:30:00", "duration": "PT30M"},
    }
    cal = calendar("America/New_York", job)
    assert cal.weight_at(utc(2026, 11, 1, 5, 45)).weight == 1.5
    assert cal.weight_at(utc(2026, 11, 1, 6, 45)).weight == 0.3


def test_day_durations_are_nominal_across_spring_forward():
    # P1D from Saturday 12:00 ends Sunday 12:00 local, which is 23 real hours later.
    weekend = {
        "name": "weekend-cutover",
        "weight": 2.0,
        "rrule": {
            "rule": "FREQ=WEEKLY;BYDAY=SA",
            "start": "2026-03-07T12:00:00",
            "duration": "P1D",
        },
    }
    cal = calendar("Europe/London", weekend)
    start = utc(2026, 3, 28, 12, 0)
    assert cal.weight_at(start).weight == 2.0
    assert cal.next_change_after(start) == utc(2026, 3, 29, 11, 0)


def test_the_same_instant_weighs_differently_in_two_time_zones():
    close = {"name": "month-end-close", "weight": 3.0, "month_end": {"business_days": 1}}
    london, new_york = (
        calendar("Europe/London", close, HOURS),
        calendar("America/New_York", close, HOURS),
    )
    # 02:00 UTC on 1 Dec 2026 is already December in London but still Mon 30 Nov, 21:00, in
    # New York, the last business day of November.
    instant = utc(2026, 12, 1, 2, 0)
    assert london.weight_at(instant).period == "off-hours"
    assert new_york.weight_at(instant).period == "month-end-close"
    assert new_york.weight_at(instant).tz == "America/New_York"


def test_the_offset_between_two_calendars_narrows_while_only_the_us_is_on_summer_time():
    cal = calendar("America/New_York", HOURS)
    # Fri 6 Mar 2026: EST, business hours open at 13:00 UTC.
    assert cal.weight_at(utc(2026, 3, 6, 12, 30)).weight == 0.3
    # Tue 10 Mar 2026: EDT from 8 Mar while London is still on GMT: opens at 12:00 UTC.
    assert cal.weight_at(utc(2026, 3, 10, 12, 0)).weight == 1.0


def test_any_input_offset_gives_the_same_answer():
    cal = calendar("Europe/London", HOURS)
    same_instants = [
        datetime(2026, 11, 12, 10, 0, tzinfo=LONDON),
        datetime(2026, 11, 12, 5, 0, tzinfo=NEW_YORK),
        utc(2026, 11, 12, 10, 0),
    ]
    assert len({cal.weight_at(instant) for instant in same_instants}) == 1

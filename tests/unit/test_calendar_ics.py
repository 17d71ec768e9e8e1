"""Periods imported from iCalendar files."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import BusinessCalendar, CalendarError, load_calendar

LONDON = ZoneInfo("Europe/London")

EVENTS = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//example//close schedule//EN",
        # Weekly on Mondays 14:00-15:00 New York time, except one cancelled week.
        "BEGIN:VEVENT",
        "UID:us-sync@example",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;TZID=America/New_York:20260105T140000",
        "DTEND;TZID=America/New_York:20260105T150000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "EXDATE;TZID=America/New_York:20260112T140000",
        "SUMMARY:Transatlantic close sync",
        "END:VEVENT",
        # All-day, two days (DTEND is exclusive).
        "BEGIN:VEVENT",
        "UID:audit@example",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;VALUE=DATE:20260210",
        "DTEND;VALUE=DATE:20260212",
        "SUMMARY:External audit",
        "END:VEVENT",
        # Floating time: local wall time of whoever reads it.
        "BEGIN:VEVENT",
        "UID:party@example",
        "DTSTAMP:20260101T000000Z",
        "DTSTART:20260618T170000",
        "DTEND:20260618T190000",
        "SUMMARY:Summer party",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


def calendar(ics: dict) -> BusinessCalendar:
    return BusinessCalendar.from_document(
        "ics",
        {
            "timezone": "Europe/London",
            "baseline": {"name": "off-hours", "weight": 0.3},
            "periods": [{"name": "finance-events", "weight": 2.0, "ics": ics}],
        },
    )


def active(cal: BusinessCalendar, instant: datetime) -> bool:
    return cal.weight_at(instant).period == "finance-events"


def test_recurring_event_in_another_zone_is_converted_to_the_calendar_zone():
    cal = calendar({"content": EVENTS})
    # Mon 19 Jan 2026, 14:00 EST = 19:00 UTC = 19:00 GMT.
    assert active(cal, datetime(2026, 1, 19, 19, 0, tzinfo=UTC))
    assert not active(cal, datetime(2026, 1, 19, 20, 0, tzinfo=UTC))
    # Mon 16 Mar 2026: New York is on EDT, London not yet on BST: 18:00 UTC.
    assert active(cal, datetime(2026, 3, 16, 18, 0, tzinfo=UTC))
    assert not active(cal, datetime(2026, 3, 16, 19, 0, tzinfo=UTC))


def test_excluded_occurrence_is_not_imported():
    cal = calendar({"content": EVENTS})
    assert not active(cal, datetime(2026, 1, 12, 19, 30, tzinfo=UTC))


def test_all_day_event_covers_its_local_days_with_exclusive_end():
    cal = calendar({"content": EVENTS})
    assert active(cal, datetime(2026, 2, 10, 0, 0, tzinfo=LONDON))
    assert active(cal, datetime(2026, 2, 11, 23, 59, tzinfo=LONDON))
    assert not active(cal, datetime(2026, 2, 12, 0, 0, tzinfo=LONDON))
    change = cal.next_change_after(datetime(2026, 2, 10, 12, tzinfo=LONDON))
    assert change == datetime(2026, 2, 12, tzinfo=LONDON)


def test_floating_times_are_read_in_the_calendar_zone():
    cal = calendar({"content": EVENTS})
    # 17:00 London in June is BST: 16:00 UTC.
    assert active(cal, datetime(2026, 6, 18, 16, 0, tzinfo=UTC))
    assert not active(cal, datetime(2026, 6, 18, 15, 59, tzinfo=UTC))


def test_match_keeps_only_events_whose_summary_matches():
    cal = calendar({"content": EVENTS, "match": "(?i)audit"})
    assert active(cal, datetime(2026, 2, 10, 12, 0, tzinfo=LONDON))
    assert not active(cal, datetime(2026, 1, 19, 19, 0, tzinfo=UTC))


def test_loader_reads_the_ics_file_next_to_the_calendar(tmp_path: Path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "close.ics").write_text(EVENTS, encoding="utf-8")
    (tmp_path / "finance.yaml").write_text(
        "timezone: Europe/London\n"
        "baseline: {weight: 0.3}\n"
        "periods:\n"
        "  - name: finance-events\n"
        "    weight: 2.0\n"
        "    ics: {file: events/close.ics}\n",
        encoding="utf-8",
    )
    cal = load_calendar(tmp_path / "finance.yaml")
    assert cal.name == "finance"
    assert active(cal, datetime(2026, 2, 10, 12, 0, tzinfo=LONDON))


def test_missing_ics_file_names_the_calendar_and_the_path(tmp_path: Path):
    (tmp_path / "finance.yaml").write_text(
        "timezone: Europe/London\nbaseline: {weight: 0.3}\nperiods:\n"
        "  - {name: events, weight: 2, ics: {file: missing.ics}}\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarError) as caught:
        load_calendar(tmp_path / "finance.yaml")
    assert "finance.yaml" in str(caught.value)
    assert "periods[0].ics.file" in str(caught.value)
    assert "missing.ics" in str(caught.value)


def test_unread_file_reference_is_explained_when_building_from_a_mapping():
    with pytest.raises(CalendarError, match=r"periods\[0\]\.ics: .*load_calendar"):
        calendar({"file": "close.ics"})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not a calendar", "not a valid iCalendar"),
        ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "no VEVENT"),
    ],
)
def test_bad_ics_content_is_reported(content: str, expected: str):
    with pytest.raises(CalendarError, match=expected):
        calendar({"content": content})

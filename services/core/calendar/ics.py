"""Periods imported from iCalendar (RFC 5545) text, recurring events included.

The text is parsed once; occurrences are expanded per local day on demand, so an event that
repeats forever costs nothing until a day it falls on is asked about.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from impactline.core.calendar.clock import day_bounds, local_instant
from impactline.core.calendar.rules import DayContext, Interval


class IcsRule:
    """Every VEVENT (optionally only those whose SUMMARY matches) is an active interval."""

    active_on_holidays_by_default = True

    def __init__(self, content: str, tz: ZoneInfo, match: str | None = None) -> None:
        try:
            parsed = icalendar.Calendar.from_ical(content)
        except ValueError as error:
            raise ValueError(f"not a valid iCalendar file: {error}") from None
        events = parsed.walk("VEVENT")
        if not events:
            raise ValueError("the iCalendar file has no VEVENT to import")
        self.tz = tz
        self.match = re.compile(match) if match is not None else None
        self.event_count = len(events)
        self._query = recurring_ical_events.of(parsed)

    def intervals(self, context: DayContext) -> list[Interval]:
        window_start = context.start.astimezone(self.tz)
        window_end = context.end.astimezone(self.tz)
        found = []
        for event in self._query.between(window_start, window_end):
            summary = str(event.get("SUMMARY", ""))
            if self.match is not None and not self.match.search(summary):
                continue
            start, end = self._instant(event.start), self._instant(event.end)
            if end > start:
                found.append((start, end))
        return found

    def _instant(self, value: date | datetime) -> datetime:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                # A floating time means "local time wherever you are": this calendar's zone.
                return local_instant(value.date(), value.time(), self.tz)
            return value.astimezone(UTC)
        # All-day events: DTEND is exclusive, so the end date's midnight closes the interval.
        return day_bounds(value, self.tz)[0]

    def describe(self) -> str:
        suffix = f" matching /{self.match.pattern}/" if self.match else ""
        return f"iCalendar import of {self.event_count} event(s){suffix}"

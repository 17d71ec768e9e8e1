"""Business calendars: named, weighted periods in a time zone.

A calendar answers one question, "how much does an impact at this instant matter?", with a
`CalendarWeight`. Periods are defined by one rule each: weekly hours, the first or last N
business days of a month, the last N business days of a quarter, an RFC 5545 RRULE with a
duration, explicit date ranges, or the events of an iCalendar file. Business days are the
calendar's workdays minus its public holidays (a country/subdivision of the `holidays` library
plus explicit dates).

Overlap rule: on a public holiday every period that is not `on_holidays` is suppressed (weekly
and business-day rules default to suppressed, RRULE, date-range and iCalendar periods default to
active) and the holiday period is active all day; among the active periods the highest weight
wins, ties going to the period declared first, the holiday period counting as declared last;
with nothing active the baseline applies.

Everything here is pure except `loader`, which reads files.
"""

from impactline.core.calendar.business_calendar import (
    BusinessCalendar,
    CalendarWeight,
    NamedWeight,
    Period,
)
from impactline.core.calendar.errors import CalendarError, Problem
from impactline.core.calendar.loader import (
    CALENDAR_DIR_ENV,
    default_calendar_directory,
    load_calendar,
    load_calendars,
    resolve_calendar,
)

__all__ = [
    "CALENDAR_DIR_ENV",
    "BusinessCalendar",
    "CalendarError",
    "CalendarWeight",
    "NamedWeight",
    "Period",
    "Problem",
    "default_calendar_directory",
    "load_calendar",
    "load_calendars",
    "resolve_calendar",
]

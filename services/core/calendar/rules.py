"""Period rules: each one says when its period is active during one local day.

A rule returns UTC intervals that may stick out of the day; the calendar clips them. Rules know
nothing about holidays beyond business-day arithmetic: suppression on holidays is the calendar's
single overlap rule, applied in one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from impactline.core.calendar.business_days import BusinessDays
from impactline.core.calendar.clock import Span, day_bounds, local_instant

Interval = tuple[datetime, datetime]
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DayContext:
    """What a rule may consult about the local day it is asked about."""

    day: date
    start: datetime
    end: datetime
    tz: ZoneInfo
    business_days: BusinessDays


class PeriodRule(Protocol):
    #: Whether the period stays active on public holidays when the YAML does not say.
    active_on_holidays_by_default: bool

    def intervals(self, context: DayContext) -> Sequence[Interval]: ...

    def describe(self) -> str: ...


def parse_clock(text: str) -> tuple[time, int]:
    """`"18:00"` -> (18:00, 0); `"24:00"` -> (00:00, 1) meaning midnight of the next day."""
    hours, minutes = (int(part) for part in text.strip().split(":"))
    if hours == 24:
        return time(0), 1
    return time(hours, minutes), 0


def wall_window(day: date, start: str, end: str, tz: ZoneInfo) -> Interval:
    """A window between two wall-clock times anchored on `day`; an end at or before the start
    belongs to the next day."""
    start_time, start_shift = parse_clock(start)
    end_time, end_shift = parse_clock(end)
    begins = local_instant(day + timedelta(days=start_shift), start_time, tz)
    end_day = day + timedelta(days=end_shift)
    if end_shift == 0 and end_time <= start_time:
        end_day += _ONE_DAY
    return begins, local_instant(end_day, end_time, tz)


@dataclass(frozen=True, slots=True)
class WeeklyWindowRule:
    weekdays: frozenset[int]
    start: str
    end: str


class WeeklyRule:
    """Hours on given weekdays, e.g. business hours Mon-Fri 08:00-18:00."""

    active_on_holidays_by_default = False

    def __init__(self, windows: Sequence[WeeklyWindowRule]) -> None:
        self.windows = tuple(windows)

    def intervals(self, context: DayContext) -> list[Interval]:
        found = []
        # Yesterday's window may run past midnight into today.
        for anchor in (context.day - _ONE_DAY, context.day):
            for window in self.windows:
                if anchor.weekday() in window.weekdays:
                    found.append(wall_window(anchor, window.start, window.end, context.tz))
        return found

    def describe(self) -> str:
        parts = [
            f"{_day_runs(window.weekdays)} {window.start}-{window.end}" for window in self.windows
        ]
        return "weekly " + "; ".join(parts)


def _day_runs(weekdays: frozenset[int]) -> str:
    """{0, 1, 2, 3, 4, 6} -> "mon-fri,sun"."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    runs: list[list[int]] = []
    for number in sorted(weekdays):
        if runs and runs[-1][-1] == number - 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ",".join(
        names[run[0]] if len(run) == 1 else f"{names[run[0]]}-{names[run[-1]]}" for run in runs
    )


class BusinessDayRule:
    """The first or last N business days of a month or of a quarter (whole days or some hours)."""

    active_on_holidays_by_default = False

    def __init__(
        self,
        kind: str,
        count: int,
        hours: str | None = None,
        months: Sequence[int] = (3, 6, 9, 12),
    ) -> None:
        if kind not in {"month_end", "month_start", "quarter_end"}:
            raise ValueError(f"unknown business-day rule {kind!r}")
        self.kind = kind
        self.count = count
        self.hours = hours
        self.months = frozenset(months)

    def selects(self, day: date, business_days: BusinessDays) -> bool:
        if self.kind == "month_end":
            return day in business_days.last_of_month(day.year, day.month, self.count)
        if self.kind == "month_start":
            return day in business_days.first_of_month(day.year, day.month, self.count)
        return day in self._quarter_days(day, business_days)

    def _quarter_days(self, day: date, business_days: BusinessDays) -> tuple[date, ...]:
        # The selection may reach back into the previous month, so look at this month's and the
        # next month's quarter ends.
        found: tuple[date, ...] = ()
        for offset in (0, 1, 2):
            month_index = day.month - 1 + offset
            year, month = day.year + month_index // 12, month_index % 12 + 1
            if month in self.months:
                end = date(year + month // 12, month % 12 + 1, 1) - _ONE_DAY
                found += business_days.last_before(end, self.count)
        return found

    def intervals(self, context: DayContext) -> list[Interval]:
        found = []
        for anchor in (context.day - _ONE_DAY, context.day):
            if not self.selects(anchor, context.business_days):
                continue
            if self.hours is None:
                found.append(day_bounds(anchor, context.tz))
            else:
                start, end = (part.strip() for part in self.hours.split("-"))
                found.append(wall_window(anchor, start, end, context.tz))
        return found

    def describe(self) -> str:
        where = {
            "month_end": "last {n} business days of the month",
            "month_start": "first {n} business days of the month",
            "quarter_end": "last {n} business days of the quarter",
        }[self.kind].format(n=self.count)
        return where + (f", {self.hours}" if self.hours else "")


class RecurrenceRule:
    """Occurrences of an RFC 5545 RRULE in local wall time, each lasting a fixed duration."""

    active_on_holidays_by_default = True

    def __init__(self, text: str, start: datetime, duration: Span, tz: ZoneInfo) -> None:
        if start.tzinfo is not None:
            start = start.astimezone(tz).replace(tzinfo=None)
        self.text = text
        self.start = start
        self.duration = duration
        self.tz = tz
        body = text.strip().removeprefix("RRULE:")
        if "DTSTART" in body.upper():
            raise ValueError("put the first occurrence in `start`, not DTSTART inside the rule")
        body = _UNTIL_UTC.sub(lambda match: _until_as_wall_time(match, tz), body)
        # Generating in naive wall time keeps 09:00 at 09:00 on both sides of a DST change.
        parsed = rrulestr(body, dtstart=start, cache=True)
        if not isinstance(parsed, rrule):
            raise ValueError("expected a single RRULE")
        self._rule = parsed

    def intervals(self, context: DayContext) -> list[Interval]:
        local_start = context.start.astimezone(self.tz).replace(tzinfo=None)
        local_end = context.end.astimezone(self.tz).replace(tzinfo=None)
        earliest = local_start - self.duration.longest - _ONE_DAY
        found = []
        for occurrence in self._rule.between(earliest, local_end, inc=True):
            begins = local_instant(occurrence.date(), occurrence.time(), self.tz)
            found.append((begins, self.duration.end_of(begins, self.tz)))
        return found

    def describe(self) -> str:
        return f"rrule {self.text} from {self.start:%Y-%m-%d %H:%M}"


_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


def _until_as_wall_time(match: re.Match[str], tz: ZoneInfo) -> str:
    # RFC 5545 writes UNTIL in UTC when DTSTART has a zone; the rule is generated in wall time,
    # so UNTIL must be the same wall time.
    instant = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return f"UNTIL={instant.astimezone(tz):%Y%m%dT%H%M%S}"


class FixedIntervalsRule:
    """Known intervals, computed once: explicit date ranges and imported iCalendar events."""

    def __init__(
        self, intervals: Sequence[Interval], description: str, on_holidays: bool = True
    ) -> None:
        self._intervals = tuple(sorted(intervals))
        self._description = description
        self.active_on_holidays_by_default = on_holidays

    def intervals(self, context: DayContext) -> list[Interval]:
        return [
            (start, end)
            for start, end in self._intervals
            if start < context.end and end > context.start
        ]

    def describe(self) -> str:
        return self._description


def date_range_interval(start: date | datetime, end: date | datetime, tz: ZoneInfo) -> Interval:
    """Dates include both ends as whole local days; date-times are a half-open interval."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        return _wall_or_aware(start, tz), _wall_or_aware(end, tz)
    first = start.date() if isinstance(start, datetime) else start
    last = end.date() if isinstance(end, datetime) else end
    return day_bounds(first, tz)[0], day_bounds(last, tz)[1]


def _wall_or_aware(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return local_instant(value.date(), value.time(), tz)

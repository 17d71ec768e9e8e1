"""Turn a validated `CalendarDocument` into a `BusinessCalendar`, reporting library-level errors
(time zone, holiday country, RRULE, iCalendar text) with the document path they came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from impactline.core.calendar.business_calendar import BusinessCalendar, NamedWeight, Period
from impactline.core.calendar.business_days import BusinessDays, HolidayTable
from impactline.core.calendar.clock import Span
from impactline.core.calendar.document import (
    WEEKDAYS,
    CalendarDocument,
    PeriodDocument,
)
from impactline.core.calendar.errors import CalendarError, Problem, from_validation_error
from impactline.core.calendar.ics import IcsRule
from impactline.core.calendar.rules import (
    BusinessDayRule,
    FixedIntervalsRule,
    PeriodRule,
    RecurrenceRule,
    WeeklyRule,
    WeeklyWindowRule,
    date_range_interval,
)


def build_calendar(name: str, mapping: Mapping[str, Any], source: str) -> BusinessCalendar:
    if not isinstance(mapping, Mapping):
        raise CalendarError.single(
            source, "", f"expected a mapping at the top level, got {type(mapping).__name__}"
        )
    try:
        document = CalendarDocument.model_validate(dict(mapping))
    except ValidationError as error:
        raise from_validation_error(source, error) from None
    if document.name is not None and document.name != name:
        raise CalendarError.single(
            source, "name", f"expected {name!r} to match the calendar's name, got {document.name!r}"
        )

    tz = _zone(document.timezone, source)
    problems: list[Problem] = []
    holidays = HolidayTable()
    if document.holidays is not None:
        try:
            holidays = HolidayTable(
                document.holidays.country,
                document.holidays.subdivision,
                document.holidays.explicit(),
            )
        except ValueError as error:
            problems.append(Problem("holidays.country", f"{error}; expected an ISO 3166 code"))

    periods = []
    for index, period in enumerate(document.periods):
        path = f"periods[{index}].{period.rule_key}"
        try:
            rule = _rule(period, tz)
        except RuleProblem as error:
            problems.append(Problem(f"{path}.{error.key}", str(error)))
            continue
        except ValueError as error:
            problems.append(Problem(path, str(error)))
            continue
        on_holidays = (
            period.on_holidays
            if period.on_holidays is not None
            else rule.active_on_holidays_by_default
        )
        periods.append(Period(period.name, period.weight, rule, on_holidays, period.description))
    if problems:
        raise CalendarError(source, problems)

    workdays = {WEEKDAYS.index(day) for day in document.workdays}
    holiday_period = (
        NamedWeight(document.holidays.name, document.holidays.weight)
        if document.holidays is not None
        else None
    )
    return BusinessCalendar(
        name=name,
        tz=tz,
        periods=periods,
        baseline=NamedWeight(document.baseline.name, document.baseline.weight),
        business_days=BusinessDays(workdays, holidays),
        holiday_period=holiday_period,
        description=document.description,
    )


class RuleProblem(ValueError):
    """A rule that does not build, with the key inside the rule that is wrong."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _zone(key: str, source: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError.single(
            source,
            "timezone",
            f"unknown time zone {key!r}; expected an IANA name such as Europe/London",
        ) from None


def _rule(period: PeriodDocument, tz: ZoneInfo) -> PeriodRule:
    if period.weekly is not None:
        return WeeklyRule(
            [
                WeeklyWindowRule(
                    frozenset(WEEKDAYS.index(day) for day in window.days), window.start, window.end
                )
                for window in period.weekly
            ]
        )
    for kind in ("month_end", "month_start"):
        selection = getattr(period, kind)
        if selection is not None:
            return BusinessDayRule(kind, selection.business_days, selection.hours)
    if period.quarter_end is not None:
        quarter = period.quarter_end
        return BusinessDayRule("quarter_end", quarter.business_days, quarter.hours, quarter.months)
    if period.rrule is not None:
        recurrence = period.rrule
        try:
            duration = Span.parse(recurrence.duration)
        except ValueError as error:
            raise RuleProblem("duration", str(error)) from None
        try:
            return RecurrenceRule(recurrence.rule, recurrence.start, duration, tz)
        except (ValueError, TypeError) as error:
            raise RuleProblem("rule", f"not a valid RFC 5545 RRULE: {error}") from None
    if period.dates is not None:
        intervals = [date_range_interval(item.start, item.end, tz) for item in period.dates]
        count = len(intervals)
        return FixedIntervalsRule(intervals, f"{count} explicit date range(s)")
    assert period.ics is not None
    if period.ics.content is None:
        raise ValueError(
            f"the iCalendar file {period.ics.file!r} was not read; load the calendar with "
            "load_calendar() or put the text in `content`"
        )
    return IcsRule(period.ics.content, tz, period.ics.match)

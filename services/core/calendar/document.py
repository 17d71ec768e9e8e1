"""The YAML shape of a business calendar, validated with pydantic.

Only shape and value ranges are checked here; `BusinessCalendar.from_document` then builds the
rules and reports anything that needs a library to judge (time zone, holiday country, RRULE text)
with the same path notation.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

RULE_KEYS = ("weekly", "month_end", "month_start", "quarter_end", "rrule", "dates", "ics")

_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
_NAME = r"^[a-z0-9][a-z0-9-]*$"


def _clock_text(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 18:00 as the base-60 integer 1080; turn it back into a clock.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    return value


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"expected a 24-hour clock time HH:MM (00:00 to 24:00), got {value!r}")
    return value


def _check_hours(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    parts = value.split("-")
    if len(parts) != 2:
        raise ValueError(f"expected a time range HH:MM-HH:MM such as 08:00-18:00, got {value!r}")
    for part in parts:
        _check_clock(part.strip())
    return value


def _clock(value: Any) -> Any:
    value = _clock_text(value)
    return _check_clock(value) if isinstance(value, str) else value


Clock = Annotated[str, BeforeValidator(_clock)]
Hours = Annotated[str, BeforeValidator(_check_hours)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WeeklyWindow(Strict):
    """Hours on some weekdays; `to` before `from` runs past midnight into the next day."""

    days: list[Weekday] = Field(min_length=1)
    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyWindow:
        if self.start == self.end:
            raise ValueError(f"from and to are both {self.start}; expected a window longer than 0")
        return self


class BusinessDaySelection(Strict):
    """The first or last N business days of a month; the whole day unless `hours` narrows it."""

    business_days: int = Field(ge=1, le=23)
    hours: Hours | None = None


class QuarterEndSelection(BusinessDaySelection):
    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(
        default_factory=lambda: [3, 6, 9, 12], min_length=1
    )


class RecurrenceDocument(Strict):
    """An RFC 5545 RRULE, first occurrence at `start` (local wall time), each lasting `duration`."""

    rule: str = Field(min_length=1)
    start: datetime
    duration: str


def _date_or_datetime(value: Any) -> date | datetime:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            is_plain_date = len(value.strip()) == 10
            return parsed.date() if is_plain_date else parsed
    raise ValueError(
        f"expected a date such as 2026-12-24 or a local date-time such as 2026-12-24T09:00, "
        f"got {value!r}"
    )


def _holiday_dates(value: Any) -> Any:
    # A plain list of dates is allowed; each then gets a generic name.
    if isinstance(value, list):
        return {_date_or_datetime(item): "holiday" for item in value}
    return value


DateOrDateTime = Annotated[date | datetime, BeforeValidator(_date_or_datetime)]


class DateRange(Strict):
    """Dates are whole local days, both ends included; date-times are a half-open interval."""

    start: DateOrDateTime
    end: DateOrDateTime

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if isinstance(self.start, datetime) != isinstance(self.end, datetime):
            raise ValueError("expected start and end to be both dates or both date-times")
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class IcsImport(Strict):
    """Events of an iCalendar file; `file` is resolved by the loader, `content` is inline text."""

    file: str | None = None
    content: str | None = None
    match: str | None = Field(default=None, description="regular expression on SUMMARY")

    @model_validator(mode="after")
    def _has_source(self) -> IcsImport:
        if self.file is None and self.content is None:
            raise ValueError("expected `file` (path relative to the calendar file) or `content`")
        if self.match is not None:
            try:
                re.compile(self.match)
            except re.error as error:
                raise ValueError(f"match is not a valid regular expression: {error}") from None
        return self


class PeriodDocument(Strict):
    name: str = Field(pattern=_NAME)
    weight: float = Field(ge=0)
    description: str = ""
    on_holidays: bool | None = None
    weekly: list[WeeklyWindow] | None = Field(default=None, min_length=1)
    month_end: BusinessDaySelection | None = None
    month_start: BusinessDaySelection | None = None
    quarter_end: QuarterEndSelection | None = None
    rrule: RecurrenceDocument | None = None
    dates: list[DateRange] | None = Field(default=None, min_length=1)
    ics: IcsImport | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> PeriodDocument:
        given = [key for key in RULE_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"expected exactly one rule out of {', '.join(RULE_KEYS)}; found {found}"
            )
        return self

    @property
    def rule_key(self) -> str:
        return next(key for key in RULE_KEYS if getattr(self, key) is not None)


class HolidaysDocument(Strict):
    """Public holidays: a `holidays` country (ISO 3166 code) and subdivision, plus extra dates."""

    name: str = Field(default="public-holiday", pattern=_NAME)
    weight: float = Field(ge=0)
    country: str | None = None
    subdivision: str | None = None
    dates: Annotated[dict[date, str], BeforeValidator(_holiday_dates)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_source(self) -> HolidaysDocument:
        if self.country is None and not self.dates:
            raise ValueError("expected a `country`, explicit `dates`, or both")
        if self.subdivision is not None and self.country is None:
            raise ValueError("a subdivision needs a country")
        return self

    def explicit(self) -> dict[date, str]:
        return dict(self.dates)


class BaselineDocument(Strict):
    """What applies when no period is active."""

    name: str = Field(default="off-hours", pattern=_NAME)
    weight: float = Field(ge=0)


class CalendarDocument(Strict):
    name: str | None = Field(default=None, pattern=_NAME)
    description: str = ""
    timezone: str
    workdays: list[Weekday] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1
    )
    baseline: BaselineDocument
    holidays: HolidaysDocument | None = None
    periods: list[PeriodDocument] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> CalendarDocument:
        seen = {self.baseline.name: "baseline"}
        if self.holidays is not None:
            if self.holidays.name in seen:
                raise ValueError(f"holidays.name {self.holidays.name!r} is already the baseline")
            seen[self.holidays.name] = "holidays"
        for index, period in enumerate(self.periods):
            if period.name in seen:
                raise ValueError(
                    f"periods[{index}].name {period.name!r} is already used by {seen[period.name]}"
                )
            seen[period.name] = f"periods[{index}]"
        return self

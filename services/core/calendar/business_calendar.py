"""`BusinessCalendar`: the weight of an instant, and when that weight next changes.

Overlap rule (the only one): on a public holiday every period that is not `on_holidays` is
suppressed and the holiday period is active for the whole local day; of the periods then active
the one with the highest weight wins, ties going to the period declared first (the holiday period
counts as declared last); when none is active the baseline applies.

Each local day is resolved once into a short list of segments of constant weight and kept in an
LRU cache, so `weight_at` is a dictionary hit plus a binary search.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from impactline.core.calendar.business_days import BusinessDays
from impactline.core.calendar.clock import day_bounds, local_date, require_aware
from impactline.core.calendar.rules import DayContext, PeriodRule

DEFAULT_HORIZON = timedelta(days=400)
# Local days `next_change_after` resolves at most, whatever the horizon: a calendar whose weight
# never changes would otherwise be scanned day by day up to any far-away instant asked for.
MAX_SCAN_DAYS = 3700


# The last instant a walk may reach: a day later would not be a valid date any more.
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


@dataclass(frozen=True, slots=True)
class CalendarWeight:
    """The calendar's verdict for one instant.

    `periods` lists every active period, winner first (highest weight, then declaration order);
    `period` is the winner, or the baseline when nothing is active.
    """

    weight: float
    period: str
    periods: tuple[str, ...]
    tz: str
    holiday: str | None = None


@dataclass(frozen=True, slots=True)
class NamedWeight:
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    weight: float
    rule: PeriodRule
    on_holidays: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class _Day:
    starts: tuple[datetime, ...]
    values: tuple[CalendarWeight, ...]


class BusinessCalendar:
    """Named, weighted periods in one time zone. Immutable once built."""

    def __init__(
        self,
        name: str,
        tz: ZoneInfo,
        periods: Sequence[Period],
        baseline: NamedWeight,
        business_days: BusinessDays,
        holiday_period: NamedWeight | None = None,
        description: str = "",
        cache_days: int = 1024,
    ) -> None:
        self.name = name
        self.tz = tz
        self.description = description
        self.periods = tuple(periods)
        self.baseline = baseline
        self.holiday_period = holiday_period
        self.business_days = business_days
        self._weights = {period.name: period.weight for period in self.periods}
        self._weights[baseline.name] = baseline.weight
        if holiday_period is not None:
            self._weights[holiday_period.name] = holiday_period.weight
        self._day = lru_cache(maxsize=cache_days)(self._resolve_day)

    @classmethod
    def from_document(
        cls, name: str, mapping: Mapping[str, Any], *, source: str | None = None
    ) -> BusinessCalendar:
        """Validate a parsed YAML/JSON mapping and build the calendar.

        Raises `CalendarError` naming `source` (default: the calendar name), the path inside the
        document and what was expected. An `ics` period needs inline `content` here; the file
        loader fills it in from `file`.
        """
        from impactline.core.calendar.build import build_calendar

        return build_calendar(name, mapping, source=source or name)

    @property
    def timezone(self) -> str:
        return self.tz.key

    def period_weight(self, name: str) -> float:
        """The configured weight of a period, the baseline or the holiday period."""
        try:
            return self._weights[name]
        except KeyError:
            raise KeyError(f"calendar {self.name!r} has no period {name!r}") from None

    def local_time(self, instant: datetime) -> datetime:
        return require_aware(instant).astimezone(self.tz)

    def is_business_day(self, day: date) -> bool:
        return self.business_days.is_business_day(day)

    def holiday_name(self, day: date) -> str | None:
        return self.business_days.holidays.name(day)

    def weight_at(self, instant: datetime) -> CalendarWeight:
        """The weight in force at an aware instant."""
        instant = require_aware(instant)
        day = self._day(local_date(instant, self.tz))
        index = max(bisect_right(day.starts, instant) - 1, 0)
        return day.values[index]

    def next_change_after(
        self, instant: datetime, horizon: timedelta = DEFAULT_HORIZON
    ) -> datetime | None:
        """The first instant after `instant` at which `weight_at` gives a different answer
        (weight, winning period, active periods or holiday), or None within `horizon`. At most
        MAX_SCAN_DAYS local days are looked at, so a longer horizon is cut to about ten years."""
        instant = require_aware(instant)
        current = self.weight_at(instant)
        day_number = local_date(instant, self.tz)
        horizon = min(horizon, timedelta(days=MAX_SCAN_DAYS))
        last_day = local_date(min(instant + horizon, _LATEST), self.tz)
        day = self._day(day_number)
        index = bisect_right(day.starts, instant)
        while True:
            for start, value in zip(day.starts[index:], day.values[index:], strict=True):
                if value != current and start > instant:
                    return start
            if day_number >= last_day:
                return None
            day_number += timedelta(days=1)
            day, index = self._day(day_number), 0

    def _resolve_day(self, day: date) -> _Day:
        start, end = day_bounds(day, self.tz)
        holiday = self.business_days.holidays.name(day)
        context = DayContext(day, start, end, self.tz, self.business_days)
        spans: list[tuple[int, datetime, datetime]] = []
        for index, period in enumerate(self.periods):
            if holiday is not None and not period.on_holidays:
                continue
            for begins, ends in period.rule.intervals(context):
                begins, ends = max(begins, start), min(ends, end)
                if begins < ends:
                    spans.append((index, begins, ends))
        if holiday is not None and self.holiday_period is not None:
            spans.append((len(self.periods), start, end))

        boundaries = sorted({start, *(b for _, b, _ in spans), *(e for _, _, e in spans)} - {end})
        starts: list[datetime] = []
        values: list[CalendarWeight] = []
        for boundary in boundaries:
            active = sorted({index for index, b, e in spans if b <= boundary < e})
            value = self._verdict(active, holiday)
            if not values or values[-1] != value:
                starts.append(boundary)
                values.append(value)
        return _Day(tuple(starts), tuple(values))

    def _verdict(self, active: Sequence[int], holiday: str | None) -> CalendarWeight:
        named = [self._named(index) for index in active]
        if not named:
            return CalendarWeight(
                self.baseline.weight,
                self.baseline.name,
                (self.baseline.name,),
                self.timezone,
                holiday,
            )
        # sorted() is stable, so equal weights keep declaration order.
        ranked = sorted(named, key=lambda item: -item.weight)
        return CalendarWeight(
            ranked[0].weight,
            ranked[0].name,
            tuple(item.name for item in ranked),
            self.timezone,
            holiday,
        )

    def _named(self, index: int) -> NamedWeight:
        if index == len(self.periods):
            assert self.holiday_period is not None
            return self.holiday_period
        period = self.periods[index]
        return NamedWeight(period.name, period.weight)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.timezone}, {len(self.periods)} periods)"

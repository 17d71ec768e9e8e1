"""Which local dates are business days: workdays that are not public holidays."""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import holidays as holiday_tables

_PROBE_YEAR = 2000
"""Any year will do to learn whether the country and subdivision are known."""


class HolidayTable:
    """Public holidays of one country/subdivision plus explicitly listed dates.

    The tables of the `holidays` library are computed per year on first use and kept.
    """

    def __init__(
        self,
        country: str | None = None,
        subdivision: str | None = None,
        extra: Mapping[date, str] | None = None,
    ) -> None:
        self.country = country
        self.subdivision = subdivision
        self._extra = dict(extra or {})
        self._by_year: dict[int, Mapping[date, str]] = {}
        if country is not None:
            # Fail at construction, not at the first lookup in the middle of a stream.
            self._build(_PROBE_YEAR)

    def _table(self, year: int) -> Mapping[date, str]:
        table = self._by_year.get(year)
        if table is None:
            table = self._build(year)
            self._by_year[year] = table
        return table

    def _build(self, year: int) -> Mapping[date, str]:
        if self.country is None:
            return {}
        try:
            generated: Any = holiday_tables.country_holidays(
                self.country, subdiv=self.subdivision, years=year
            )
        except NotImplementedError as error:
            raise ValueError(str(error)) from None
        return {day: str(name) for day, name in generated.items()}

    def name(self, day: date) -> str | None:
        """The holiday's name, or None on an ordinary day."""
        explicit = self._extra.get(day)
        if explicit is not None:
            return explicit
        return self._table(day.year).get(day)


class BusinessDays:
    """Business-day arithmetic over a set of workdays (0 = Monday) and a holiday table."""

    def __init__(self, workdays: Iterable[int], holidays: HolidayTable) -> None:
        self.workdays = frozenset(workdays)
        self.holidays = holidays
        self._month_days: dict[tuple[int, int], tuple[date, ...]] = {}

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and self.holidays.name(day) is None

    def in_month(self, year: int, month: int) -> tuple[date, ...]:
        """Every business day of the month, in order."""
        key = (year, month)
        days = self._month_days.get(key)
        if days is None:
            length = gregorian.monthrange(year, month)[1]
            candidates = (date(year, month, number) for number in range(1, length + 1))
            days = tuple(day for day in candidates if self.is_business_day(day))
            self._month_days[key] = days
        return days

    def last_of_month(self, year: int, month: int, count: int) -> tuple[date, ...]:
        return self.in_month(year, month)[-count:]

    def first_of_month(self, year: int, month: int, count: int) -> tuple[date, ...]:
        return self.in_month(year, month)[:count]

    def last_before(self, end: date, count: int) -> tuple[date, ...]:
        """The last `count` business days on or before `end`, oldest first.

        Walks back across month boundaries, so a quarter end with few business days in its final
        month still gets `count` days.
        """
        found: list[date] = []
        day = end
        # A bound on the walk keeps a calendar with no workdays at all from looping forever.
        for _ in range(count * 7 + 60):
            if len(found) == count:
                break
            if self.is_business_day(day):
                found.append(day)
            day -= timedelta(days=1)
        return tuple(reversed(found))

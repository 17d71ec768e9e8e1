"""Business impact minutes: the integral of the impact rate over an incident's life.

`ImpactAccrual` is an immutable value: every `advance` returns a new one. Given a calendar, an
interval is cut at each instant the calendar's answer changes, and each piece accrues at the rate
in force during that piece, so a month-end close that starts at midnight in the middle of an
incident is counted from exactly midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from impactline.core.calendar import CalendarWeight
from impactline.core.calendar.clock import require_aware
from impactline.core.scoring.impact import RateFunction

_MINUTE = timedelta(minutes=1)
# Calendar segments one advance splits an interval into at most (a few per day: years of event
# time). The rest of a longer interval accrues at the rate of the last segment reached, so an
# event time far from the others costs bounded work instead of a walk over every day between.
MAX_SEGMENTS = 10_000


class WeightSource(Protocol):
    """What the accrual needs from a business calendar."""

    def weight_at(self, instant: datetime) -> CalendarWeight: ...

    def next_change_after(self, instant: datetime, horizon: timedelta = ...) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class ImpactAccrual:
    started_at: datetime
    updated_at: datetime
    impact_minutes: float = 0.0
    last_rate: float = 0.0
    peak_rate: float = 0.0

    @classmethod
    def start(cls, at: datetime) -> ImpactAccrual:
        at = require_aware(at, "start time")
        return cls(started_at=at, updated_at=at)

    @property
    def elapsed(self) -> timedelta:
        return self.updated_at - self.started_at

    def advance(
        self,
        to_time: datetime,
        rate_until_then: float | RateFunction,
        calendar: WeightSource | None = None,
    ) -> ImpactAccrual:
        """Accrue from `updated_at` to `to_time`.

        `rate_until_then` is either a constant rate (already weighted; no calendar) or a function
        of the calendar's answer (see `rate_function`), evaluated on every calendar segment.
        """
        to_time = require_aware(to_time, "to_time")
        if to_time < self.updated_at:
            raise ValueError(
                f"cannot accrue backwards: to_time {to_time.isoformat()} is before the last "
                f"update {self.updated_at.isoformat()}"
            )
        if callable(rate_until_then):
            if calendar is None:
                raise ValueError("a rate function needs the calendar it is evaluated against")
            return self._advance_with(to_time, rate_until_then, calendar)
        if calendar is not None:
            raise ValueError(
                "a constant rate is already weighted; pass a rate function to split by calendar"
            )
        if rate_until_then < 0:
            raise ValueError(f"an impact rate cannot be negative, got {rate_until_then}")
        return self._accrue(to_time, [(to_time - self.updated_at, float(rate_until_then))])

    def _advance_with(
        self, to_time: datetime, rate: RateFunction, calendar: WeightSource
    ) -> ImpactAccrual:
        pieces: list[tuple[timedelta, float]] = []
        cursor = self.updated_at
        while cursor < to_time:
            change = calendar.next_change_after(cursor, horizon=to_time - cursor + timedelta(1))
            piece_end = min(change, to_time) if change is not None else to_time
            if len(pieces) + 1 >= MAX_SEGMENTS:
                piece_end = to_time
            value = rate(calendar.weight_at(cursor))
            if value < 0:
                raise ValueError(f"an impact rate cannot be negative, got {value}")
            pieces.append((piece_end - cursor, value))
            cursor = piece_end
        if not pieces:
            return self
        return self._accrue(to_time, pieces)

    def _accrue(self, to_time: datetime, pieces: list[tuple[timedelta, float]]) -> ImpactAccrual:
        if to_time == self.updated_at:
            return self
        added = sum((length / _MINUTE) * value for length, value in pieces)
        return replace(
            self,
            updated_at=to_time,
            impact_minutes=self.impact_minutes + added,
            last_rate=pieces[-1][1],
            peak_rate=max(self.peak_rate, *(value for _, value in pieces)),
        )

"""Wall-clock arithmetic in a calendar's time zone, exact across DST transitions.

Every instant handed out by this module is an aware UTC datetime, so comparisons and sorting
never depend on the zone's offset rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_ONE_SECOND = timedelta(seconds=1)


def local_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the clock in `tz` shows `wall` on `day`.

    An ambiguous wall time (the repeated hour when clocks go back) resolves to its first
    occurrence. A wall time the clock skips (clocks go forward) resolves to the instant the clock
    jumps over it, which is the first instant whose wall time is at or past the requested one.
    """
    naive = datetime.combine(day, wall)
    earlier_offset = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if earlier_offset.astimezone(tz).replace(tzinfo=None) == naive:
        return earlier_offset
    later_offset = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _transition_between(
        min(earlier_offset, later_offset), max(earlier_offset, later_offset), tz
    )


def _transition_between(low: datetime, high: datetime, tz: ZoneInfo) -> datetime:
    # zoneinfo does not expose its transition table, so bisect on the offset: the gap is at
    # most a few hours wide, which takes about 14 steps at one-second resolution.
    low_offset = low.astimezone(tz).utcoffset()
    while high - low > _ONE_SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == low_offset:
            low = middle
        else:
            high = middle
    return high


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The half-open UTC interval covered by the local calendar day `day` (23 to 25 hours)."""
    return local_instant(day, time(0), tz), local_instant(day + timedelta(days=1), time(0), tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def require_aware(instant: datetime, what: str = "time") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"{what} {instant.isoformat()} has no time zone; pass an aware datetime "
            "(for example with tzinfo=datetime.UTC or a zoneinfo.ZoneInfo)"
        )
    return instant.astimezone(UTC)


_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class Span:
    """An RFC 5545 duration: whole days are nominal (wall-clock), the time part is exact."""

    days: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Span:
        match = _DURATION.match(text.strip().upper())
        if match is None or text.strip().upper() in {"P", "PT"} or text.strip().endswith("T"):
            raise ValueError(f"expected an ISO 8601 duration such as PT8H or P1D, got {text!r}")
        parts = {key: int(value or 0) for key, value in match.groupdict().items()}
        span = cls(
            days=parts["weeks"] * 7 + parts["days"],
            seconds=parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"],
        )
        if span.days == 0 and span.seconds == 0:
            raise ValueError(f"expected a duration longer than zero, got {text!r}")
        return span

    @property
    def longest(self) -> timedelta:
        """An upper bound of the exact length, whatever DST transitions it crosses."""
        return timedelta(days=self.days, seconds=self.seconds, hours=2 if self.days else 0)

    def end_of(self, start: datetime, tz: ZoneInfo) -> datetime:
        """The UTC end of a span that starts at the aware instant `start`."""
        wall = start.astimezone(tz)
        if self.days:
            shifted = wall.replace(tzinfo=None) + timedelta(days=self.days)
            wall_start = local_instant(shifted.date(), shifted.time(), tz)
        else:
            wall_start = start.astimezone(UTC)
        return wall_start + timedelta(seconds=self.seconds)

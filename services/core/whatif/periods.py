"""The calendar periods a window crosses, each with the stretch of the window it covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from impactline.core.calendar import BusinessCalendar


@dataclass(frozen=True, slots=True)
class PeriodSpan:
    period: str
    weight: float
    start: datetime
    end: datetime
    active: tuple[str, ...]

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def periods_crossed(
    calendar: BusinessCalendar | None, start: datetime, end: datetime
) -> tuple[PeriodSpan, ...]:
    """The winning period of each stretch of constant weight in [start, end), in order; the
    same cuts `ImpactAccrual.advance` makes."""
    if calendar is None:
        return ()
    spans: list[PeriodSpan] = []
    cursor = start
    while cursor < end:
        verdict = calendar.weight_at(cursor)
        change = calendar.next_change_after(cursor, horizon=end - cursor)
        piece_end = min(change, end) if change is not None else end
        last = spans[-1] if spans else None
        if last is not None and (last.period, last.weight) == (verdict.period, verdict.weight):
            spans[-1] = PeriodSpan(last.period, last.weight, last.start, piece_end, last.active)
        else:
            spans.append(
                PeriodSpan(verdict.period, verdict.weight, cursor, piece_end, verdict.periods)
            )
        cursor = piece_end
    return tuple(spans)

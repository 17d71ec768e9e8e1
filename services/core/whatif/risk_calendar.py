"""The risk calendar of a business service: for each of the next days, how much a failure of
the service would weigh at its worst moment (calendar weight x the people it would reach).

Each local day of the service's calendar is cut where the calendar's answer changes; each
stretch is read by the impact engine's own `read` for the service down, so the figure is the
impact rate the live system would report for a full outage at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from impactline.core.calendar.clock import local_instant
from impactline.core.impact import ImpactEngine
from impactline.core.impact.reading import read
from impactline.core.states import State
from impactline.core.whatif.errors import WhatIfError
from impactline.core.whatif.periods import periods_crossed

MAX_DAYS = 92


@dataclass(frozen=True, slots=True)
class RiskDay:
    day: date
    peak_rate: float
    """Impact rate of a full outage at the day's worst moment."""
    peak_period: str | None
    peak_weight: float | None
    users: int
    """People reached at that moment."""
    periods: tuple[tuple[str, float, float], ...]
    """(period, weight, hours) of the day, in order of first appearance."""
    level: int = 0
    """0 (calmest) to 4 (riskiest), relative to the heaviest day shown."""


def risk_calendar(
    engine: ImpactEngine, service_id: str, first: date, days: int
) -> tuple[RiskDay, ...]:
    if not 1 <= days <= MAX_DAYS:
        raise WhatIfError("days", f"expected 1 to {MAX_DAYS}, got {days}")
    view = engine.view(service_id)
    if view is None:
        raise WhatIfError("service_id", f"no business service {service_id!r} in the catalog")
    found: list[RiskDay] = []
    for n in range(days):
        day = first + timedelta(days=n)
        tz = view.calendar.tz if view.calendar is not None else None
        start = (
            local_instant(day, time(0), tz) if tz else datetime.combine(day, time(0), tzinfo=UTC)
        )
        end = (
            local_instant(day + timedelta(days=1), time(0), tz) if tz else start + timedelta(days=1)
        )
        spans = periods_crossed(view.calendar, start, end)
        readings = [read(view, State.DOWN, s.start, engine.config) for s in spans] or [
            read(view, State.DOWN, start, engine.config)
        ]
        worst = max(readings, key=lambda r: r.assessment.rate.rate)
        hours: dict[tuple[str, float], float] = {}
        for s in spans:
            hours[(s.period, s.weight)] = hours.get((s.period, s.weight), 0.0) + s.minutes / 60
        found.append(
            RiskDay(
                day=day,
                peak_rate=worst.assessment.rate.rate,
                peak_period=worst.verdict.period if worst.verdict else None,
                peak_weight=worst.verdict.weight if worst.verdict else None,
                users=worst.assessment.rate.affected_users,
                periods=tuple((p, w, h) for (p, w), h in hours.items()),
            )
        )
    top = max((d.peak_rate for d in found), default=0.0)
    return tuple(RiskDay(**{**_fields(d), "level": _level(d.peak_rate, top)}) for d in found)


def _fields(d: RiskDay) -> dict[str, object]:
    return {
        "day": d.day,
        "peak_rate": d.peak_rate,
        "peak_period": d.peak_period,
        "peak_weight": d.peak_weight,
        "users": d.users,
        "periods": d.periods,
    }


def _level(rate: float, top: float) -> int:
    if top <= 0 or rate <= 0:
        return 0
    return min(4, max(1, round(4 * rate / top)))

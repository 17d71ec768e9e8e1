"""A hypothetical failure played through the live engine, in memory.

Given CI states (`db-gl-01 down`), a start and a duration, `simulate` feeds the same pure
processors the stream workers run (`Pipeline`: correlation, then impact, each behind an event
clock) with one telemetry event per CI at the start and its recovery at the end, moves event
time on accrual step by accrual step, and reads what they publish: the affected business
services, users, personas, calendar periods and weights, the impact rate over time, business
impact minutes, priority and visibility at each moment. No figure is computed here; every one
comes from an impact event the live system would publish for the same telemetry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from impactline.core.calendar.clock import require_aware
from impactline.core.contracts import ImpactEvent, TelemetryEvent, derived_id
from impactline.core.states import State
from impactline.core.whatif.errors import WhatIfError
from impactline.core.whatif.model import WhatIfModel
from impactline.core.whatif.periods import PeriodSpan, periods_crossed

MAX_DURATION = timedelta(days=7)
SOURCE = "what-if"


@dataclass(frozen=True, slots=True)
class Condition:
    """A CI assumed to be in `state` (`down`, `degraded`) for the whole simulation."""

    ci_id: str
    state: State


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One impact event of a service, as a point of its impact curve."""

    time: datetime
    reason: str
    state: State
    impact_rate: float
    business_impact_minutes: float
    priority: str | None
    high_visibility: bool
    period: str | None
    weight: float | None
    users_affected: int
    planned: bool = False
    """Only planned work (a maintenance window) causes the impact: nothing pages."""


@dataclass(frozen=True, slots=True)
class ServiceOutlook:
    service_id: str
    service_name: str
    business_domain: str
    tier: int
    curve: tuple[CurvePoint, ...]
    periods: tuple[PeriodSpan, ...]
    personas: tuple[str, ...]
    visibility_reasons: tuple[str, ...]

    @property
    def business_impact_minutes(self) -> float:
        return self.curve[-1].business_impact_minutes if self.curve else 0.0

    @property
    def users_affected(self) -> int:
        return max((p.users_affected for p in self.curve), default=0)

    @property
    def peak_rate(self) -> float:
        return max((p.impact_rate for p in self.curve), default=0.0)

    @property
    def worst_priority(self) -> str | None:
        ranked = sorted(p.priority for p in self.curve if p.priority is not None)
        return ranked[0] if ranked else None

    @property
    def high_visibility(self) -> bool:
        return any(p.high_visibility for p in self.curve)

    @property
    def planned(self) -> bool:
        """Every impact event of the window is marked planned."""
        return bool(self.curve) and all(p.planned for p in self.curve)


@dataclass(frozen=True, slots=True)
class Simulation:
    start: datetime
    end: datetime
    conditions: tuple[Condition, ...]
    telemetry: tuple[TelemetryEvent, ...]
    """What was fed in: the failures at the start, the recoveries at the end."""
    impacts: tuple[ImpactEvent, ...]
    """Every impact event the live system would publish, in order."""
    services: tuple[ServiceOutlook, ...]
    """The business services hurt, most business impact minutes first."""

    @property
    def business_impact_minutes(self) -> float:
        return sum(s.business_impact_minutes for s in self.services)

    @property
    def users_affected(self) -> int:
        return sum(s.users_affected for s in self.services)

    @property
    def worst_priority(self) -> str | None:
        ranked = sorted(p for s in self.services if (p := s.worst_priority) is not None)
        return ranked[0] if ranked else None

    @property
    def high_visibility(self) -> bool:
        return any(s.high_visibility for s in self.services)


def check_conditions(model: WhatIfModel, conditions: Sequence[Condition]) -> tuple[Condition, ...]:
    """The conditions, refused with the field at fault when a CI is unknown or not failing."""
    if not conditions:
        raise WhatIfError("cis", "name at least one CI and the state it is assumed to be in")
    seen: dict[str, Condition] = {}
    for n, condition in enumerate(conditions):
        if condition.ci_id not in model.catalog.cis:
            raise WhatIfError(f"cis[{n}].ci_id", f"no CI {condition.ci_id!r} in the catalog")
        if condition.state not in (State.DOWN, State.DEGRADED):
            raise WhatIfError(
                f"cis[{n}].state", f"expected down or degraded, got {condition.state.value!r}"
            )
        if condition.ci_id in seen:
            raise WhatIfError(f"cis[{n}].ci_id", f"{condition.ci_id!r} is named twice")
        seen[condition.ci_id] = condition
    return tuple(seen.values())


def check_window(start: datetime, duration: timedelta) -> datetime:
    """The start in UTC; refused when naive or when the duration is not positive or too long."""
    if start.tzinfo is None:
        raise WhatIfError("start", "expected a time with a UTC offset, e.g. 2026-11-30T10:00Z")
    if duration <= timedelta(0):
        raise WhatIfError("duration", f"expected a positive duration, got {duration}")
    if duration > MAX_DURATION:
        raise WhatIfError("duration", f"expected at most {MAX_DURATION.days} days, got {duration}")
    return require_aware(start, "start").astimezone(UTC)


def failure_events(
    conditions: Iterable[Condition], start: datetime, end: datetime
) -> tuple[TelemetryEvent, ...]:
    """The telemetry the live system would receive: each CI failing at `start`, recovered at
    `end`. Ids derive from the condition and the window, so a replay of them is idempotent."""
    events: list[TelemetryEvent] = []
    for at, recovered in ((start, False), (end, True)):
        for c in conditions:
            state = State.OK if recovered else c.state
            events.append(
                TelemetryEvent(
                    id=derived_id(SOURCE, c.ci_id, c.state.value, start.isoformat(), str(at)),
                    ci_id=c.ci_id,
                    state=state,
                    time=at,
                    source=SOURCE,
                    summary=f"what-if: {c.ci_id} {state.value}",
                )
            )
    return tuple(events)


def simulate(
    model: WhatIfModel,
    conditions: Sequence[Condition],
    start: datetime,
    duration: timedelta,
) -> Simulation:
    """What the live system would publish if `conditions` held from `start` for `duration`."""
    conditions = check_conditions(model, conditions)
    start = check_window(start, duration)
    end = start + duration
    telemetry = failure_events(conditions, start, end)
    failures, recoveries = telemetry[: len(conditions)], telemetry[len(conditions) :]
    run = model.pipeline()
    outputs = []
    for event in failures:
        outputs += run.event(event, start)
    # Event time moves on one accrual step at a time, as a live partition's watermark would;
    # each step fires the accruals, calendar boundaries and evaluations due by then.
    at = start
    while at + model.accrual_period < end:
        at += model.accrual_period
        outputs += run.run_until(at)
    for event in recoveries:
        outputs += run.event(event, end)
    outputs += run.run_until(end + settle_time(model))
    if run.refused:
        event, reason = run.refused[0]
        raise WhatIfError("cis", f"the engine refused {type(event).__name__}: {reason}")
    impacts = tuple(o.event for o in outputs if isinstance(o.event, ImpactEvent))
    # One impact event goes to several topics; the curve takes each once.
    unique = tuple({e.id: e for e in impacts}.values())
    return Simulation(
        start=start,
        end=end,
        conditions=conditions,
        telemetry=telemetry,
        impacts=unique,
        services=outlooks(model, unique, start, end),
    )


def settle_time(model: WhatIfModel) -> timedelta:
    """How long after the recovery the last timers (resolve holds, confirmations) may run."""
    correlation = model.correlation
    return (
        correlation.lifecycle.resolve_hold
        + correlation.damping.confirm_after
        + timedelta(minutes=1)
    )


def outlooks(
    model: WhatIfModel, impacts: Sequence[ImpactEvent], start: datetime, end: datetime
) -> tuple[ServiceOutlook, ...]:
    by_service: dict[str, list[ImpactEvent]] = {}
    for event in impacts:
        by_service.setdefault(event.service_id, []).append(event)
    found = []
    for service_id, events in by_service.items():
        first = events[0]
        personas = tuple(dict.fromkeys(p for e in events for p in e.personas_affected))
        reasons = tuple(dict.fromkeys(r for e in events for r in e.visibility_reasons))
        calendar = model.calendars.get(model.catalog.services[service_id].calendar or "")
        found.append(
            ServiceOutlook(
                service_id=service_id,
                service_name=first.service_name,
                business_domain=first.business_domain,
                tier=first.tier,
                curve=tuple(_point(e) for e in events),
                periods=periods_crossed(calendar, start, end),
                personas=personas,
                visibility_reasons=reasons,
            )
        )
    return tuple(sorted(found, key=lambda s: (-s.business_impact_minutes, s.service_id)))


def _point(event: ImpactEvent) -> CurvePoint:
    return CurvePoint(
        time=event.time,
        reason=str(event.reason),
        state=event.state,
        impact_rate=event.impact_rate,
        business_impact_minutes=event.business_impact_minutes,
        priority=event.priority,
        high_visibility=event.high_visibility,
        period=event.calendar.period if event.calendar is not None else None,
        weight=event.calendar.weight if event.calendar is not None else None,
        users_affected=event.users_affected,
        planned=event.planned,
    )

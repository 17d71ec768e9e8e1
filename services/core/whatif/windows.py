"""The cost of one failure window, scored quickly with the live engine's own steps.

A scan over weeks of candidate windows cannot afford a full pipeline per candidate (each emits
an accrual event a minute). The states of the services a failure reaches do not depend on when
it happens, so they are read once from a simulation; each candidate is then scored exactly as
an impact episode is: `ServiceView.accrual_rate` and `ImpactAccrual.advance` for the business
impact minutes (the calendar cut at every boundary), `read` for users, personas and priority.
`tests/unit/test_whatif.py` checks that a window costs the same here as in `simulate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from impactline.core.impact import ImpactEngine
from impactline.core.impact.reading import read
from impactline.core.scoring import ImpactAccrual
from impactline.core.states import State
from impactline.core.whatif.periods import PeriodSpan, periods_crossed


@dataclass(frozen=True, slots=True)
class ServiceCost:
    service_id: str
    service_name: str
    state: State
    business_impact_minutes: float
    users_affected: int
    personas: tuple[str, ...]
    periods: tuple[PeriodSpan, ...]
    priority: str
    """The priority at the worst moment of the window, before any error-budget burn."""
    high_visibility: bool


@dataclass(frozen=True, slots=True)
class WindowCost:
    start: datetime
    end: datetime
    services: tuple[ServiceCost, ...]

    @property
    def business_impact_minutes(self) -> float:
        return sum(s.business_impact_minutes for s in self.services)

    @property
    def users_affected(self) -> int:
        return sum(s.users_affected for s in self.services)

    @property
    def periods(self) -> tuple[tuple[str, float], ...]:
        """Every (period, weight) crossed by any service, heaviest first."""
        seen = {(p.period, p.weight) for s in self.services for p in s.periods}
        return tuple(sorted(seen, key=lambda pw: (-pw[1], pw[0])))

    @property
    def priority(self) -> str | None:
        return min((s.priority for s in self.services), default=None)

    @property
    def high_visibility(self) -> bool:
        return any(s.high_visibility for s in self.services)


def window_cost(
    engine: ImpactEngine, states: Mapping[str, State], start: datetime, end: datetime
) -> WindowCost:
    """What `states` (business service id -> state) held from `start` to `end` would cost."""
    services = []
    for service_id, state in states.items():
        view = engine.view(service_id)
        if view is None:
            continue
        rate, calendar = view.accrual_rate(state, engine.config)
        accrual = ImpactAccrual.start(start).advance(end, rate, calendar)
        spans = periods_crossed(calendar, start, end)
        # One reading per stretch of constant weight: who is reached and how urgent it is.
        readings = [read(view, state, span.start, engine.config) for span in spans] or [
            read(view, state, start, engine.config)
        ]
        personas = tuple(dict.fromkeys(p for r in readings for p in r.assessment.rate.personas))
        services.append(
            ServiceCost(
                service_id=service_id,
                service_name=view.service.name,
                state=state,
                business_impact_minutes=accrual.impact_minutes,
                users_affected=max(r.assessment.rate.affected_users for r in readings),
                personas=personas,
                periods=spans,
                priority=min(r.priority for r in readings),
                high_visibility=any(r.assessment.visibility.high for r in readings),
            )
        )
    services.sort(key=lambda s: (-s.business_impact_minutes, s.service_id))
    return WindowCost(start, end, tuple(services))

"""Change risk: what a planned change would cost if it went wrong, and when it would cost least.

The planned window is simulated in full (`simulate`): the worst case is the CIs failing for the
whole window. The expected cost is the risk of failure times the cost of the assumed outage
(from the window's start; the whole window unless said otherwise). Candidate windows of the same
length over the next days start on every hour and at every boundary of the affected services'
calendars, are scored with `window_cost` (the live engine's accrual and reading steps) and ranked
by worst-case, then expected business impact minutes, then time; the proposals do not overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from impactline.core.states import State
from impactline.core.whatif.errors import WhatIfError
from impactline.core.whatif.model import WhatIfModel
from impactline.core.whatif.simulation import Condition, Simulation, check_window, simulate
from impactline.core.whatif.windows import WindowCost, window_cost

MAX_DAYS = 90
MIN_STEP = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ChangePlan:
    conditions: tuple[Condition, ...]
    start: datetime
    duration: timedelta
    risk: float = 1.0
    """Probability that the change fails (0..1)."""
    outage: timedelta | None = None
    """How long the CIs would be out if it fails; None: the whole window."""
    days: int = 14
    step: timedelta = timedelta(hours=1)
    proposals: int = 5


@dataclass(frozen=True, slots=True)
class WindowOption:
    rank: int
    cost: WindowCost
    expected_minutes: float
    reasons: tuple[str, ...]
    """Why it ranks there: what it crosses and hits, what it avoids, how it compares."""

    @property
    def explanation(self) -> str:
        return f"#{self.rank}: " + "; ".join(self.reasons)

    @property
    def worst_case_minutes(self) -> float:
        return self.cost.business_impact_minutes


@dataclass(frozen=True, slots=True)
class ChangeAssessment:
    plan: ChangePlan
    scan_from: datetime
    scan_to: datetime
    simulation: Simulation
    """The worst case: the planned window simulated in full."""
    planned: WindowCost
    expected_minutes: float
    options: tuple[WindowOption, ...]
    candidates: int
    """How many windows the scan scored."""

    @property
    def worst_case_minutes(self) -> float:
        return self.simulation.business_impact_minutes

    @property
    def best(self) -> WindowOption | None:
        return self.options[0] if self.options else None

    @property
    def ratio_to_best(self) -> float | None:
        """How many times the best window's worst case the planned window costs."""
        best = self.best
        if best is None or best.worst_case_minutes <= 0:
            return None
        return self.worst_case_minutes / best.worst_case_minutes


def check_plan(plan: ChangePlan) -> None:
    if not 0.0 <= plan.risk <= 1.0:
        raise WhatIfError("risk", f"expected a probability between 0 and 1, got {plan.risk}")
    if plan.outage is not None and not timedelta(0) < plan.outage <= plan.duration:
        raise WhatIfError(
            "outage", f"expected a positive length no longer than the window, got {plan.outage}"
        )
    if not 1 <= plan.days <= MAX_DAYS:
        raise WhatIfError("days", f"expected 1 to {MAX_DAYS} days, got {plan.days}")
    if plan.step < MIN_STEP:
        raise WhatIfError("step", f"expected at least {MIN_STEP}, got {plan.step}")
    if not 1 <= plan.proposals <= 50:
        raise WhatIfError("proposals", f"expected 1 to 50, got {plan.proposals}")


def assess_change(model: WhatIfModel, plan: ChangePlan, scan_from: datetime) -> ChangeAssessment:
    """The planned window's cost, and the least harmful windows in the `plan.days` days from
    `scan_from` (the caller's "now")."""
    check_plan(plan)
    start = check_window(plan.start, plan.duration)
    scan_from = check_window(scan_from, plan.duration).astimezone(UTC)
    simulation = simulate(model, plan.conditions, start, plan.duration)
    states = service_states(simulation)
    engine = model.engine()
    outage = plan.outage or plan.duration
    planned = window_cost(engine, states, start, start + plan.duration)

    def expected(cost: WindowCost) -> float:
        """Risk x the cost of the assumed outage from the window's start."""
        if outage == plan.duration:
            return plan.risk * cost.business_impact_minutes
        short = window_cost(engine, states, cost.start, cost.start + outage)
        return plan.risk * short.business_impact_minutes

    scan_to = scan_from + timedelta(days=plan.days)
    starts = candidate_starts(model, states, scan_from, scan_to - plan.duration, plan.step)
    costs = [window_cost(engine, states, at, at + plan.duration) for at in starts]
    scored = [(c, expected(c)) for c in costs]
    scored.sort(key=_order)
    chosen = _apart(scored, plan.proposals)
    planned_expected = expected(planned)
    options = tuple(
        WindowOption(
            rank=n + 1,
            cost=cost,
            expected_minutes=exp,
            reasons=explain(cost, planned, scored),
        )
        for n, (cost, exp) in enumerate(chosen)
    )
    return ChangeAssessment(
        plan=plan,
        scan_from=scan_from,
        scan_to=scan_to,
        simulation=simulation,
        planned=planned,
        expected_minutes=planned_expected,
        options=options,
        candidates=len(costs),
    )


def service_states(simulation: Simulation) -> dict[str, State]:
    """The state each business service the failure reaches settles in (its worst)."""
    worst: dict[str, State] = {}
    for outlook in simulation.services:
        failing = [p.state for p in outlook.curve if p.state in (State.DOWN, State.DEGRADED)]
        if failing:
            worst[outlook.service_id] = State.DOWN if State.DOWN in failing else State.DEGRADED
    return worst


def candidate_starts(
    model: WhatIfModel,
    states: dict[str, State],
    first: datetime,
    last: datetime,
    step: timedelta,
) -> list[datetime]:
    """Every `step` from `first` (rounded up to the step), and every calendar boundary of the
    affected services in between: a window starting when a heavy period ends is a candidate
    even where the calendar's boundaries do not fall on the hour."""
    grid = int(step.total_seconds())
    epoch = int(first.timestamp())
    at = datetime.fromtimestamp(-(-epoch // grid) * grid, UTC)
    found: set[datetime] = set()
    while at <= last:
        found.add(at)
        at += step
    calendars = {
        model.catalog.services[s].calendar for s in states if model.catalog.services[s].calendar
    }
    for name in calendars:
        calendar = model.calendars.get(name or "")
        if calendar is None:
            continue
        cursor = first
        while True:
            change = calendar.next_change_after(cursor, horizon=last - cursor + timedelta(1))
            if change is None or change > last:
                break
            found.add(change.astimezone(UTC))
            cursor = change
    return sorted(t for t in found if first <= t <= last)


def _apart(
    scored: Sequence[tuple[WindowCost, float]], count: int
) -> list[tuple[WindowCost, float]]:
    """The best `count` windows of which no two overlap, on different days where the ranking
    allows: a board choosing a date wants alternatives, not the next hour of the same night."""
    chosen: list[tuple[WindowCost, float]] = []
    for one_per_day in (True, False):
        for cost, exp in scored:
            if len(chosen) == count:
                return sorted(chosen, key=lambda ce: _order(ce))
            overlaps = any(cost.start < c.end and c.start < cost.end for c, _ in chosen)
            same_day = one_per_day and any(c.start.date() == cost.start.date() for c, _ in chosen)
            if not overlaps and not same_day and (cost, exp) not in chosen:
                chosen.append((cost, exp))
    return sorted(chosen, key=lambda ce: _order(ce))


def _order(scored: tuple[WindowCost, float]) -> tuple[float, float, datetime]:
    cost, exp = scored
    return (round(cost.business_impact_minutes, 6), exp, cost.start)


def explain(
    cost: WindowCost, planned: WindowCost, scored: Sequence[tuple[WindowCost, float]]
) -> tuple[str, ...]:
    """Why a window ranks where it does, in the terms of the calendar and the people hit."""
    periods = ", ".join(f"{p} x{w:g}" for p, w in cost.periods) or "no calendar"
    minutes = cost.business_impact_minutes
    parts = [
        f"crosses {periods}; {cost.users_affected} people in "
        f"{len(cost.services)} service{'s' if len(cost.services) != 1 else ''}; "
        f"{minutes:,.0f} business impact minutes if it fails"
    ]
    avoided = [f"{p} x{w:g}" for p, w in planned.periods if (p, w) not in cost.periods]
    if avoided:
        parts.append("avoids " + ", ".join(avoided))
    if minutes > 0 and planned.business_impact_minutes > minutes:
        parts.append(f"the planned window costs {planned.business_impact_minutes / minutes:.1f}x")
    elif planned.business_impact_minutes <= minutes:
        parts.append("no cheaper than the planned window")
    ties = sum(1 for c, _ in scored if abs(c.business_impact_minutes - minutes) < 1e-6)
    if ties > 1:
        parts.append(f"one of {ties} candidate windows at this cost, earliest first")
    return tuple(parts)

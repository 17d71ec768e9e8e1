"""From projected history and the catalog to what the board and the value-stream pages show.

`HealthModel` reads the store in a few batched queries per page of services and hands the rows
to the pure figures; the catalog, calendars and scoring configuration are passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from impactline.api.health_model import figures as f
from impactline.api.health_model.models import (
    BudgetIncident,
    CalendarNow,
    ErrorBudgetOut,
    ImpactBucket,
    ImpactNow,
    ServiceFigures,
    ServiceStatus,
    Spread,
    XlaOut,
    XlaPoint,
    XlaSignalsOut,
)
from impactline.api.health_model.store import HealthStore
from impactline.core.calendar import BusinessCalendar
from impactline.core.catalog import BusinessService
from impactline.core.impact.profile import profile_for
from impactline.core.scoring import ScoringConfig, ServiceProfile, XlaScore, XlaSignals
from impactline.core.states import State

log = logging.getLogger(__name__)


class HealthModel:
    def __init__(
        self,
        store: HealthStore,
        calendars: Mapping[str, BusinessCalendar],
        scoring: ScoringConfig,
    ) -> None:
        self.store = store
        self.calendars = dict(calendars)
        self.scoring = scoring
        self.factors: dict[State, float] = dict(scoring.factors.state)

    # -- the board ---------------------------------------------------------------------------

    async def status(
        self, services: Sequence[BusinessService], now: datetime, window: timedelta
    ) -> list[ServiceStatus]:
        ids = [s.id for s in services]
        start = now - window
        current = await self.store.service_now(ids)
        latest = await self.store.latest_impact(ids)
        history = await self._history(ids, start, now)
        out = []
        for service in services:
            changes, ledger, feedback = history[service.id]
            profile = profile_for(service)
            spans = f.stretches(f.initial_state(changes), changes, start, now)
            score, spent, signals = f.xla_at(
                profile, self.scoring.xla, spans, self.factors, ledger, feedback, start, now
            )
            row, impact = current.get(service.id), latest.get(service.id)
            state = State(row["state"]) if row else State.OK
            out.append(
                ServiceStatus(
                    id=service.id,
                    name=service.name,
                    business_domain=service.domain,
                    owner=service.owner,
                    tier=service.tier,
                    users=service.users,
                    state=state,
                    state_since=row["since"] if row else None,
                    incident_id=row["incident_id"] if row and state is not State.OK else None,
                    calendar=self.calendar_now(service, now),
                    impact_rate=impact["impact_rate"]
                    if impact and impact["state"] != State.OK.value and state is not State.OK
                    else 0.0,
                    impact=ImpactNow(**_impact_fields(impact)) if impact else None,
                    window_impact_minutes=signals.impact_minutes or 0.0,
                    xla=xla_out(score, signals, start, now),
                    error_budget=ErrorBudgetOut(
                        slo=profile.slo_target,
                        availability=spent.availability,
                        consumed=spent.consumed,
                        remaining=spent.remaining,
                        burn_rate_1h=f.hourly_burn_rate(
                            spans, self.factors, profile.slo_target, now
                        ),
                    ),
                )
            )
        return out

    def calendar_now(self, service: BusinessService, now: datetime) -> CalendarNow | None:
        calendar = self.calendars.get(service.calendar) if service.calendar else None
        if calendar is None:
            return None
        verdict = calendar.weight_at(now)
        return CalendarNow(
            calendar=calendar.name,
            period=verdict.period,
            weight=verdict.weight,
            active_periods=list(verdict.periods),
            local_time=calendar.local_time(now),
            holiday=verdict.holiday,
        )

    # -- history -----------------------------------------------------------------------------

    async def xla_history(
        self, service: BusinessService, until: datetime, window: timedelta, step: timedelta, n: int
    ) -> list[XlaPoint]:
        """`n` scores, `step` apart, the last at `until`, each over the `window` before it."""
        first = until - step * (n - 1)
        history = await self._history([service.id], first - window, until)
        changes, ledger, feedback = history[service.id]
        profile = profile_for(service)
        spans = f.stretches(f.initial_state(changes), changes, first - window, until)
        points = []
        for k in range(n):
            end = first + step * k
            score, spent, signals = f.xla_at(
                profile, self.scoring.xla, spans, self.factors, ledger, feedback, end - window, end
            )
            points.append(
                XlaPoint(
                    at=end,
                    score=round(score.score, 3),
                    target=score.target,
                    breached=score.breached,
                    components={k: round(v, 3) for k, v in score.components.items()},
                    signals=signals_out(signals),
                    budget_consumed=spent.consumed,
                )
            )
        return points

    async def series(
        self, services: Sequence[BusinessService], since: datetime, until: datetime, n: int
    ) -> tuple[f.ImpactTotals, list[ImpactBucket]]:
        points = await self.store.impact_points([s.id for s in services], since, until)
        ledger = f.ImpactLedger(f.increments(p for rows in points.values() for p in rows))
        slices = f.buckets(ledger, since, until, n)
        buckets = [
            ImpactBucket(start=lo, end=hi, minutes=t.minutes, weighted_minutes=t.weighted_minutes)
            for lo, hi, t in slices
        ]
        return ledger.totals(since, until), buckets

    # -- value stream ------------------------------------------------------------------------

    async def value_stream(
        self,
        scope: Sequence[BusinessService],
        page: Sequence[BusinessService],
        since: datetime,
        until: datetime,
    ) -> dict[str, Any]:
        """Flow figures over every service of `scope`; per-service rows for `page` only."""
        ids = [s.id for s in scope]
        opened = await self.store.incidents_touching(ids, since, until)
        history = await self._history(ids, since, until)
        all_minutes: list[f.Increment] = []
        rows, spending = [], []
        listed = {s.id for s in page}
        for service in scope:
            changes, ledger, _ = history[service.id]
            profile = profile_for(service)
            spans = f.stretches(f.initial_state(changes), changes, since, until)
            spent = f.budget(spans, self.factors, profile.slo_target, since, until)
            window_minutes = ledger.between(since, until)
            all_minutes += window_minutes
            if service.id in listed:
                rows.append(_figures(service, profile, spent, f.totals(window_minutes)))
            allowed_ms = sum(s.total for s in f.samples(spans, self.factors, since, until)) * (
                1.0 - profile.slo_target
            )
            for incident_id, bad_ms in f.budget_by_incident(
                spans, self.factors, since, until
            ).items():
                spending.append((incident_id, service.id, bad_ms, allowed_ms))
        known = await self.store.incidents_by_id([i for i, *_ in spending if i is not None])
        budget_incidents = sorted(
            (
                _budget_incident(known.get(i or ""), i, service_id, bad, allowed)
                for i, service_id, bad, allowed in spending
            ),
            key=lambda b: (-b.budget_share, b.service_id, b.incident_id or ""),
        )
        impact = f.totals(all_minutes)
        return {
            "incidents": len(opened),
            "time_to_detect": _spread(
                i["opened_at"] - (i["first_failure"] or i["opened_at"]) for i in opened
            ),
            "time_to_acknowledge": _spread(
                i["acknowledged_at"] - i["opened_at"] for i in opened if i["acknowledged_at"]
            ),
            "time_to_resolve": _spread(
                i["resolved_at"] - i["opened_at"] for i in opened if i["resolved_at"]
            ),
            "business_impact_minutes": impact.minutes,
            "weighted_impact_minutes": impact.weighted_minutes,
            "weighted_share": impact.weighted_share,
            "impact_by_period": dict(impact.by_period),
            "services": rows,
            "budget_incidents": budget_incidents,
        }

    async def _history(
        self, ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, tuple[list[f.HealthChange], f.ImpactLedger, f.FeedbackLog]]:
        changes = await self.store.health_changes(ids, start, end)
        points = await self.store.impact_points(ids, start, end)
        said = await self.store.feedback(ids, start, end)
        return {
            i: (changes[i], f.ImpactLedger(f.increments(points[i])), f.FeedbackLog(said[i]))
            for i in ids
        }


def signals_out(signals: XlaSignals) -> XlaSignalsOut:
    return XlaSignalsOut(
        availability=signals.availability,
        impact_minutes=signals.impact_minutes,
        csat=signals.csat,
        sentiment=signals.sentiment,
    )


def xla_out(score: XlaScore, signals: XlaSignals, start: datetime, end: datetime) -> XlaOut:
    return XlaOut(
        score=round(score.score, 3),
        target=score.target,
        breached=score.breached,
        components={k: round(v, 3) for k, v in score.components.items()},
        weights={k: round(v, 6) for k, v in score.weights.items()},
        signals=signals_out(signals),
        window_start=start,
        window_end=end,
    )


def _impact_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "time": row["event_time"],
        "state": row["state"],
        "reason": row["reason"],
        "episode_id": row["episode_id"],
        "incident_id": row["incident_id"],
        "users_affected": row["users_affected"],
        "impact_rate": row["impact_rate"],
        "business_impact_minutes": row["business_impact_minutes"],
        "calendar_period": row["calendar_period"],
        "calendar_weight": row["calendar_weight"],
        "priority": row["priority"],
        "high_visibility": row["high_visibility"],
    }


def _spread(durations: Any) -> Spread:
    found = f.spread(durations)
    return Spread(count=found.count, median_seconds=found.median_s, p90_seconds=found.p90_s)


def _figures(
    service: BusinessService, profile: ServiceProfile, spent: Any, impact: f.ImpactTotals
) -> ServiceFigures:
    availability = spent.availability
    return ServiceFigures(
        service_id=service.id,
        name=service.name,
        business_domain=service.domain,
        slo=profile.slo_target,
        availability=availability,
        slo_met=None if availability is None else availability >= profile.slo_target,
        budget_consumed=spent.consumed,
        business_impact_minutes=impact.minutes,
        weighted_impact_minutes=impact.weighted_minutes,
    )


def _budget_incident(
    row: Mapping[str, Any] | None,
    incident_id: str | None,
    service_id: str,
    bad_ms: float,
    allowed_ms: float,
) -> BudgetIncident:
    return BudgetIncident(
        incident_id=incident_id,
        service_id=service_id,
        unavailable_minutes=bad_ms / 60000.0,
        budget_share=bad_ms / allowed_ms if allowed_ms > 0 else 0.0,
        state=row["state"] if row else None,
        priority=row["priority"] if row else None,
        high_visibility=bool(row and row["high_visibility"]),
        opened_at=row["opened_at"] if row else None,
        root_cause_candidates=list(row["root_cause_candidates"]) if row else [],
    )

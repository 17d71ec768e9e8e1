"""What an evaluation publishes: XLA reports and burn-rate alerts, as events rather than a
repetition of the same figures on every tick.

XLA reports, per window:
- `breach` when the score goes below the target, `recovered` when it is back at or above it;
- `update` at most once per report step of the window, and only while something happened in
  the window (a window with no bad time, no impact and no feedback scores 100 and stays quiet).

Burn-rate alerts, per rule (dedup key `<service id>/error-budget/<long>-<short>`): raised when
the rule starts firing, raised again when its priority changes, resolved when it stops. A page
is P2, or the priority of the service's open impact alert when that one is higher; a ticket is
P4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from impactline.core.contracts import (
    AlertEvent,
    ErrorBudgetStatus,
    Priority,
    XlaReport,
    XlaReportReason,
    derived_id,
)
from impactline.core.experience.evaluation import Evaluation, WindowScore
from impactline.core.experience.policy import (
    ExperiencePolicy,
    iso_duration,
    rule_key,
    span_phrase,
)
from impactline.core.experience.state import ExperienceState
from impactline.core.scoring import AlertSeverity, BurnRateAlert, BurnRateRule

PAGE_PRIORITY: Priority = "P2"
TICKET_PRIORITY: Priority = "P4"
_PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4", "P5")


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """How reports name a business service and whom its alerts go to."""

    id: str
    name: str
    owner: str


@dataclass(frozen=True, slots=True)
class Outcome:
    state: ExperienceState
    reports: tuple[XlaReport, ...] = ()
    alerts: tuple[AlertEvent, ...] = ()


def dedup_key(service_id: str, rule: BurnRateRule | str) -> str:
    key = rule if isinstance(rule, str) else rule_key(rule)
    return f"{service_id}/error-budget/{key}"


def alert_priority(severity: AlertSeverity, impact_priority: str | None) -> Priority:
    """A page is P2 unless the service's impact alert is already higher; a ticket is P4."""
    if severity is not AlertSeverity.PAGE:
        return TICKET_PRIORITY
    if impact_priority in _PRIORITIES and impact_priority < PAGE_PRIORITY:
        return _PRIORITIES[_PRIORITIES.index(impact_priority)]
    return PAGE_PRIORITY


def publish(
    state: ExperienceState,
    evaluation: Evaluation,
    service: ServiceRef,
    policy: ExperiencePolicy,
    *,
    impact_priority: str | None = None,
    incident_id: str | None = None,
) -> Outcome:
    """The reports and alerts `evaluation` calls for, given what `state` last reported, and
    the state that remembers them. `impact_priority` is the priority of the service's open
    impact alert, if any."""
    budget = budget_status(evaluation, policy)
    reports: list[XlaReport] = []
    breached: dict[str, bool] = {}
    steps: dict[str, int] = {}
    for scored in evaluation.scores:
        key = iso_duration(scored.window)
        was = state.breached.get(key, False)
        step = _step(evaluation.at, policy.report_step(scored.window))
        last_step = state.report_steps.get(key, -1)
        breached[key], steps[key] = was, last_step
        if scored.score.breached != was:
            reason = XlaReportReason.BREACH if scored.score.breached else XlaReportReason.RECOVERED
            event_key = evaluation.at.isoformat()
        elif scored.active and step > last_step:
            reason, event_key = XlaReportReason.UPDATE, str(step)
        else:
            continue
        reports.append(xla_report(service, scored, budget, reason, event_key))
        breached[key], steps[key] = scored.score.breached, step
    alerts, open_alerts = _alerts(state, evaluation, service, policy, impact_priority, incident_id)
    new_state = replace(state, breached=breached, report_steps=steps, alerts=open_alerts)
    return Outcome(new_state, tuple(reports), tuple(alerts))


def close_all(state: ExperienceState, service: ServiceRef, at: datetime) -> Outcome:
    """Resolve every open burn-rate alert, e.g. when the service left the catalog."""
    alerts = [
        _alert(
            service,
            key,
            priority,
            f"{service.name}: error-budget alert closed, the service is no longer monitored",
            at,
            None,
            resolved=True,
        )
        for key, priority in state.alerts.items()
    ]
    return Outcome(replace(state, alerts={}, breached={}), (), tuple(alerts))


def budget_status(evaluation: Evaluation, policy: ExperiencePolicy) -> ErrorBudgetStatus:
    budget = evaluation.budget
    return ErrorBudgetStatus(
        slo=budget.slo,
        period=iso_duration(policy.slo_period),
        consumed=round(budget.consumed, 6),
        remaining=round(budget.remaining, 6),
        burn_rate=None
        if evaluation.fastest_burn_rate is None
        else round(evaluation.fastest_burn_rate, 6),
    )


def xla_report(
    service: ServiceRef,
    scored: WindowScore,
    budget: ErrorBudgetStatus,
    reason: XlaReportReason,
    event_key: str,
) -> XlaReport:
    score, signals = scored.score, scored.signals
    window = iso_duration(scored.window)
    breach = score.breach()
    start, end = score.window or (None, None)
    assert start is not None and end is not None, "evaluate() scores windows with their span"
    return XlaReport(
        id=derived_id(service.id, "xla", window, reason.value, event_key),
        reason=reason,
        service_id=service.id,
        service_name=service.name,
        window=window,
        window_start=start,
        time=end,
        score=round(score.score, 3),
        target=score.target,
        breached=score.breached,
        weakest=None if breach is None else breach.weakest,
        components={name: round(value, 3) for name, value in score.components.items()},
        weights={name: round(value, 6) for name, value in score.weights.items()},
        availability=None if signals.availability is None else round(signals.availability, 9),
        impact_minutes=round(signals.impact_minutes or 0.0, 3),
        csat=None if signals.csat is None else round(signals.csat, 3),
        sentiment=None if signals.sentiment is None else round(signals.sentiment, 4),
        error_budget=budget,
        summary=xla_summary(service.name, scored, reason),
    )


def xla_summary(name: str, scored: WindowScore, reason: XlaReportReason) -> str:
    """E.g. `Financial Close's experience over the last 1 h fell to 42, below its target of 80
    (weakest: csat at 12)`."""
    score = scored.score
    over = f"{name}'s experience over the last {span_phrase(scored.window)}"
    if reason is XlaReportReason.BREACH:
        breach = score.breach()
        weakest = ""
        if breach is not None:
            weakest = f" (weakest: {breach.weakest} at {score.components[breach.weakest]:.0f})"
        return f"{over} fell to {score.score:.0f}, below its target of {score.target:g}{weakest}"
    if reason is XlaReportReason.RECOVERED:
        return f"{over} is back to {score.score:.0f}, at or above its target of {score.target:g}"
    return f"{over} scores {score.score:.0f} (target {score.target:g})"


def burn_summary(
    name: str,
    rule: BurnRateRule,
    alert: BurnRateAlert | None,
    budget: ErrorBudgetStatus,
    policy: ExperiencePolicy,
) -> str:
    """E.g. `Financial Close is burning its error budget 16.7x faster than allowed (1 h and
    5 min windows): 35 % of the 30-day budget spent`."""
    windows = f"({span_phrase(rule.long_window)} and {span_phrase(rule.short_window)} windows)"
    spent = f"{budget.consumed * 100:.0f} % of the {_period(policy.slo_period)} budget spent"
    if alert is None:
        return (
            f"{name} is no longer burning its error budget faster than allowed {windows}: {spent}"
        )
    rate = min(alert.long_burn_rate, alert.short_burn_rate)
    return (
        f"{name} is burning its error budget {_rate(rate)}x faster than allowed {windows}: {spent}"
    )


def _alerts(
    state: ExperienceState,
    evaluation: Evaluation,
    service: ServiceRef,
    policy: ExperiencePolicy,
    impact_priority: str | None,
    incident_id: str | None,
) -> tuple[list[AlertEvent], dict[str, str]]:
    budget = budget_status(evaluation, policy)
    firing = {rule_key(alert.rule): alert for alert in evaluation.alerts}
    rules = {rule_key(rule): rule for rule in policy.rules}
    opened = dict(state.alerts)
    out: list[AlertEvent] = []
    for key, alert in firing.items():
        priority = alert_priority(alert.severity, impact_priority)
        if opened.get(key) == priority:
            continue
        opened[key] = priority
        summary = burn_summary(service.name, alert.rule, alert, budget, policy)
        out.append(
            _alert(service, key, priority, summary, evaluation.at, incident_id, resolved=False)
        )
    for key in [key for key in opened if key not in firing]:
        priority = opened.pop(key)
        rule = rules.get(key)
        summary = (
            burn_summary(service.name, rule, None, budget, policy)
            if rule is not None
            else f"{service.name}: the error-budget rule {key} no longer applies"
        )
        out.append(
            _alert(service, key, priority, summary, evaluation.at, incident_id, resolved=True)
        )
    return out, opened


def _alert(
    service: ServiceRef,
    key: str,
    priority: str,
    summary: str,
    at: datetime,
    incident_id: str | None,
    *,
    resolved: bool,
) -> AlertEvent:
    dedup = dedup_key(service.id, key)
    action = "resolved" if resolved else "raised"
    return AlertEvent(
        id=derived_id(dedup, action, priority, at.isoformat()),
        dedup_key=dedup,
        priority=_PRIORITIES[_PRIORITIES.index(priority)] if priority in _PRIORITIES else "P2",
        service_id=service.id,
        owner_team=service.owner,
        summary=summary,
        incident_id=incident_id,
        time=at,
        resolved=resolved,
    )


def _step(at: datetime, step: timedelta) -> int:
    return int(at.timestamp() // step.total_seconds())


def _rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"


def _period(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}-day"
    return span_phrase(span)

"""One-line descriptions of an impact in business language, for alerts and ITSM records."""

from __future__ import annotations

from datetime import timedelta

from impactline.core.impact.reading import Reading
from impactline.core.states import State

_STATE_PHRASE = {
    State.DOWN: "down",
    State.DEGRADED: "degraded",
    State.UNKNOWN: "in an unknown state",
    State.OK: "available",
}


def period_phrase(period: str) -> str:
    """`month-end-close` -> `month-end close`, `business-hours` -> `business hours`."""
    head, _, tail = period.rpartition("-")
    return f"{head} {tail}" if head else period


def impact_summary(service_name: str, business_domain: str, reading: Reading) -> str:
    """E.g. `Financial Close is degraded for 120 finance users during month-end close (x3):
    P1, CFO office and 3 VIPs affected`."""
    rate = reading.assessment.rate
    text = f"{service_name} is {_STATE_PHRASE[reading.state]}"
    if rate.affected_users:
        noun = "user" if rate.affected_users == 1 else "users"
        text += f" for {rate.affected_users} {business_domain} {noun}"
    if reading.verdict is None:
        text += " (no business calendar)"
    else:
        weight = reading.verdict.weight
        text += f" during {period_phrase(reading.verdict.period)} (x{weight:g})"
    text += f": {reading.priority}"
    visibility = reading.assessment.visibility
    vips = list(visibility.vips)
    reached = [*visibility.approver_personas, *(vips if len(vips) < 2 else [f"{len(vips)} VIPs"])]
    if reached:
        text += f", {_join(reached)} affected"
    if visibility.reporting_vips:
        text += f", reported by {_join(list(visibility.reporting_vips))}"
    return text


def recovery_summary(name: str, duration: timedelta, impact_minutes: float) -> str:
    """E.g. `Financial Close has recovered after 1 h 30 min: 4,500 business impact minutes`."""
    return (
        f"{name} has recovered after {_duration(duration)}: "
        f"{impact_minutes:,.0f} business impact minutes"
    )


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"

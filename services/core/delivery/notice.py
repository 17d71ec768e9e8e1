"""A notice: one message from `alerts`, `itsm` or `incidents` (or an escalation step), in the one
shape routing and the vendor payloads read.

`subject` is what a destination tracks across messages: the alert's dedup key (PagerDuty's
dedup_key, Opsgenie's alias), the ITSM record's key (ServiceNow's correlation_id), the incident
id. Follow-ups on a subject go to every destination that received it before.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from impactline.core.contracts import (
    AlertEvent,
    IncidentAction,
    IncidentEvent,
    ItsmAction,
    ItsmIncidentEvent,
    Priority,
    SuspectChange,
    derived_id,
)
from impactline.core.contracts import ImpactExplanation as Explanation
from impactline.core.delivery.config import Source


class Action(StrEnum):
    """What a delivery asks of its destination."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    CREATE = "create"
    UPDATE = "update"
    NOTE = "note"


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int = Field(ge=1)
    contact: str
    after_minutes: int = Field(ge=0)


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Source
    topic: str = Field(description="alerts, itsm, incidents or escalation")
    event_id: str
    time: datetime
    subject: str
    action: Action
    summary: str
    incident_id: str | None = None
    correlation_domain: str | None = None
    service_id: str | None = None
    owner_team: str | None = None
    priority: Priority | None = None
    high_visibility: bool = False
    impact: int | None = None
    urgency: int | None = None
    affected_services: tuple[str, ...] = ()
    root_cause_candidates: tuple[str, ...] = ()
    suspect_changes: tuple[SuspectChange, ...] = ()
    incident_action: IncidentAction | None = None
    explanation: Explanation | None = None
    escalation: Escalation | None = None

    @property
    def business_domain(self) -> str | None:
        return self.explanation.business_domain if self.explanation else None

    @property
    def active_periods(self) -> tuple[str, ...]:
        if self.explanation is None:
            return ()
        periods = list(self.explanation.active_periods)
        if self.explanation.calendar_period and self.explanation.calendar_period not in periods:
            periods.append(self.explanation.calendar_period)
        return tuple(periods)


def from_alert(alert: AlertEvent) -> Notice:
    explanation = alert.explanation
    return Notice(
        source=Source.ALERT,
        topic="alerts",
        event_id=alert.id,
        time=alert.time,
        subject=alert.dedup_key,
        action=Action.RESOLVE if alert.resolved else Action.TRIGGER,
        summary=alert.summary,
        incident_id=alert.incident_id or (explanation.incident_id if explanation else None),
        correlation_domain=explanation.correlation_domain if explanation else None,
        service_id=alert.service_id,
        owner_team=alert.owner_team,
        priority=alert.priority,
        high_visibility=alert.high_visibility,
        affected_services=(alert.service_id,),
        explanation=explanation,
    )


_ITSM_ACTIONS = {
    ItsmAction.CREATE: Action.CREATE,
    ItsmAction.UPDATE: Action.UPDATE,
    ItsmAction.RESOLVE: Action.RESOLVE,
}


def from_itsm(record: ItsmIncidentEvent) -> Notice:
    explanation = record.explanation
    return Notice(
        source=Source.ITSM,
        topic="itsm",
        event_id=record.id,
        time=record.time,
        subject=f"itsm:{record.incident_id}",
        action=_ITSM_ACTIONS[record.action],
        summary=record.short_description,
        incident_id=explanation.incident_id if explanation else None,
        correlation_domain=explanation.correlation_domain if explanation else None,
        service_id=record.affected_services[0] if record.affected_services else None,
        priority=record.priority,
        impact=record.impact,
        urgency=record.urgency,
        affected_services=tuple(record.affected_services),
        explanation=explanation,
    )


_INCIDENT_ACTIONS = {
    IncidentAction.ACKNOWLEDGED: Action.ACKNOWLEDGE,
    IncidentAction.RESOLVED: Action.RESOLVE,
}


def from_incident(event: IncidentEvent) -> Notice:
    root = ", ".join(event.root_cause_candidates) or "unknown"
    services = ", ".join(event.affected_services) or "no business service yet"
    return Notice(
        source=Source.INCIDENT,
        topic="incidents",
        event_id=event.id,
        time=event.time,
        subject=f"incident:{event.incident_id}",
        action=_INCIDENT_ACTIONS.get(event.action, Action.NOTE),
        summary=f"Incident {event.action.value}: {services} (root cause candidate {root})",
        incident_id=event.incident_id,
        correlation_domain=event.correlation_domain,
        service_id=event.affected_services[0] if event.affected_services else None,
        affected_services=tuple(event.affected_services),
        root_cause_candidates=tuple(event.root_cause_candidates),
        suspect_changes=tuple(event.suspect_changes),
        incident_action=event.action,
    )


def escalated(page: Notice, escalation: Escalation, at: datetime) -> Notice:
    """The page `page` raised to the next escalation level: its own subject, so a pager keeps a
    separate alert for the new level and a resolve or acknowledge reaches both."""
    return page.model_copy(
        update={
            "topic": "escalation",
            "event_id": derived_id(page.subject, "escalation", str(escalation.level)),
            "time": at,
            "subject": f"{page.subject}#level-{escalation.level}",
            "action": Action.TRIGGER,
            "summary": (
                f"Escalated to level {escalation.level} ({escalation.contact}): not acknowledged "
                f"after {escalation.after_minutes} min. {page.summary}"
            ),
            "escalation": escalation,
        }
    )

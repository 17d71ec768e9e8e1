"""The demo's month-end P1 as the pipeline produces it: the impact engine with the demo catalog,
calendar and routing gives the alert and ITSM record of the `db-gl-01` slowdown on Financial
Close during the close, and their resolution; the incident events are what correlate publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from impactline.core.calendar import load_calendar
from impactline.core.catalog import load_catalog
from impactline.core.contracts import (
    AlertEvent,
    ChangeKind,
    IncidentAction,
    IncidentEvent,
    IncidentState,
    ItsmIncidentEvent,
    ServiceHealthEvent,
    SuspectChange,
    derived_id,
)
from impactline.core.impact import ImpactEngine, load_routing_rules
from impactline.core.states import State

ROOT = Path(__file__).resolve().parents[1]
LONDON = ZoneInfo("Europe/London")
MONTH_END = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
DOMAIN = "dom-bank-reconciliation"


@dataclass(frozen=True)
class MonthEnd:
    incident_id: str
    opened: IncidentEvent
    alert: AlertEvent
    record: ItsmIncidentEvent
    resolved_alert: AlertEvent
    resolved_record: ItsmIncidentEvent
    resolved: IncidentEvent

    def acknowledged(self, at: datetime) -> IncidentEvent:
        return self.opened.model_copy(
            update={
                "id": derived_id(self.incident_id, "acknowledged"),
                "action": IncidentAction.ACKNOWLEDGED,
                "state": IncidentState.ACKNOWLEDGED,
                "time": at,
            }
        )


def engine() -> ImpactEngine:
    return ImpactEngine(
        load_catalog([ROOT / "deploy" / "catalog"]),
        {"uk-finance": load_calendar(ROOT / "deploy" / "calendars" / "uk-finance.yaml")},
        routing=load_routing_rules(ROOT / "deploy" / "impact" / "routing.yaml"),
    )


def health(at: datetime, state: State, incident_id: str, key: str) -> ServiceHealthEvent:
    return ServiceHealthEvent(
        id=f"health-{key}",
        service_id="financial-close",
        state=state,
        previous_state=State.OK if state is not State.OK else State.DEGRADED,
        time=at,
        correlation_domain=DOMAIN,
        cause_ci_id="db-gl-01",
        cause_event_id=f"latency-{key}",
        incident_id=incident_id,
        catalog_version=1,
    )


def month_end(key: str = "month-end", at: datetime = MONTH_END) -> MonthEnd:
    """The month-end P1; `key` makes ids unique, so tests sharing a database do not collide."""
    incident_id = derived_id("incident", key)
    impact = engine()
    opened_step = impact.on_health(None, health(at, State.DEGRADED, incident_id, key))
    later = at + timedelta(minutes=20)
    closed_step = impact.on_health(
        opened_step.state, health(later, State.OK, incident_id, f"{key}-ok")
    )
    suspect = SuspectChange(
        change_id=f"change-{key}",
        ci_id="db-gl-01",
        kind=ChangeKind.CONFIGURATION,
        time=at - timedelta(minutes=7),
        summary="raised work_mem on the ledger database",
    )
    opened = IncidentEvent(
        id=derived_id(incident_id, "opened"),
        incident_id=incident_id,
        action=IncidentAction.OPENED,
        state=IncidentState.OPEN,
        time=at,
        correlation_domain=DOMAIN,
        affected_services=["financial-close"],
        member_cis=["db-gl-01"],
        root_cause_candidates=["db-gl-01"],
        suspect_changes=[suspect],
        opened_at=at,
    )
    resolved = opened.model_copy(
        update={
            "id": derived_id(incident_id, "resolved"),
            "action": IncidentAction.RESOLVED,
            "state": IncidentState.RESOLVED,
            "time": later + timedelta(minutes=1),
        }
    )
    [alert], [record] = opened_step.alerts, opened_step.itsm
    [resolved_alert], [resolved_record] = closed_step.alerts, closed_step.itsm
    return MonthEnd(incident_id, opened, alert, record, resolved_alert, resolved_record, resolved)

"""The per-domain record of each CI that is not ok, and the annotation each CI change gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from impactline.core.contracts import IncidentEvent, ServiceHealthEvent
from impactline.core.correlation.serial import required_time, time_in, time_out
from impactline.core.states import State


@dataclass(slots=True)
class FailureRecord:
    """A CI of the domain whose accepted state is not ok (ok CIs have no record)."""

    state: State
    since: datetime
    """When its current failure (or non-ok spell) began."""
    cause_event_id: str
    incident_id: str | None = None
    """The incident its current failure was attributed to; kept after a manual resolve so a
    CI that stays down does not open the incident again by itself."""
    silence_reason: str | None = None
    silenced_until: datetime | None = None
    silenced_via: str | None = None
    """The failing upstream CI whose suppression this failure inherits, if not its own."""

    @property
    def silenced_by(self) -> str | None:
        if self.silence_reason is None:
            return None
        if self.silenced_via is None:
            return self.silence_reason
        return f"depends on {self.silenced_via}, covered by {self.silence_reason}"

    def clear_silence(self) -> None:
        self.silence_reason = self.silenced_until = self.silenced_via = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": self.since.isoformat(),
            "cause_event_id": self.cause_event_id,
            "incident_id": self.incident_id,
            "silence_reason": self.silence_reason,
            "silenced_until": time_out(self.silenced_until),
            "silenced_via": self.silenced_via,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FailureRecord:
        return cls(
            state=State(d["state"]),
            since=required_time(d["since"], "since"),
            cause_event_id=str(d["cause_event_id"]),
            incident_id=d["incident_id"],
            silence_reason=d["silence_reason"],
            silenced_until=time_in(d["silenced_until"], "silenced_until"),
            silenced_via=d["silenced_via"],
        )


class Note(StrEnum):
    """What a CI state change did to the domain's incidents."""

    OPENED = "opened"
    """The failure opened a new incident."""
    REOPENED = "reopened"
    """The failure recurred on a root-cause candidate of a recently resolved incident."""
    JOINED = "joined"
    """The failure is related to an active incident and became one of its members."""
    SILENCED = "silenced"
    """A maintenance window or silence covers the failure: no incident, `silenced_by` says why."""
    MEMBER = "member"
    """Another state (recovery, worsening, unknown) of a CI that belongs to an active incident."""
    UNATTACHED = "unattached"
    """A change of a CI outside any active incident that opens none (e.g. ok -> unknown)."""


@dataclass(frozen=True, slots=True)
class Annotation:
    """How one CI state change was handled; silenced failures are kept here, not dropped."""

    ci_id: str
    state: State
    time: datetime
    cause_event_id: str
    note: Note
    incident_id: str | None = None
    silenced_by: str | None = None


@dataclass(frozen=True, slots=True)
class DomainResult:
    """What one input or timer run produced, each list in order: incident lifecycle events,
    service-health events (state changes and re-attributions) and, for a CI state change,
    its annotation."""

    events: list[IncidentEvent]
    annotation: Annotation | None = None
    health: list[ServiceHealthEvent] = field(default_factory=list)

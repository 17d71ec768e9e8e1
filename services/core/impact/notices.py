"""When an episode raises, re-raises and closes its alert and ITSM record (docs/scoring.md
section 8): pure functions over the episode and the reading just reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from impactline.core.contracts import AlertEvent, ItsmAction, ItsmIncidentEvent
from impactline.core.impact.episode import EpisodeState, Notice
from impactline.core.impact.outputs import alert_event, itsm_event, itsm_resolve, resolved_alert
from impactline.core.impact.reading import Reading, ServiceView

Raised = tuple[EpisodeState, AlertEvent | None, ItsmIncidentEvent | None]


def notify(episode: EpisodeState, view: ServiceView, reading: Reading) -> Raised:
    """Raise the alert and create the ITSM record when the episode first hurts someone,
    unless only planned work causes it; raise and update them again when the priority
    changes or another incident is charged first (e.g. the survivor of a merge)."""
    priority = reading.assessment.priority
    current = episode.notice
    notice = Notice(
        reading.priority,
        priority.impact.value,
        priority.urgency.value,
        episode.incident_id,
        current.since if current is not None else reading.at,
    )
    if current is None:
        if not reading.hurts or episode.planned:
            return episode, None, None
        action = ItsmAction.CREATE
    elif current.priority == notice.priority and (
        episode.incident_id is None or current.incident_id == episode.incident_id
    ):
        return episode, None, None
    else:
        action = ItsmAction.UPDATE
    sequence = episode.notices_sent + 1
    episode = replace(episode, notice=notice, notices_sent=sequence)
    return (
        episode,
        alert_event(episode, view, reading, sequence),
        itsm_event(episode, view, reading, action, sequence),
    )


def closing(
    episode: EpisodeState, name: str, at: datetime
) -> tuple[AlertEvent, ItsmIncidentEvent] | None:
    """The alert resolved and the ITSM record closed as they last stood; None when neither
    was ever raised."""
    notice = episode.notice
    if notice is None:
        return None
    sequence = episode.notices_sent + 1
    return (
        resolved_alert(episode, notice, name, at, sequence),
        itsm_resolve(episode, notice, name, at, sequence),
    )

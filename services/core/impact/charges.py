"""Who an episode's minutes are charged to: read from service-health events, switched between
accruals (docs/correlation.md, "Attribution"; docs/scoring.md section 8)."""

from __future__ import annotations

from dataclasses import replace

from impactline.core.contracts import ServiceHealthEvent
from impactline.core.impact.episode import EpisodeState


def charges_of(health: ServiceHealthEvent) -> tuple[tuple[str, ...], str | None]:
    """Who the event charges: its incidents (an older correlate names only `incident_id`) and
    the planned work when that alone causes the impairment."""
    incidents = tuple(health.incident_ids)
    if not incidents and health.incident_id is not None:
        incidents = (health.incident_id,)
    return incidents, None if incidents else health.planned_by


def charge(
    episode: EpisodeState, incidents: tuple[str, ...], planned_by: str | None
) -> EpisodeState:
    """Charge the episode's next minutes to `incidents` (or to the planned work); what accrued
    so far stays with whoever was charged. The new share is listed at once, at 0 minutes."""
    charged = replace(
        episode,
        incident_ids=incidents,
        incident_id=incidents[0] if incidents else None,
        planned_by=planned_by,
    )
    return charged.charged(0.0)

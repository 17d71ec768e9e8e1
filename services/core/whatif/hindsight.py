"""A recorded change's assessment weighed against the incident it is suspected of.

A planned change recorded with its assessment (`assessment` of `/v1/changes`) carries it into
the suspect changes of any incident that follows. Beside that evidence, the incident shows what
the change was assessed to cost and what the incident has cost so far, so a change advisory
board sees whether its figures held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from impactline.core.contracts import ChangeAssessmentSummary


@dataclass(frozen=True, slots=True)
class AssessmentCheck:
    incident_minutes: float
    """The incident's business impact minutes so far."""
    share_of_worst_case: float | None
    """Incident minutes / assessed worst case; None when the worst case was nothing."""
    beyond_worst_case: bool
    note: str


def weigh(assessment: ChangeAssessmentSummary, incident_minutes: float) -> AssessmentCheck:
    """The assessment beside what the incident has cost so far, in one sentence."""
    worst = assessment.worst_case_business_impact_minutes
    share = incident_minutes / worst if worst > 0 else None
    beyond = incident_minutes > worst
    parts = [f"assessed worst case {worst:,.0f} business impact minutes"]
    expected = f"expected {assessment.expected_business_impact_minutes:,.0f}"
    if assessment.risk is not None:
        expected += f" at a {assessment.risk:.0%} risk"
    parts.append(f" ({expected})")
    parts.append(f" for {_window(assessment.start, assessment.end)}")
    if assessment.periods:
        parts.append(f", crossing {', '.join(assessment.periods)}")
    if assessment.assessed_at is not None:
        parts.append(f", assessed {_moment(assessment.assessed_at)}")
    so_far = f"; this incident so far {incident_minutes:,.0f}"
    if share is None:
        so_far += ", where the assessment expected none" if incident_minutes > 0 else ""
    elif beyond:
        so_far += f", {share:.1f}x the assessed worst case"
    else:
        so_far += f" ({share:.0%} of the worst case)"
    return AssessmentCheck(
        incident_minutes=incident_minutes,
        share_of_worst_case=share,
        beyond_worst_case=beyond,
        note="".join(parts) + so_far,
    )


def _moment(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _window(start: datetime, end: datetime) -> str:
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M}-{tail} UTC"

"""The impact explanation in a form people read: a title and labelled facts (business services,
users and personas, calendar period and weight, business impact minutes, root cause, suspect
changes, the dashboard link). Every vendor payload is built from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from impactline.core.contracts import SuspectChange
from impactline.core.delivery.notice import Action, Notice


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class IncidentContext:
    """What notify knows of the correlated incident when it sends: root cause and suspects."""

    incident_id: str
    state: str
    affected_services: tuple[str, ...] = ()
    root_cause_candidates: tuple[str, ...] = ()
    suspect_changes: tuple[SuspectChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Explained:
    notice: Notice
    title: str
    facts: tuple[Fact, ...]
    link: str | None

    def text(self) -> str:
        lines = [self.title, *(f"{fact.label}: {fact.value}" for fact in self.facts)]
        return "\n".join(lines)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


def dashboard_link(base: str | None, incident_id: str | None) -> str | None:
    if base is None:
        return None
    root = base.rstrip("/") + "/"
    return root if incident_id is None else f"{root}#incident-{quote(incident_id, safe='')}"


_VERBS = {
    Action.ACKNOWLEDGE: "Acknowledged",
    Action.RESOLVE: "Resolved",
    Action.NOTE: "Update",
}


def explain(
    notice: Notice,
    context: IncidentContext | None = None,
    dashboard_url: str | None = None,
    action: Action | None = None,
) -> Explained:
    action = action or notice.action
    link = dashboard_link(dashboard_url, notice.incident_id)
    return Explained(notice, _title(notice, action), tuple(_facts(notice, context, link)), link)


def _title(notice: Notice, action: Action) -> str:
    priority = f"[{notice.priority}] " if notice.priority else ""
    if action in _VERBS and notice.source.value == "incident":
        return f"{_VERBS[action]}: {notice.summary}"
    if action is Action.ACKNOWLEDGE:
        return f"{priority}Acknowledged in impactline: {notice.summary}"
    return f"{priority}{notice.summary}"


def _facts(notice: Notice, context: IncidentContext | None, link: str | None) -> list[Fact]:
    facts: list[Fact] = []
    if notice.priority:
        visibility = " \u00b7 high visibility" if notice.high_visibility else ""
        facts.append(Fact("Priority", f"{notice.priority}{visibility}"))
    explanation = notice.explanation
    services = ", ".join(notice.affected_services) or None
    if explanation and explanation.service_name:
        services = f"{explanation.service_name} ({explanation.business_domain})"
    if services:
        facts.append(Fact("Business service", services))
    if explanation and explanation.users_affected is not None:
        personas = ", ".join(explanation.personas_affected)
        users = f"{explanation.users_affected}" + (
            f" \u00b7 personas: {personas}" if personas else ""
        )
        facts.append(Fact("Users affected", users))
    if explanation and explanation.calendar_period:
        weight = explanation.calendar_weight
        facts.append(
            Fact("Calendar", f"{explanation.calendar_period} \u00d7{weight:g}")
            if weight is not None
            else Fact("Calendar", explanation.calendar_period)
        )
    if explanation:
        rate = (
            f" \u00b7 {explanation.impact_rate:.1f} per minute now"
            if explanation.impact_rate is not None
            else ""
        )
        minutes = f"{explanation.business_impact_minutes:.1f} business impact minutes{rate}"
        facts.append(Fact("Business impact", minutes))
    if explanation and explanation.visibility_reasons:
        facts.append(Fact("High visibility", "; ".join(explanation.visibility_reasons)))
    roots = notice.root_cause_candidates or (context.root_cause_candidates if context else ())
    if not roots and explanation:
        roots = (explanation.cause_ci_id,)
    if roots:
        facts.append(Fact("Root cause candidate", ", ".join(roots)))
    suspects = notice.suspect_changes or (context.suspect_changes if context else ())
    if suspects:
        facts.append(Fact("Suspect changes", "; ".join(_change(c) for c in suspects)))
    if notice.escalation is not None:
        step = notice.escalation
        facts.append(Fact("Escalation", f"level {step.level}: {step.contact}"))
    if notice.incident_id:
        state = f" ({context.state})" if context else ""
        facts.append(Fact("Incident", f"{notice.incident_id}{state}"))
    if link:
        facts.append(Fact("Dashboard", link))
    return facts


def _change(change: SuspectChange) -> str:
    summary = f": {change.summary}" if change.summary else ""
    text = f"{change.kind.value} on {change.ci_id} at {_when(change.time)}{summary}"
    if change.assessment is not None:
        a = change.assessment
        text += (
            f" (assessed worst case {a.worst_case_business_impact_minutes:,.0f} business impact "
            f"minutes, expected {a.expected_business_impact_minutes:,.0f})"
        )
    return text


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

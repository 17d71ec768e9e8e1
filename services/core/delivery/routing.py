"""Which destinations a notice goes to, and what each is asked to do.

- Alerts and ITSM records go to the destinations of every route they match, and to every
  destination that already holds their subject: the resolve of a page reaches the pager that
  was paged, whatever its priority is now.
- An incident acknowledged or resolved in impactline is passed on to the pagers, chat channels
  and ITSM tools that hold one of its alerts or records (acknowledge the page, note it on the
  ticket), and to the routes that ask for incident events.

Every planned delivery has an id derived from the destination, the message and the subject,
so planning the same message twice (a redelivered batch) plans the same deliveries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from impactline.core.contracts import DestinationKind, derived_id
from impactline.core.delivery.config import ACCEPTS, RouteFile, Source, When
from impactline.core.delivery.notice import Action, Notice

PAGERS = frozenset({DestinationKind.PAGERDUTY, DestinationKind.OPSGENIE})
CHAT = frozenset({DestinationKind.SLACK, DestinationKind.TEAMS})
ITSM_TOOLS = frozenset({DestinationKind.SERVICENOW, DestinationKind.JIRA})


@dataclass(frozen=True, slots=True)
class Planned:
    delivery_id: str
    destination: str
    kind: DestinationKind
    action: Action
    subject: str
    notice: Notice


@dataclass(frozen=True, slots=True)
class Holding:
    destination: str
    subject: str
    incident_id: str | None
    last_action: Action | None = None


@dataclass
class Holdings:
    """Which destinations hold which subjects, and what each was last asked; grows while a batch
    is planned, so a trigger and its resolve in one batch reach the same places."""

    by_subject: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_incident: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    last: dict[tuple[str, str], Action] = field(default_factory=dict)

    @classmethod
    def of(cls, held: Iterable[Holding]) -> Holdings:
        holdings = cls()
        for holding in held:
            holdings.add(holding.destination, holding.subject, holding.incident_id)
            if holding.last_action is not None:
                holdings.last[(holding.destination, holding.subject)] = holding.last_action
        return holdings

    def add(self, destination: str, subject: str, incident_id: str | None) -> None:
        self.by_subject[subject].add(destination)
        if incident_id is not None:
            self.by_incident[incident_id].add((destination, subject))


def delivery_id(destination: str, event_id: str, subject: str) -> str:
    return derived_id("delivery", destination, event_id, subject)


def plan(notices: Iterable[Notice], routes: RouteFile, holdings: Holdings) -> list[Planned]:
    """Every delivery of `notices`, in their order; `holdings` is updated as it goes."""
    planned: list[Planned] = []
    for notice in notices:
        if notice.source is Source.INCIDENT:
            found = _plan_incident(notice, routes, holdings)
        else:
            found = _plan_message(notice, routes, holdings)
        for item in found:
            if item.notice.source is not Source.INCIDENT:
                holdings.add(item.destination, item.subject, item.notice.incident_id)
            holdings.last[(item.destination, item.subject)] = item.action
        planned += found
    return planned


def matches(when: When, notice: Notice) -> bool:
    if when.source and notice.source not in when.source:
        return False
    if notice.source is Source.INCIDENT:
        return not when.message_conditions
    checks = (
        not when.priority or notice.priority in when.priority,
        not when.business_domain or notice.business_domain in when.business_domain,
        not when.owner_team or notice.owner_team in when.owner_team,
        not when.service
        or any(fnmatchcase(notice.service_id or "", pattern) for pattern in when.service),
        when.high_visibility is None or notice.high_visibility is when.high_visibility,
        not when.calendar_period or bool(set(when.calendar_period) & set(notice.active_periods)),
    )
    return all(checks)


def routed_destinations(notice: Notice, routes: RouteFile) -> list[str]:
    """Destinations of the routes `notice` matches that take its kind of message, in order."""
    found: dict[str, None] = {}
    for route in routes.routes:
        if not matches(route.when, notice):
            continue
        for name in route.to:
            if notice.source in ACCEPTS[routes.destinations[name].kind]:
                found[name] = None
    return list(found)


def escalation_destinations(routes: RouteFile, level: int, contact: str) -> tuple[str, ...]:
    """The destinations of the first escalation target matching the step; none: nobody."""
    for target in routes.escalation:
        if target.matches(level, contact):
            return target.to
    return ()


def _plan_message(notice: Notice, routes: RouteFile, holdings: Holdings) -> list[Planned]:
    names = dict.fromkeys(routed_destinations(notice, routes))
    for name in sorted(holdings.by_subject.get(notice.subject, ())):
        if name in routes.destinations:  # a destination removed from the file is not asked
            names[name] = None
    return [_planned(routes, name, notice.action, notice.subject, notice) for name in names]


def _plan_incident(notice: Notice, routes: RouteFile, holdings: Holdings) -> list[Planned]:
    found = {
        name: _planned(routes, name, notice.action, notice.subject, notice)
        for name in routed_destinations(notice, routes)
    }
    planned = list(found.values())
    if notice.incident_id is None or notice.action not in (Action.ACKNOWLEDGE, Action.RESOLVE):
        return planned
    for name, subject in sorted(holdings.by_incident.get(notice.incident_id, ())):
        destination = routes.destinations.get(name)
        if destination is None:
            continue
        action = sync_action(destination.kind, notice.action)
        if action is None or _settled(holdings.last.get((name, subject)), notice.action):
            continue
        planned.append(_planned(routes, name, action, subject, notice))
    return planned


def _settled(last: Action | None, wanted: Action) -> bool:
    """Whether a destination already has what an incident sync would tell it: an alert that was
    resolved (by its own resolve) needs neither an acknowledge nor another resolve."""
    if last is Action.RESOLVE:
        return True
    return wanted is Action.ACKNOWLEDGE and last in (Action.ACKNOWLEDGE, Action.NOTE)


def sync_action(kind: DestinationKind, action: Action) -> Action | None:
    """What an incident acknowledged or resolved in impactline asks of a destination holding
    one of its subjects; None: nothing (ITSM records close with their own resolve; a webhook
    takes incident events through a route)."""
    if kind in PAGERS or kind in CHAT:
        return action
    if kind in ITSM_TOOLS and action is Action.ACKNOWLEDGE:
        return Action.NOTE
    return None


def _planned(routes: RouteFile, name: str, action: Action, subject: str, notice: Notice) -> Planned:
    kind = routes.destinations[name].kind
    return Planned(delivery_id(name, notice.event_id, subject), name, kind, action, subject, notice)

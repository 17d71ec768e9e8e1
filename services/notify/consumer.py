"""From the topics to the delivery log: each batch of `alerts`, `itsm` and `incidents` messages is
routed (pure) and written as pending deliveries in one transaction; the offsets are committed
after that (the `Projection` loop), and the dispatchers take it from there.

Nothing here calls a destination, so a slow or dead destination never holds up the consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from impactline.core.contracts import (
    AlertEvent,
    Contract,
    IncidentEvent,
    IncidentState,
    ItsmIncidentEvent,
)
from impactline.core.delivery import (
    Action,
    Holdings,
    Notice,
    Planned,
    RouteFile,
    Source,
    from_alert,
    from_incident,
    from_itsm,
    plan,
)
from impactline.core.delivery.escalation import ESCALATED_PRIORITIES
from impactline.core.delivery.routing import PAGERS
from impactline.notify.store import NotifyStore

log = logging.getLogger(__name__)


def notices_of(events: Iterable[Contract]) -> tuple[list[IncidentEvent], list[Notice]]:
    """The incident events (kept as context) and every message as a notice.

    A batch mixes topics in no particular order. Alerts and ITSM records go first, so an
    incident resolved in the same batch as its alert's own resolve finds the alert resolved
    already and is not passed on a second time.
    """
    incidents: list[IncidentEvent] = []
    notices: list[Notice] = []
    for event in events:
        if isinstance(event, AlertEvent):
            notices.append(from_alert(event))
        elif isinstance(event, ItsmIncidentEvent):
            notices.append(from_itsm(event))
        elif isinstance(event, IncidentEvent):
            incidents.append(event)
    notices += [from_incident(event) for event in incidents]
    return incidents, notices


class Router:
    """Applies a batch: the `Projection` calls `apply` and commits the offsets after it."""

    def __init__(
        self,
        store: NotifyStore,
        routes: RouteFile,
        on_planned: Callable[[set[str]], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.routes = routes
        self.on_planned = on_planned
        self.planned = 0

    async def apply(self, events: list[Contract]) -> int:
        incidents, notices = notices_of(events)
        if not notices:
            return 0
        held = await self.store.holdings(
            (n.subject for n in notices),
            (n.incident_id for n in notices if n.incident_id is not None),
        )
        planned = plan(notices, self.routes, Holdings.of(held))
        pages, closed = pages_of(planned, notices)
        acknowledged = [
            e.incident_id
            for e in incidents
            if e.state in (IncidentState.ACKNOWLEDGED, IncidentState.RESOLVED)
        ]
        newest = max(n.time for n in notices)
        new = await self.store.record(incidents, planned, pages, closed, acknowledged, newest)
        self.planned += new
        if planned:
            self.on_planned({p.destination for p in planned})
        return new


def pages_of(
    planned: Sequence[Planned], notices: Sequence[Notice]
) -> tuple[list[Notice], list[str]]:
    """P1 alerts paged to a pager (escalation watches them) and alerts that closed a page: a
    resolve, or a re-alert below P1."""
    paged = {
        p.notice.subject: p.notice
        for p in planned
        if p.kind in PAGERS
        and p.action is Action.TRIGGER
        and p.notice.source is Source.ALERT
        and p.notice.priority in ESCALATED_PRIORITIES
    }
    closed = [
        n.subject
        for n in notices
        if n.source is Source.ALERT
        and n.subject not in paged
        and (n.action is Action.RESOLVE or n.priority not in ESCALATED_PRIORITIES)
    ]
    return list(paged.values()), closed

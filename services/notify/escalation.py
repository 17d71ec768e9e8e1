"""Escalates P1 pages nobody acknowledged: every few seconds, each open page is checked against
its business service's escalation path in the current catalog; a step whose `after_minutes`
have passed since the page (wall clock: people answer pages in real minutes) is delivered to the
route file's escalation targets for that step, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from impactline.core.delivery import Action, Planned, RouteFile, Source
from impactline.core.delivery.config import ACCEPTS
from impactline.core.delivery.escalation import due_steps, next_due
from impactline.core.delivery.notice import Escalation, escalated
from impactline.core.delivery.routing import delivery_id, escalation_destinations
from impactline.notify.store import NotifyStore
from impactline.runtime.catalog_source import CatalogHolder
from impactline.runtime.clock import Clock

log = logging.getLogger(__name__)
SETTLED = frozenset({"acknowledged", "resolved"})


class Escalator:
    def __init__(
        self,
        store: NotifyStore,
        routes: RouteFile,
        holder: CatalogHolder,
        clock: Clock,
        on_planned: Callable[[set[str]], None] = lambda _: None,
        every_s: float = 5.0,
    ) -> None:
        self.store = store
        self.routes = routes
        self.holder = holder
        self.clock = clock
        self.on_planned = on_planned
        self.every_s = every_s
        self.escalated = 0

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("escalation check failed (%s); trying again", exc)
            await asyncio.sleep(self.every_s)

    async def round(self) -> int:
        """Escalate what is due now; returns how many deliveries were planned."""
        now = self.clock.now()
        catalog = self.holder.current.catalog
        settled: list[str] = []
        count = 0
        for page, notice, incident_state in await self.store.open_pages():
            if incident_state in SETTLED:
                settled.append(page.subject)
                continue
            service = catalog.services.get(page.service_id)
            steps = service.support.escalation if service and service.support else ()
            due = due_steps(page, steps, now)
            if not due:
                if next_due(page, steps) is None:
                    settled.append(page.subject)
                continue
            planned: list[Planned] = []
            for step in due:
                raised = escalated(
                    notice,
                    Escalation(**step.model_dump(include={"level", "contact", "after_minutes"})),
                    now,
                )
                for name in escalation_destinations(self.routes, step.level, step.contact):
                    destination = self.routes.destinations[name]
                    if Source.ALERT not in ACCEPTS[destination.kind]:
                        continue
                    planned.append(
                        Planned(
                            delivery_id(name, raised.event_id, raised.subject),
                            name,
                            destination.kind,
                            Action.TRIGGER,
                            raised.subject,
                            raised,
                        )
                    )
                log.info(
                    "page %s not acknowledged after %d min: escalating to level %d (%s)",
                    page.subject,
                    step.after_minutes,
                    step.level,
                    step.contact,
                )
            top = max(step.level for step in due)
            finished = not [s for s in steps if s.level > top]
            await self.store.escalate(page.subject, top, planned, finished)
            count += len(planned)
            if planned:
                self.on_planned({p.destination for p in planned})
        if settled:
            await self.store.close_pages(settled)
        self.escalated += count
        return count

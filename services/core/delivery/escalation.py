"""Escalation of pages nobody acknowledges: the catalog gives each business service its steps
(level, contact, after how many minutes); a P1 page still unacknowledged when a step's time has
passed notifies that step's contact, through the route file's escalation targets.

Level 1 at 0 minutes is the first page itself; every later step due since the page was sent is
escalated to once, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from impactline.core.catalog.model import EscalationStep

ESCALATED_PRIORITIES = frozenset({"P1"})


@dataclass(frozen=True, slots=True)
class Page:
    """A sent page of one subject and how far it has been escalated."""

    subject: str
    service_id: str
    priority: str | None
    paged_at: datetime
    level: int  # the highest level notified so far (1: the first page)


def due_steps(page: Page, steps: Sequence[EscalationStep], now: datetime) -> list[EscalationStep]:
    """The steps above the page's level whose time has come, lowest first."""
    if page.priority not in ESCALATED_PRIORITIES:
        return []
    first = min((step.level for step in steps), default=1)
    return [
        step
        for step in sorted(steps, key=lambda s: s.level)
        if step.level > max(page.level, first)
        and now - page.paged_at >= timedelta(minutes=step.after_minutes)
    ]


def next_due(page: Page, steps: Sequence[EscalationStep]) -> datetime | None:
    """When the next step above the page's level falls due; None: nothing left."""
    later = [step for step in steps if step.level > page.level]
    if page.priority not in ESCALATED_PRIORITIES or not later:
        return None
    step = min(later, key=lambda s: s.level)
    return page.paged_at + timedelta(minutes=step.after_minutes)

"""Recurring maintenance windows, written with the business calendars' own rules.

A maintenance plan names a calendar (its time zone, business days and holidays apply) and
windows, each with the CIs or services it works on and one period rule of the calendar
language (`rrule`, `weekly`, `month_end`, `month_start`, `quarter_end`, `dates`, `ics`;
docs/scoring.md, section 1)::

    calendar: uk-finance
    windows:
      - id: gl-db-patching
        cis: [db-gl-01]
        rrule: {rule: "FREQ=MONTHLY;BYDAY=SA;BYSETPOS=1", start: "2026-01-03T22:00:00",
                duration: PT4H}
        comment: first Saturday night of the month

The windows become periods of a calendar built from the named calendar's document, so every
rule means exactly what it means there. Occurrences expand into the correlation's maintenance
windows (`Suppressions`): failures inside one open no incident and their impact is published as
planned. An occurrence that falls in a heavy period of a service the window can impair is
reported as a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from impactline.core.calendar import BusinessCalendar, CalendarError
from impactline.core.catalog import Catalog
from impactline.core.correlation import MaintenanceWindow, Suppressions
from impactline.core.whatif.errors import WhatIfError
from impactline.core.whatif.periods import periods_crossed

_RULES = ("rrule", "weekly", "month_end", "month_start", "quarter_end", "dates", "ics")


class WindowDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)
    cis: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    comment: str = ""


class PlanDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendar: str
    windows: list[WindowDocument] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Occurrence:
    window: str
    start: datetime
    end: datetime
    cis: tuple[str, ...]
    services: tuple[str, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class Warning:
    occurrence: Occurrence
    service_id: str
    period: str
    weight: float

    def describe(self) -> str:
        return (
            f"{self.occurrence.window} {self.occurrence.start:%Y-%m-%d %H:%M}Z-"
            f"{self.occurrence.end:%Y-%m-%d %H:%M}Z falls in {self.period} x{self.weight:g} "
            f"of {self.service_id}"
        )


@dataclass(frozen=True)
class MaintenancePlan:
    calendar: BusinessCalendar
    windows: tuple[WindowDocument, ...]

    def occurrences(self, start: datetime, end: datetime) -> tuple[Occurrence, ...]:
        """Every occurrence overlapping [start, end), whole (not clipped), in time order."""
        ids = {w.id: w for w in self.windows}
        open_at: dict[str, datetime] = {}
        found: list[Occurrence] = []
        cursor = start
        while True:
            active = set(self.calendar.weight_at(cursor).periods) & ids.keys()
            for name in list(open_at):
                if name not in active:
                    found.append(self._occurrence(ids[name], open_at.pop(name), cursor))
            if cursor < end:
                for name in active - open_at.keys():
                    open_at[name] = cursor
            if cursor >= end and not open_at:
                break
            change = self.calendar.next_change_after(cursor)
            if change is None:
                break
            cursor = change
        return tuple(sorted(found, key=lambda o: (o.start, o.window)))

    @staticmethod
    def _occurrence(window: WindowDocument, start: datetime, end: datetime) -> Occurrence:
        return Occurrence(
            window.id,
            start.astimezone(UTC),
            end.astimezone(UTC),
            tuple(window.cis),
            tuple(window.services),
            window.comment,
        )


def load_plan(
    data: Any, calendar_documents: Mapping[str, Mapping[str, Any]], source: str
) -> MaintenancePlan:
    """A plan from its parsed YAML; `calendar_documents` maps calendar names to their parsed
    documents. Errors name `source` and the path inside it."""
    try:
        plan = PlanDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise WhatIfError(f"{source}: {path}", first["msg"]) from None
    base = calendar_documents.get(plan.calendar)
    if base is None:
        known = ", ".join(sorted(calendar_documents)) or "none"
        raise WhatIfError(f"{source}: calendar", f"no calendar {plan.calendar!r}; known: {known}")
    periods = []
    for n, window in enumerate(plan.windows):
        rules = {k: v for k, v in (window.model_extra or {}).items() if k in _RULES}
        extra = set(window.model_extra or {}) - set(_RULES) - {"on_holidays"}
        if extra:
            raise WhatIfError(f"{source}: windows[{n}]", f"unknown keys {sorted(extra)}")
        if len(rules) != 1:
            raise WhatIfError(
                f"{source}: windows[{n}]", f"expected exactly one rule of {', '.join(_RULES)}"
            )
        if not window.cis and not window.services:
            raise WhatIfError(f"{source}: windows[{n}]", "name at least one CI or service")
        on_holidays = (window.model_extra or {}).get("on_holidays")
        period = {"name": window.id, "weight": 1.0, **rules}
        if on_holidays is not None:
            period["on_holidays"] = on_holidays
        periods.append(period)
    document = {k: v for k, v in base.items() if k not in ("periods", "name", "description")}
    document["periods"] = periods
    try:
        calendar = BusinessCalendar.from_document(plan.calendar, document, source=source)
    except CalendarError as exc:
        raise WhatIfError(f"{source}: windows", str(exc).replace("periods[", "windows[")) from None
    return MaintenancePlan(calendar, tuple(plan.windows))


def check_plan(
    plan: MaintenancePlan,
    catalog: Catalog,
    calendars: Mapping[str, BusinessCalendar],
    start: datetime,
    end: datetime,
    heavy: float = 2.0,
) -> tuple[tuple[Occurrence, ...], tuple[Warning, ...]]:
    """The occurrences in [start, end) and a warning for each one that crosses a period
    weighing `heavy` or more for a business service the window can impair."""
    for window in plan.windows:
        for n, ci in enumerate(window.cis):
            if ci not in catalog.graph:
                raise WhatIfError(f"windows[{window.id}].cis[{n}]", f"no CI {ci!r} in the catalog")
    occurrences = plan.occurrences(start, end)
    warnings: list[Warning] = []
    for occurrence in occurrences:
        reached: set[str] = set(occurrence.services)
        for ci in occurrence.cis:
            reached |= catalog.graph.services_affected_by(ci)
        for service_id in sorted(reached):
            service = catalog.services.get(service_id)
            calendar = calendars.get(service.calendar or "") if service else None
            spans = periods_crossed(calendar, occurrence.start, occurrence.end)
            worst = max(spans, key=lambda s: s.weight, default=None)
            if worst is not None and worst.weight >= heavy:
                warnings.append(Warning(occurrence, service_id, worst.period, worst.weight))
    return occurrences, tuple(warnings)


def as_suppressions(occurrences: tuple[Occurrence, ...]) -> Suppressions:
    """The occurrences as the correlation's maintenance windows: their impact is planned."""
    return Suppressions(
        maintenance_windows=[
            MaintenanceWindow(
                id=f"{o.window}@{o.start:%Y%m%dT%H%MZ}",
                starts_at=o.start,
                ends_at=o.end,
                cis=list(o.cis),
                services=list(o.services),
                comment=o.comment,
            )
            for o in occurrences
        ]
    )

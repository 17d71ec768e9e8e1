"""Scenarios: timed sequences of telemetry that demos and tests play against a running system.

A step's time is either absolute or an *anchor*: an instant found in a business calendar
relative to the day the scenario runs ("10:00 on the last day of the latest month-end close",
"10:00 on an ordinary business day 18 days before it"), so a demo tells the same story on any
day. Pure: the caller passes the calendars and today's instant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from impactline.core.calendar import BusinessCalendar
from impactline.core.calendar.clock import local_instant
from impactline.core.contracts import AwareDatetime, Identifier, TelemetryEvent, derived_id
from impactline.core.states import State

SEARCH_DAYS = 120
"""How far back an anchor is looked for before the scenario is refused."""
_REFERENCE = re.compile(r"^(?P<anchor>[a-z0-9-]+)(?:\s*\+\s*(?P<seconds>\d+)s)?$")


class ScenarioError(ValueError):
    """A scenario that cannot be played as written; the message says which part and why."""


class PeriodAnchor(BaseModel):
    """`local_time` on the last business day of the latest occurrence of `period` that ends
    on or before today."""

    model_config = ConfigDict(extra="forbid")

    calendar: str
    period: str
    day: Literal["last"] = "last"
    local_time: time


class OrdinaryDayAnchor(BaseModel):
    """`local_time` on the latest business day at least `days_before` days before another
    anchor on which only the calendar's weight-1 period is in force: no holiday, no special
    period."""

    model_config = ConfigDict(extra="forbid")

    calendar: str
    ordinary_day_before: str
    days_before: int = Field(ge=0, le=SEARCH_DAYS)
    local_time: time


Anchor = Annotated[PeriodAnchor | OrdinaryDayAnchor, Field(union_mode="left_to_right")]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_seconds: float = Field(ge=0, description="Wait this long after the previous step.")
    ci_id: Identifier
    state: State
    summary: str = ""
    at: AwareDatetime | str | None = Field(
        default=None,
        description="Set the scenario clock to this time, or to an anchor (`month-end`, "
        "`mid-month + 65s`); later steps continue from it as wall time passes.",
    )

    def event(
        self, at: datetime, scenario: str, index: int, source: str = "scenario"
    ) -> TelemetryEvent:
        # The id derives from the scenario, the step and its time: playing the same story on
        # the same day twice sends the same events, and idempotent sinks keep them once.
        return TelemetryEvent(
            id=derived_id("scenario", scenario, str(index), at.isoformat()),
            ci_id=self.ci_id,
            state=self.state,
            summary=self.summary,
            time=at,
            source=source,
        )


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    anchors: dict[str, Anchor] = Field(default_factory=dict)
    clock: str | None = Field(
        default=None,
        description="Anchor the whole system's clock is set to (a minute before it) while the "
        "scenario runs, so that what it shows agrees with the story.",
    )
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        for name, anchor in self.anchors.items():
            if (
                isinstance(anchor, OrdinaryDayAnchor)
                and anchor.ordinary_day_before not in self.anchors
            ):
                raise ValueError(
                    f"anchors.{name}.ordinary_day_before: no anchor {anchor.ordinary_day_before!r}"
                )
        if self.clock is not None and self.clock not in self.anchors:
            raise ValueError(f"clock: no anchor {self.clock!r}")
        for n, step in enumerate(self.steps):
            if isinstance(step.at, str):
                match = _REFERENCE.match(step.at)
                if match is None or match["anchor"] not in self.anchors:
                    raise ValueError(
                        f"steps[{n}].at: expected a time or an anchor such as "
                        f"'{next(iter(self.anchors), 'name')} + 65s', got {step.at!r}"
                    )
        return self

    def resolve(
        self, calendars: Mapping[str, BusinessCalendar], now: datetime
    ) -> dict[str, datetime]:
        """Every anchor's instant for a scenario played at `now`."""
        resolved: dict[str, datetime] = {}
        pending = dict(self.anchors)
        while pending:
            for name, anchor in list(pending.items()):
                if isinstance(anchor, OrdinaryDayAnchor):
                    if anchor.ordinary_day_before not in resolved:
                        continue
                    base = resolved[anchor.ordinary_day_before]
                    resolved[name] = _ordinary_day(_calendar(calendars, name, anchor), anchor, base)
                else:
                    resolved[name] = _last_day_of(_calendar(calendars, name, anchor), anchor, now)
                del pending[name]
        return resolved

    def time_of(self, step: Step, anchors: Mapping[str, datetime]) -> datetime | None:
        """The instant a step sets the clock to, if it does."""
        if step.at is None or isinstance(step.at, datetime):
            return step.at
        match = _REFERENCE.match(step.at)
        assert match is not None  # validated
        return anchors[match["anchor"]] + timedelta(seconds=int(match["seconds"] or 0))


class ScenarioClock:
    """Scenario time: wall time until a step sets it, then that time plus the wall time since."""

    def __init__(self) -> None:
        self._base: datetime | None = None
        self._wall_base: datetime | None = None

    def time_of(self, set_to: datetime | None, wall_now: datetime) -> datetime:
        if set_to is not None:
            self._base, self._wall_base = set_to, wall_now
            return set_to
        if self._base is None or self._wall_base is None:
            return wall_now
        return self._base + (wall_now - self._wall_base)


def _calendar(
    calendars: Mapping[str, BusinessCalendar], name: str, anchor: PeriodAnchor | OrdinaryDayAnchor
) -> BusinessCalendar:
    calendar = calendars.get(anchor.calendar)
    if calendar is None:
        raise ScenarioError(
            f"anchors.{name}.calendar: no calendar {anchor.calendar!r}; "
            f"loaded: {', '.join(sorted(calendars)) or 'none'}"
        )
    return calendar


def _at(calendar: BusinessCalendar, day: date, wall: time) -> datetime:
    return local_instant(day, wall, calendar.tz)


def _last_day_of(calendar: BusinessCalendar, anchor: PeriodAnchor, now: datetime) -> datetime:
    today = calendar.local_time(now).date()
    for back in range(SEARCH_DAYS):
        day = today - timedelta(days=back)
        if not _in(calendar, day, anchor.local_time, anchor.period):
            continue
        following = _next_business_day(calendar, day)
        if not _in(calendar, following, anchor.local_time, anchor.period):
            return _at(calendar, day, anchor.local_time)
    raise ScenarioError(
        f"calendar {calendar.name!r} has no {anchor.period!r} at {anchor.local_time} in the "
        f"{SEARCH_DAYS} days before {today}"
    )


def _ordinary_day(
    calendar: BusinessCalendar, anchor: OrdinaryDayAnchor, base: datetime
) -> datetime:
    start = calendar.local_time(base).date() - timedelta(days=anchor.days_before)
    for back in range(SEARCH_DAYS):
        day = start - timedelta(days=back)
        verdict = calendar.weight_at(_at(calendar, day, anchor.local_time))
        if (
            calendar.is_business_day(day)
            and verdict.holiday is None
            and len(verdict.periods) == 1
            and verdict.weight == 1.0
        ):
            return _at(calendar, day, anchor.local_time)
    raise ScenarioError(
        f"calendar {calendar.name!r} has no ordinary business day at {anchor.local_time} in the "
        f"{SEARCH_DAYS} days before {start}"
    )


def _in(calendar: BusinessCalendar, day: date, wall: time, period: str) -> bool:
    return period in calendar.weight_at(_at(calendar, day, wall)).periods


def _next_business_day(calendar: BusinessCalendar, day: date) -> date:
    following = day + timedelta(days=1)
    while not calendar.is_business_day(following):
        following += timedelta(days=1)
    return following

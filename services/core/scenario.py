"""Scenarios: timed sequences of telemetry that demos and tests play against a running system."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from impactline.core.contracts import AwareDatetime, Identifier, TelemetryEvent
from impactline.core.states import State


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_seconds: float = Field(ge=0, description="Wait this long after the previous step.")
    ci_id: Identifier
    state: State
    summary: str = ""
    at: AwareDatetime | None = Field(
        default=None,
        description="Set the scenario clock to this time (replays, demos); later steps continue "
        "from it as wall time passes.",
    )

    def event(self, at: datetime, source: str = "scenario") -> TelemetryEvent:
        return TelemetryEvent(
            ci_id=self.ci_id, state=self.state, summary=self.summary, time=at, source=source
        )


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    steps: list[Step] = Field(min_length=1)


class ScenarioClock:
    """Scenario time: wall time until a step sets it, then that time plus the wall time since."""

    def __init__(self) -> None:
        self._base: datetime | None = None
        self._wall_base: datetime | None = None

    def time_of(self, step: Step, wall_now: datetime) -> datetime:
        if step.at is not None:
            self._base, self._wall_base = step.at, wall_now
            return step.at
        if self._base is None or self._wall_base is None:
            return wall_now
        return self._base + (wall_now - self._wall_base)

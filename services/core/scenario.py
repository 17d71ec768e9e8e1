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
        default=None, description="Observation time to report instead of now (replays, demos)."
    )

    def event(self, now: datetime, source: str = "scenario") -> TelemetryEvent:
        return TelemetryEvent(
            ci_id=self.ci_id,
            state=self.state,
            summary=self.summary,
            time=self.at or now,
            source=source,
        )


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    steps: list[Step] = Field(min_length=1)

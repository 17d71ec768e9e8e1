"""Correlation and impact composed in memory, under the same time rules as the stream workers.

One correlation processor and one impact processor, each behind the event clock of a single
partition (`Timed`), fed CI telemetry and change records and moved on by wall clock readings.
The stream workers run exactly these processors, one per input partition; this composition
serves tests (the same events give the same outcomes however they arrive), replays and
simulations without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from impactline.core import topics
from impactline.core.contracts import ChangeEvent, Contract, ServiceHealthEvent, TelemetryEvent
from impactline.core.correlation.processor import CorrelationProcessor
from impactline.core.eventtime import EventClock, Timed, TimePolicy
from impactline.core.impact.processor import ImpactProcessor
from impactline.core.processing import Output, Unprocessable


@dataclass
class Pipeline:
    correlation: CorrelationProcessor
    impact: ImpactProcessor
    policy: TimePolicy = field(default_factory=TimePolicy)
    refused: list[tuple[Contract, str]] = field(default_factory=list)
    """Inputs the processors refused, with the reason (what the workers dead-letter)."""

    def __post_init__(self) -> None:
        self._correlate = Timed(self.correlation, EventClock(self.policy))
        self._impact = Timed(self.impact, EventClock(self.policy))

    def event(self, event: TelemetryEvent | ChangeEvent, wall: datetime) -> list[Output]:
        """`event` read at `wall`; every output it led to, in the order produced."""
        topic = topics.TELEMETRY if isinstance(event, TelemetryEvent) else topics.CHANGES
        out = self._correlate.arrive(event.time, wall)
        try:
            out += self.correlation.handle(topic, event)
        except Unprocessable as exc:
            self.refused.append((event, str(exc)))
        return self._onward(out, wall)

    def tick(self, wall: datetime) -> list[Output]:
        """The wall clock reads `wall` and nothing is waiting to be read."""
        out = self._onward(self._correlate.tick(wall, caught_up=True), wall)
        return out + self._impact.tick(wall, caught_up=True)

    def run_until(self, horizon: datetime) -> list[Output]:
        """Fire every timer due up to `horizon` in event time, as if the watermark had moved
        there (the end of a replay or a simulation)."""
        out = self._onward(self.correlation.advance(horizon), horizon)
        return out + self.impact.advance(horizon)

    def _onward(self, outputs: list[Output], wall: datetime) -> list[Output]:
        """Correlation's outputs and, after each service-health event, what impact made of it."""
        out: list[Output] = []
        for output in outputs:
            out.append(output)
            health = output.event
            if not isinstance(health, ServiceHealthEvent):
                continue
            out += self._impact.arrive(health.time, wall)
            try:
                out += self.impact.handle(topics.SERVICE_HEALTH, health)
            except Unprocessable as exc:
                self.refused.append((health, str(exc)))
        return out

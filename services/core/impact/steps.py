"""What an engine call returns: the episode state to keep and the events to publish."""

from __future__ import annotations

from dataclasses import dataclass, field

from impactline.core.contracts import AlertEvent, ImpactEvent, ItsmIncidentEvent
from impactline.core.impact.episode import EpisodeState


@dataclass(frozen=True, slots=True)
class RoutedImpact:
    """An impact event and the topic names (without deployment prefix) it is published to."""

    event: ImpactEvent
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one call: the state to keep (None: no episode is open any more) and the
    events to publish, each list in the order the events happened."""

    state: EpisodeState | None
    impacts: tuple[RoutedImpact, ...] = ()
    alerts: tuple[AlertEvent, ...] = ()
    itsm: tuple[ItsmIncidentEvent, ...] = ()


@dataclass
class Outputs:
    """The events of one call, collected in order."""

    impacts: list[RoutedImpact] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)
    itsm: list[ItsmIncidentEvent] = field(default_factory=list)

    def step(self, state: EpisodeState | None) -> Step:
        return Step(state, tuple(self.impacts), tuple(self.alerts), tuple(self.itsm))

"""The impact engine: per business service, health events and clock ticks in, impact out.

The engine holds no per-service state of its own: the caller keeps one `EpisodeState` per
business service (a keyed table in the streaming shell) and hands it to `on_health` or
`on_tick`, which return a `Step` with the new state and the events to publish. Everything here
is pure; the catalog, calendars and configuration are swapped with `use`.

Time: events carry their observation time, which in replays and scenarios may be far from the
wall clock. An episode keeps `clock_offset = event time - received_at` of its latest health event
and `on_tick(now_wall)` works in episode time, `now_wall + clock_offset`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from impactline.core.calendar import BusinessCalendar
from impactline.core.calendar.clock import require_aware
from impactline.core.catalog import Catalog
from impactline.core.catalog.model import BusinessService
from impactline.core.contracts import (
    AlertEvent,
    ImpactEvent,
    ImpactReason,
    IncidentEvent,
    ItsmAction,
    ItsmIncidentEvent,
    ServiceHealthEvent,
    derived_id,
)
from impactline.core.impact.episode import EpisodeState, Notice
from impactline.core.impact.outputs import (
    alert_event,
    impact_event,
    itsm_event,
    itsm_resolve,
    resolved_alert,
)
from impactline.core.impact.profile import profile_for
from impactline.core.impact.reading import Reading, ServiceView, mark_of, read
from impactline.core.impact.routing import DEFAULT_ROUTING, RoutingRules
from impactline.core.scoring import DEFAULT_CONFIG, ImpactAccrual, ScoringConfig, ServiceProfile
from impactline.core.states import State

DEFAULT_ACCRUAL_PERIOD = timedelta(seconds=60)
# Calendar boundaries one walk looks at most (a few a day: years of event time). A walk that
# would pass more jumps to its end: the remainder accrues in one piece and a single weight-change
# event at the end reports the new context, so an event time far ahead of an open episode costs
# bounded work and output instead of one event per boundary in between.
MAX_WALK_STEPS = 1_000


class UnknownService(LookupError):
    """A health event for a business service the catalog does not hold."""


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
class _Outputs:
    impacts: list[RoutedImpact] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)
    itsm: list[ItsmIncidentEvent] = field(default_factory=list)

    def step(self, state: EpisodeState | None) -> Step:
        return Step(state, tuple(self.impacts), tuple(self.alerts), tuple(self.itsm))


class ImpactEngine:
    def __init__(
        self,
        catalog: Catalog,
        calendars: Mapping[str, BusinessCalendar],
        config: ScoringConfig = DEFAULT_CONFIG,
        routing: RoutingRules = DEFAULT_ROUTING,
        *,
        catalog_version: int = 0,
        accrual_period: timedelta = DEFAULT_ACCRUAL_PERIOD,
        profiles: Callable[[BusinessService], ServiceProfile] = profile_for,
    ) -> None:
        if accrual_period <= timedelta(0):
            raise ValueError(f"accrual_period must be positive, got {accrual_period}")
        self.accrual_period = accrual_period
        self._profiles = profiles
        self._views: dict[str, ServiceView | None] = {}
        self.use(catalog, catalog_version, calendars=calendars, config=config, routing=routing)

    def use(
        self,
        catalog: Catalog,
        catalog_version: int,
        *,
        calendars: Mapping[str, BusinessCalendar] | None = None,
        config: ScoringConfig | None = None,
        routing: RoutingRules | None = None,
    ) -> None:
        """Switch to another catalog version (and optionally calendars, scoring, routing).
        Open episodes continue under the new data from their next event on."""
        self.catalog = catalog
        self.catalog_version = catalog_version
        if calendars is not None:
            self.calendars = dict(calendars)
        if config is not None:
            self.config = config
        if routing is not None:
            self.routing = routing
        self._views.clear()

    def view(self, service_id: str) -> ServiceView | None:
        """The service as scored now, or None when the catalog does not hold it."""
        if service_id not in self._views:
            service = self.catalog.services.get(service_id)
            self._views[service_id] = None if service is None else self._view_of(service)
        return self._views[service_id]

    def on_health(
        self,
        state: EpisodeState | None,
        health: ServiceHealthEvent,
        received_at: datetime,
        burn_rate: float | None = None,
    ) -> Step:
        """A business service changed state. `state` is the service's open episode, if any;
        `received_at` is the wall-clock time the event was taken from the topic; `burn_rate`
        is the service's error-budget burn at the event's time (None: no evidence), which
        raises the urgency of what is reported."""
        view = self.view(health.service_id)
        if view is None:
            raise UnknownService(
                f"service-health event {health.id} names business service "
                f"{health.service_id!r}, which catalog version {self.catalog_version} does not "
                "hold; publish a catalog that has it or drop the event"
            )
        if state is not None and state.service_id != health.service_id:
            raise ValueError(
                f"episode {state.episode_id} belongs to {state.service_id!r}, not to "
                f"{health.service_id!r}: episode state must be kept per business service"
            )
        at = _utc(health.time)
        offset = at - _utc(require_aware(received_at, "received_at"))
        out = _Outputs()
        if state is None:
            if health.state is State.OK:
                return Step(None)
            episode = self._start(view, health, offset)
            return out.step(
                self._report(
                    episode, view, at, ImpactReason.STATE_CHANGE, health.id, out, burn_rate
                )
            )
        if health.id == state.last_health_id:
            return Step(state)
        episode = replace(
            state,
            clock_offset=offset,
            last_health_id=health.id,
            incident_id=state.incident_id or health.incident_id,
        )
        # An event older than what was already accounted for takes effect now, not in the past.
        at = max(at, episode.updated_at)
        episode = self._walk(episode, view, at, out, burn_rate)
        if health.state is episode.state:
            return out.step(episode)
        episode = replace(
            self._accrue(episode, view, at),
            state=health.state,
            cause_ci_id=health.cause_ci_id,
            cause_event_id=health.cause_event_id,
            correlation_domain=health.correlation_domain,
        )
        if health.state is State.OK:
            self._recover(episode, view, at, health.id, out)
            return out.step(None)
        return out.step(
            self._report(episode, view, at, ImpactReason.STATE_CHANGE, health.id, out, burn_rate)
        )

    def on_tick(
        self, state: EpisodeState, now_wall: datetime, burn_rate: float | None = None
    ) -> Step:
        """Bring an open episode up to `now_wall` (wall clock): a weight-change event at every
        calendar boundary passed, then at most one accrual event, at the latest multiple of
        `accrual_period` since the episode started. `burn_rate` is the error-budget burn at
        the episode time of `now_wall`; a change of priority it causes shows at the next
        event."""
        target = state.episode_time(require_aware(now_wall, "now_wall"))
        view = self.view(state.service_id)
        if view is None:
            return self._orphaned(state, max(target, state.updated_at))
        if target <= state.updated_at:
            return Step(state)
        out = _Outputs()
        episode = self._walk(state, view, target, out, burn_rate)
        sequence = (target - episode.started_at) // self.accrual_period
        if sequence > episode.accrual_seq:
            point = episode.started_at + sequence * self.accrual_period
            # A point at or before the last event is already covered by that event's figures.
            if point > episode.updated_at:
                episode = self._accrue(episode, view, point)
                episode = self._report(
                    episode, view, point, ImpactReason.ACCRUAL, str(sequence), out, burn_rate
                )
            episode = replace(episode, accrual_seq=sequence)
        return out.step(episode)

    def next_due(self, state: EpisodeState) -> datetime:
        """The wall-clock instant from which `on_tick` has something to do for `state`: its next
        accrual point, or an earlier calendar boundary that changes its weight (now, when the
        service left the catalog). Ticks before then change nothing."""
        due = state.started_at + (state.accrual_seq + 1) * self.accrual_period
        view = self.view(state.service_id)
        if view is None:
            due = state.updated_at
        elif view.calendar is not None:
            cursor = state.updated_at
            for _ in range(MAX_WALK_STEPS):
                if cursor >= due:
                    break
                change = view.calendar.next_change_after(cursor, horizon=due - cursor)
                if change is None or change >= due:
                    break
                if mark_of(view, view.calendar.weight_at(change)) != state.calendar:
                    due = change
                    break
                cursor = change
        return _utc(due - state.clock_offset)

    def on_incident(self, state: EpisodeState, incident: IncidentEvent) -> EpisodeState:
        """Remember the first correlated incident that lists the episode's service; later
        impact events and alerts carry its id."""
        if state.incident_id is not None or state.service_id not in incident.affected_services:
            return state
        return replace(state, incident_id=incident.incident_id)

    def _view_of(self, service: BusinessService) -> ServiceView:
        calendar = self.calendars.get(service.calendar) if service.calendar else None
        return ServiceView(service, self._profiles(service), calendar)

    def _start(
        self, view: ServiceView, health: ServiceHealthEvent, offset: timedelta
    ) -> EpisodeState:
        at = _utc(health.time)
        return EpisodeState(
            episode_id=derived_id(health.service_id, health.cause_event_id),
            service_id=health.service_id,
            started_at=at,
            state=health.state,
            cause_ci_id=health.cause_ci_id,
            cause_event_id=health.cause_event_id,
            correlation_domain=health.correlation_domain,
            owner_team=self._owner_team(view, health.cause_ci_id),
            accrual=ImpactAccrual.start(at),
            clock_offset=offset,
            last_health_id=health.id,
            incident_id=health.incident_id,
        )

    def _owner_team(self, view: ServiceView, cause_ci_id: str) -> str:
        """The team that can act on the cause: the owner of the cause CI (or technical
        service), else the business service's owner."""
        for entries in (self.catalog.cis, self.catalog.technical_services):
            entry = entries.get(cause_ci_id)
            if entry is not None:
                return entry.owner
        return view.service.owner

    def _walk(
        self,
        episode: EpisodeState,
        view: ServiceView,
        until: datetime,
        out: _Outputs,
        burn_rate: float | None = None,
    ) -> EpisodeState:
        """Emit a weight-change event at each calendar boundary in (last event, until] where
        the calendar context changes, the accrual split exactly there."""
        calendar = view.calendar
        if calendar is None:
            return episode
        cursor = episode.updated_at
        steps = 0
        while cursor < until:
            change = calendar.next_change_after(cursor, horizon=until - cursor)
            if change is None or change > until:
                break
            steps += 1
            if steps >= MAX_WALK_STEPS:
                change = until  # the jump: see MAX_WALK_STEPS
            if mark_of(view, calendar.weight_at(change)) != episode.calendar:
                episode = self._accrue(episode, view, change)
                episode = self._report(
                    episode,
                    view,
                    change,
                    ImpactReason.WEIGHT_CHANGE,
                    change.isoformat(),
                    out,
                    burn_rate,
                )
            cursor = change
        return episode

    def _accrue(self, episode: EpisodeState, view: ServiceView, to: datetime) -> EpisodeState:
        rate, calendar = view.accrual_rate(episode.state, self.config)
        return replace(episode, accrual=episode.accrual.advance(to, rate, calendar))

    def _report(
        self,
        episode: EpisodeState,
        view: ServiceView,
        at: datetime,
        reason: ImpactReason,
        key: str,
        out: _Outputs,
        burn_rate: float | None = None,
    ) -> EpisodeState:
        """Emit the impact event of `episode` at `at` (its accrual already advanced there) and
        raise or update the alert and the ITSM record when the priority moved."""
        reading = read(view, episode.state, at, self.config, burn_rate)
        episode = self._route(episode, view, reading, reason, key, out)
        return self._notify(episode, view, reading, out)

    def _route(
        self,
        episode: EpisodeState,
        view: ServiceView,
        reading: Reading,
        reason: ImpactReason,
        key: str,
        out: _Outputs,
    ) -> EpisodeState:
        event = impact_event(episode, view, reading, reason, key, self.catalog_version)
        topics = tuple(dict.fromkeys((*episode.topics, *self.routing.topics_for(event))))
        out.impacts.append(RoutedImpact(event, topics))
        return replace(episode, calendar=reading.mark, priority=reading.priority, topics=topics)

    def _notify(
        self, episode: EpisodeState, view: ServiceView, reading: Reading, out: _Outputs
    ) -> EpisodeState:
        priority = reading.assessment.priority
        notice = Notice(reading.priority, priority.impact.value, priority.urgency.value)
        if episode.notice is None:
            if not reading.hurts:
                return episode
            action = ItsmAction.CREATE
        elif episode.notice.priority == notice.priority:
            return episode
        else:
            action = ItsmAction.UPDATE
        sequence = episode.notices_sent + 1
        episode = replace(episode, notice=notice, notices_sent=sequence)
        out.alerts.append(alert_event(episode, view, reading, sequence))
        out.itsm.append(itsm_event(episode, view, reading, action, sequence))
        return episode

    def _recover(
        self, episode: EpisodeState, view: ServiceView, at: datetime, key: str, out: _Outputs
    ) -> None:
        reading = read(view, State.OK, at, self.config)
        episode = self._route(episode, view, reading, ImpactReason.RECOVERED, key, out)
        self._close(episode, view.service.name, at, out)

    def _close(self, episode: EpisodeState, name: str, at: datetime, out: _Outputs) -> None:
        notice = episode.notice
        if notice is None:
            return
        sequence = episode.notices_sent + 1
        out.alerts.append(resolved_alert(episode, notice, name, at, sequence))
        out.itsm.append(itsm_resolve(episode, notice, name, at, sequence))

    def _orphaned(self, episode: EpisodeState, at: datetime) -> Step:
        """The service left the catalog mid-episode: close its alert and ITSM record; no
        impact event, as there is no longer a service to describe."""
        out = _Outputs()
        self._close(episode, episode.service_id, at, out)
        return out.step(None)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)

"""The impact engine: per business service, health events and clock ticks in, impact out.

The engine holds no per-service state of its own: the caller keeps one `EpisodeState` per
business service (a keyed table in the streaming shell) and hands it to `on_health` or
`on_tick`, which return a `Step` with the new state and the events to publish. Everything here
is pure; the catalog, calendars and configuration are swapped with `use`.

Time: everything is event time. Health events carry the time of their cause; `on_tick(now)`
is called with the watermark of the partition that holds the episode (docs/scoring.md,
"Time"), so the same events give the same impact events live, replayed or late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from impactline.core.calendar import BusinessCalendar
from impactline.core.calendar.clock import require_aware
from impactline.core.catalog import Catalog
from impactline.core.catalog.model import BusinessService
from impactline.core.contracts import (
    FeedbackEvent,
    ImpactReason,
    IncidentEvent,
    ServiceHealthEvent,
    derived_id,
)
from impactline.core.impact.charges import charge, charges_of
from impactline.core.impact.episode import EpisodeState
from impactline.core.impact.notices import closing, notify
from impactline.core.impact.outputs import impact_event
from impactline.core.impact.profile import profile_for
from impactline.core.impact.reading import Reading, ServiceView, mark_of, read
from impactline.core.impact.reports import vip_report
from impactline.core.impact.routing import DEFAULT_ROUTING, RoutingRules
from impactline.core.impact.steps import Outputs as _Outputs
from impactline.core.impact.steps import RoutedImpact, Step
from impactline.core.scoring import DEFAULT_CONFIG, ImpactAccrual, ScoringConfig, ServiceProfile
from impactline.core.states import State

DEFAULT_ACCRUAL_PERIOD = timedelta(seconds=60)
BurnRate = float | Callable[[datetime], float | None] | None
"""The error-budget burn of a service (None: no evidence), or how to read it at an instant."""
MAX_ACCRUALS_PER_STEP = 1440
"""Accrual events one call emits at most (a day of minutes); past that, the watermark jumped
far ahead and the minutes in between are accrued into the last one."""
# Calendar boundaries one walk looks at most (a few a day: years of event time). A walk that
# would pass more jumps to its end: the remainder accrues in one piece and a single weight-change
# event at the end reports the new context, so an event time far ahead of an open episode costs
# bounded work and output instead of one event per boundary in between.
MAX_WALK_STEPS = 1_000


class UnknownService(LookupError):
    """A health event for a business service the catalog does not hold."""


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
        burn_rate: BurnRate = None,
    ) -> Step:
        """A business service changed state. `state` is the service's open episode, if any;
        `burn_rate` is the service's error-budget burn at the event's time (None: no
        evidence), which raises the urgency of what is reported.

        Call `on_tick(state, health.time)` first, so the episode's own timers due before the
        event fire before it, as they would have live."""
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
        at = _utc(require_aware(health.time, "health.time"))
        out = _Outputs()
        if state is None:
            if health.state is State.OK:
                return Step(None)
            episode = self._start(view, health)
            return out.step(
                self._report(
                    episode, view, at, ImpactReason.STATE_CHANGE, health.id, out, burn_rate
                )
            )
        if health.id == state.last_health_id:
            return Step(state)
        episode = replace(state, last_health_id=health.id)
        # An event older than what was already accounted for takes effect now, not in the past.
        at = max(at, episode.updated_at)
        episode = self._walk(episode, view, at, out, burn_rate)
        incidents, planned_by = charges_of(health)
        # A recovery keeps who was charged, so the closing events name them.
        recharged = health.state is not State.OK and (incidents, planned_by) != (
            episode.incident_ids,
            episode.planned_by,
        )
        if health.state is episode.state and not recharged:
            return out.step(episode)
        episode = self._accrue(episode, view, at)
        if recharged:
            # What accrued until now stays with whoever was charged; from now on the new ones.
            episode = charge(episode, incidents, planned_by)
        if health.state is episode.state:
            return out.step(
                self._report(episode, view, at, ImpactReason.ATTRIBUTION, health.id, out, burn_rate)
            )
        episode = replace(
            episode,
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

    def on_feedback(
        self,
        state: EpisodeState | None,
        feedback: FeedbackEvent,
        now: datetime,
        burn_rate: BurnRate = None,
    ) -> Step:
        """A user's feedback on a service. A VIP's complaint during the open episode (see
        `vip_report`) makes the impact high-visibility from then on: a `vip-report` impact
        event, and the alert raised again when its priority moves; anything else changes
        nothing. It takes effect at its own time, but never before the episode's last event
        nor after `now` (its partition's event time), so a survey tool with a wrong clock
        cannot move the episode."""
        view = self.view(feedback.service_id)
        user = None if state is None or view is None else vip_report(state, view, feedback)
        if state is None or view is None or user is None:
            return Step(state)
        at = max(state.updated_at, min(_utc(feedback.time), _utc(require_aware(now, "now"))))
        out = _Outputs()
        episode = self._walk(state, view, at, out, burn_rate)
        episode = replace(self._accrue(episode, view, at), vip_reports=(*state.vip_reports, user))
        return out.step(
            self._report(episode, view, at, ImpactReason.VIP_REPORT, feedback.id, out, burn_rate)
        )

    def on_tick(self, state: EpisodeState, now: datetime, burn_rate: BurnRate = None) -> Step:
        """Bring an open episode up to `now` (event time, the watermark): in time order, a
        weight-change event at every calendar boundary passed and an accrual event at every
        multiple of `accrual_period` since the episode started. `burn_rate` gives the
        error-budget burn at the instant of each event emitted (a number: the same for all)."""
        target = _utc(require_aware(now, "now"))
        view = self.view(state.service_id)
        if view is None:
            return self._orphaned(state, max(target, state.updated_at))
        if target <= state.updated_at:
            return Step(state)
        out = _Outputs()
        episode = state
        last = (target - episode.started_at) // self.accrual_period
        first = max(episode.accrual_seq + 1, last - MAX_ACCRUALS_PER_STEP + 1)
        for sequence in range(first, last + 1):
            point = episode.started_at + sequence * self.accrual_period
            episode = self._walk(episode, view, point, out, burn_rate)
            # A point at or before the last event is already covered by that event's figures.
            if point > episode.updated_at:
                episode = self._accrue(episode, view, point)
                episode = self._report(
                    episode, view, point, ImpactReason.ACCRUAL, str(sequence), out, burn_rate
                )
            episode = replace(episode, accrual_seq=sequence)
        episode = self._walk(episode, view, target, out, burn_rate)
        return out.step(episode)

    def next_due(self, state: EpisodeState) -> datetime:
        """The instant (event time) from which `on_tick` has something to do for `state`: its
        next accrual point, or an earlier calendar boundary that changes its weight (now, when
        the service left the catalog). Watermarks before then change nothing."""
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
        return _utc(due)

    def on_incident(self, state: EpisodeState, incident: IncidentEvent) -> EpisodeState:
        """Charge an episode that no incident is charged with yet (service-health events of an
        older correlate carry no attribution) to the first incident that lists its service."""
        if state.incident_ids or state.service_id not in incident.affected_services:
            return state
        return charge(state, (incident.incident_id,), None)

    def _view_of(self, service: BusinessService) -> ServiceView:
        calendar = self.calendars.get(service.calendar) if service.calendar else None
        return ServiceView(service, self._profiles(service), calendar)

    def _start(self, view: ServiceView, health: ServiceHealthEvent) -> EpisodeState:
        at = _utc(health.time)
        incidents, planned_by = charges_of(health)
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
            last_health_id=health.id,
            incident_id=incidents[0] if incidents else None,
            incident_ids=incidents,
            planned_by=planned_by,
        ).charged(0.0)

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
        burn_rate: BurnRate = None,
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
        """Accrue up to `to`; the minutes go to the share of whoever is charged."""
        rate, calendar = view.accrual_rate(episode.state, self.config)
        accrual = episode.accrual.advance(to, rate, calendar)
        added = accrual.impact_minutes - episode.accrual.impact_minutes
        return replace(episode, accrual=accrual).charged(added)

    def _report(
        self,
        episode: EpisodeState,
        view: ServiceView,
        at: datetime,
        reason: ImpactReason,
        key: str,
        out: _Outputs,
        burn_rate: BurnRate = None,
    ) -> EpisodeState:
        """Emit the impact event of `episode` at `at` (its accrual already advanced there) and
        raise or update the alert and the ITSM record when the priority moved."""
        burn = burn_rate(at) if callable(burn_rate) else burn_rate
        reading = read(view, episode.state, at, self.config, burn, episode.vip_reports)
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
        episode, alert, record = notify(episode, view, reading)
        if alert is not None and record is not None:
            out.alerts.append(alert)
            out.itsm.append(record)
        return episode

    def _recover(
        self, episode: EpisodeState, view: ServiceView, at: datetime, key: str, out: _Outputs
    ) -> None:
        reading = read(view, State.OK, at, self.config, vip_reports=episode.vip_reports)
        episode = self._route(episode, view, reading, ImpactReason.RECOVERED, key, out)
        self._close(episode, view.service.name, at, out)

    def _close(self, episode: EpisodeState, name: str, at: datetime, out: _Outputs) -> None:
        closed = closing(episode, name, at)
        if closed is not None:
            out.alerts.append(closed[0])
            out.itsm.append(closed[1])

    def _orphaned(self, episode: EpisodeState, at: datetime) -> Step:
        """The service left the catalog mid-episode: close its alert and ITSM record; no
        impact event, as there is no longer a service to describe."""
        out = _Outputs()
        self._close(episode, episode.service_id, at, out)
        return out.step(None)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)

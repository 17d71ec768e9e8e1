"""The correlate process: per-CI state, then per-correlation-domain business service health.

Stage 1 is keyed by CI id and keeps each CI's last state in a changelogged table; a change goes on
the internal `ci-state` topic keyed by correlation domain. Stage 2 therefore sees every CI of a
domain in one partition and derives business service states from the catalog graph.
"""

from __future__ import annotations

import logging

import faust

from impactline.core import topics
from impactline.core.catalog import ServiceHealth
from impactline.core.contracts import CIStateChanged, ServiceHealthEvent, TelemetryEvent, derived_id
from impactline.core.states import State
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion
from impactline.runtime.settings import Settings
from impactline.runtime.streams import Rejected, StreamIO, create_stream_app
from impactline.runtime.telemetry import setup_tracing

log = logging.getLogger(__name__)


def create_app(settings: Settings, holder: CatalogHolder | None = None) -> faust.App:
    setup_tracing("correlate", settings.otel_exporter)
    holder = holder or CatalogHolder.from_files(settings.catalog_paths)
    app = create_stream_app("correlate", settings)
    io = StreamIO(app, settings, "correlate")
    ci_states = app.Table("ci-state", default=None, partitions=settings.topic_partitions)
    domain_states = app.Table(
        "domain-ci-states", default=dict, partitions=settings.topic_partitions
    )
    # In-process trackers per domain, hydrated from the changelogged table on first use so a
    # restarted worker continues from the committed states.
    trackers: dict[str, ServiceHealth] = {}

    def reset_trackers(_: CatalogVersion) -> None:
        trackers.clear()

    holder.on_switch(reset_trackers)

    async def on_telemetry(telemetry: TelemetryEvent) -> None:
        current = holder.current
        if telemetry.ci_id not in current.catalog.cis:
            raise Rejected(f"CI {telemetry.ci_id!r} is not in catalog version {current.version}")
        previous = State(ci_states.get(telemetry.ci_id) or State.OK)
        if previous == telemetry.state:
            return
        ci_states[telemetry.ci_id] = telemetry.state.value
        domain = current.graph.domain_of(telemetry.ci_id)
        change = CIStateChanged(
            id=derived_id(telemetry.id, "ci-state"),
            ci_id=telemetry.ci_id,
            state=telemetry.state,
            previous_state=previous,
            time=telemetry.time,
            correlation_domain=domain,
            cause_event_id=telemetry.id,
        )
        await io.send(topics.CI_STATE, change, key=domain, registry=topics.CI_STATE)

    def tracker_for(domain: str, current: CatalogVersion) -> ServiceHealth:
        tracker = trackers.get(domain)
        if tracker is None:
            known = {
                ci: State(state)
                for ci, state in domain_states.get(domain, {}).items()
                if ci in current.catalog.cis
            }
            tracker = trackers[domain] = ServiceHealth(current.graph, known)
        return tracker

    async def on_ci_state(change: CIStateChanged) -> None:
        current = holder.current
        domain = change.correlation_domain
        tracker = tracker_for(domain, current)
        before = {s: tracker.state_of(s) for s in current.graph.services_affected_by(change.ci_id)}
        changed = tracker.set_ci_state(change.ci_id, change.state)
        domain_states[domain] = {**domain_states.get(domain, {}), change.ci_id: change.state.value}
        for service_id, state in sorted(changed.items()):
            health = ServiceHealthEvent(
                id=derived_id(change.cause_event_id, service_id, state.value),
                service_id=service_id,
                state=state,
                previous_state=before.get(service_id, State.OK),
                time=change.time,
                correlation_domain=domain,
                cause_ci_id=change.ci_id,
                cause_event_id=change.cause_event_id,
                catalog_version=current.version,
            )
            await io.send(
                topics.SERVICE_HEALTH, health, key=service_id, registry=topics.SERVICE_HEALTH
            )

    @app.agent(io.topic(topics.TELEMETRY))
    async def per_ci(stream: faust.StreamT) -> None:
        await io.consume(topics.TELEMETRY, stream, on_telemetry, "correlate ci-state")

    @app.agent(io.topic(topics.CI_STATE))
    async def per_domain(stream: faust.StreamT) -> None:
        await io.consume(topics.CI_STATE, stream, on_ci_state, "correlate service-health")

    return app

"""The impact process: business service health in, experience-impact events out.

Each impact event is written to the ledger first and published second; both are idempotent by the
event id (derived from the service-health event), so a replay after a crash doubles nothing.
"""

from __future__ import annotations

import logging

import faust

from impactline.core import topics
from impactline.core.contracts import ImpactEvent, ServiceHealthEvent, Weighting, derived_id
from impactline.core.states import State
from impactline.impact.ledger import ImpactLedger
from impactline.runtime.catalog_source import CatalogHolder
from impactline.runtime.kafka import ensure_topics
from impactline.runtime.settings import Settings
from impactline.runtime.streams import Rejected, StreamIO, create_stream_app, follow_catalog_topic
from impactline.runtime.telemetry import current_trace_id, setup_tracing

log = logging.getLogger(__name__)

# Share of a service's users affected by each state, before any calendar or persona weighting.
STATE_SHARE = {State.DOWN: 1.0, State.DEGRADED: 0.5, State.UNKNOWN: 0.0, State.OK: 0.0}


def create_app(
    settings: Settings, holder: CatalogHolder | None = None, ledger: ImpactLedger | None = None
) -> faust.App:
    setup_tracing("impact", settings.otel_exporter)
    holder = holder or CatalogHolder.from_files(settings.catalog_paths)
    ledger = ledger or ImpactLedger(settings.require_database())
    app = create_stream_app("impact", settings)
    io = StreamIO(app, settings, "impact")
    follow_catalog_topic(app, holder, settings)
    domain_topics_ready: set[str] = set()

    async def on_health(health: ServiceHealthEvent) -> None:
        current = holder.current
        service = current.catalog.services.get(health.service_id)
        if service is None:
            raise Rejected(
                f"service {health.service_id!r} is not in catalog version {current.version}"
            )
        share = STATE_SHARE[health.state]
        users = round(service.users * share) if share else 0
        impact = ImpactEvent(
            id=derived_id(health.id, "impact"),
            service_id=service.id,
            service_name=service.name,
            business_domain=service.domain,
            correlation_domain=health.correlation_domain,
            state=health.state,
            time=health.time,
            cause_ci_id=health.cause_ci_id,
            cause_event_id=health.cause_event_id,
            users_affected=users,
            personas_affected=[p.name for p in service.personas] if users else [],
            tier=service.tier,
            weighting=Weighting.UNWEIGHTED,
            calendar=None,
            impact_rate=float(users),
            business_impact_minutes=0.0,
            catalog_version=current.version,
        )
        await ledger.record(impact, current_trace_id())
        await io.send(topics.IMPACT, impact, key=service.id, registry=topics.IMPACT)
        domain_topic = topics.impact_domain_topic(service.domain)
        if domain_topic.name not in domain_topics_ready:
            await ensure_topics(
                settings.require_kafka(),
                [domain_topic],
                prefix=settings.topic_prefix,
                default_partitions=settings.topic_partitions,
            )
            domain_topics_ready.add(domain_topic.name)
        await io.send(domain_topic, impact, key=service.id, registry=domain_topic)

    @app.agent(io.topic(topics.SERVICE_HEALTH))
    async def impacts(stream: faust.StreamT) -> None:
        await ledger.start()
        await io.consume(topics.SERVICE_HEALTH, stream, on_health, "impact")

    @app.on_before_shutdown.connect
    async def close_ledger(_: faust.App, **__: object) -> None:
        await ledger.stop()

    return app

"""The impact process: business service health and user feedback in; experience-impact events,
prioritised alerts, ITSM incident records, XLA reports and the impact ledger out."""

from __future__ import annotations

from datetime import timedelta

import faust

from impactline.core import topics
from impactline.core.calendar import load_calendars
from impactline.core.impact import (
    DEFAULT_ROUTING,
    ImpactEngine,
    load_routing_rules,
    load_scoring_config,
)
from impactline.core.scoring import DEFAULT_CONFIG
from impactline.impact.experience import ExperienceKeeper, experience_policy
from impactline.impact.ledger import ImpactLedger
from impactline.impact.worker import ImpactWorker
from impactline.runtime.catalog_source import CatalogHolder
from impactline.runtime.settings import Settings
from impactline.runtime.streams import (
    StreamIO,
    create_stream_app,
    follow_catalog_topic,
    start_ticks,
)
from impactline.runtime.telemetry import setup_tracing


def create_engine(settings: Settings, holder: CatalogHolder) -> ImpactEngine:
    """The engine with the configured calendars, scoring and routing (defaults where unset)."""
    current = holder.current
    return ImpactEngine(
        current.catalog,
        load_calendars(settings.calendars_dir) if settings.calendars_dir else {},
        load_scoring_config(settings.scoring_config) if settings.scoring_config else DEFAULT_CONFIG,
        load_routing_rules(settings.impact_routing) if settings.impact_routing else DEFAULT_ROUTING,
        catalog_version=current.version,
        accrual_period=timedelta(seconds=settings.accrual_seconds),
    )


def create_app(
    settings: Settings, holder: CatalogHolder | None = None, ledger: ImpactLedger | None = None
) -> faust.App:
    setup_tracing("impact", settings.otel_exporter)
    holder = holder or CatalogHolder.from_files(settings.catalog_paths)
    ledger = ledger or ImpactLedger(settings.require_database())
    app = create_stream_app("impact", settings)
    io = StreamIO(app, settings, "impact")
    follow_catalog_topic(app, holder, settings)
    engine = create_engine(settings, holder)
    episodes = io.staged(app.Table("episodes", default=None, partitions=settings.topic_partitions))
    io.settle_before_outputs(ledger)
    experience = ExperienceKeeper(
        io,
        engine,
        io.staged(app.Table("experience", default=None, partitions=settings.topic_partitions)),
        episodes,
        experience_policy(settings, engine.config),
        every=timedelta(seconds=settings.xla_seconds),
    )
    worker = ImpactWorker(io, holder, engine, ledger, episodes=episodes, experience=experience)

    @app.agent(io.topic(topics.SERVICE_HEALTH), name="impact.service-health")
    async def on_health(stream: faust.StreamT) -> None:
        await ledger.start()
        await io.consume(topics.SERVICE_HEALTH, stream, worker.on_health, "impact")

    @app.agent(io.topic(topics.TICKS_IMPACT), name="impact.ticks")
    async def on_tick(stream: faust.StreamT) -> None:
        await ledger.start()
        await io.consume(
            topics.TICKS_IMPACT, stream, worker.on_tick, "impact timers", with_partition=True
        )

    # Feedback is keyed by service id like service-health, so it lands in the partition that
    # owns the service's experience state.
    @app.agent(io.topic(topics.FEEDBACK), name="impact.feedback")
    async def on_feedback(stream: faust.StreamT) -> None:
        await io.consume(topics.FEEDBACK, stream, worker.on_feedback, "impact feedback")

    start_ticks(app, io, [topics.TICKS_IMPACT], settings.tick_seconds)

    @app.on_partitions_revoked.connect
    async def forget(*_: object, **__: object) -> None:
        worker.forget_partitions()

    @app.on_before_shutdown.connect
    async def close_ledger(_: faust.App, **__: object) -> None:
        await ledger.stop()

    return app

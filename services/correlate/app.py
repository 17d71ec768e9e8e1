"""The correlate process: CI telemetry in; incidents, annotations and service health out.

Stage 1 is keyed by CI id; its accepted state changes go on the internal `ci-state` topic keyed
by correlation domain, so stage 2 sees every CI of a domain in one partition.
"""

from __future__ import annotations

import faust

from impactline.core import topics
from impactline.core.correlation import CorrelationConfig, Suppressions
from impactline.correlate.worker import CorrelateWorker
from impactline.runtime.catalog_source import CatalogHolder
from impactline.runtime.settings import Settings
from impactline.runtime.streams import (
    Handler,
    StreamIO,
    create_stream_app,
    follow_catalog_topic,
    start_ticks,
)
from impactline.runtime.telemetry import setup_tracing


def load_rules(settings: Settings) -> tuple[CorrelationConfig, Suppressions]:
    config = (
        CorrelationConfig.from_yaml(
            settings.correlation_config.read_text(), str(settings.correlation_config)
        )
        if settings.correlation_config
        else CorrelationConfig()
    )
    suppressions = (
        Suppressions.from_yaml(settings.suppressions.read_text(), str(settings.suppressions))
        if settings.suppressions
        else Suppressions()
    )
    return config, suppressions


def create_app(settings: Settings, holder: CatalogHolder | None = None) -> faust.App:
    setup_tracing("correlate", settings.otel_exporter)
    holder = holder or CatalogHolder.from_files(settings.catalog_paths)
    config, suppressions = load_rules(settings)
    app = create_stream_app("correlate", settings)
    io = StreamIO(app, settings, "correlate")
    follow_catalog_topic(app, holder, settings)
    partitions = settings.topic_partitions
    worker = CorrelateWorker(
        io,
        holder,
        config,
        suppressions,
        trackers=io.staged(app.Table("ci-trackers", default=None, partitions=partitions)),
        domains=io.staged(app.Table("domain-correlators", default=None, partitions=partitions)),
    )

    def agent(
        topic: topics.Topic, handler: Handler, span: str, with_partition: bool = False
    ) -> None:
        async def run(stream: faust.StreamT) -> None:
            await io.consume(topic, stream, handler, span, with_partition=with_partition)

        run.__name__ = run.__qualname__ = f"on_{topic.name.replace('.', '_').replace('-', '_')}"
        app.agent(io.topic(topic), name=f"correlate.{topic.name}")(run)

    agent(topics.TELEMETRY, worker.on_telemetry, "correlate telemetry")
    agent(topics.CHANGES, worker.on_change, "correlate change")
    agent(topics.TICKS_CI, worker.on_ci_tick, "correlate ci timers", with_partition=True)
    agent(topics.CI_STATE, worker.on_ci_state, "correlate domain")
    agent(topics.DOMAIN_CHANGES, worker.on_domain_change, "correlate suspect change")
    agent(topics.INCIDENT_COMMANDS, worker.on_command, "correlate command")
    agent(
        topics.TICKS_DOMAIN, worker.on_domain_tick, "correlate domain timers", with_partition=True
    )
    start_ticks(app, io, [topics.TICKS_CI, topics.TICKS_DOMAIN], settings.tick_seconds)

    @app.on_partitions_revoked.connect
    async def forget(*_: object, **__: object) -> None:
        worker.forget_partitions()

    return app

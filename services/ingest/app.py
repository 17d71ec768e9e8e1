"""The ingest process: FastAPI in front of an idempotent Kafka producer, plus the `raw` input."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from impactline.core import topics
from impactline.ingest.config import IngestSettings
from impactline.ingest.formats import PagerDutyFormat
from impactline.ingest.idempotency import IdempotencyStore, RecentIds
from impactline.ingest.intake import IngestState, event_window
from impactline.ingest.raw import RawInput
from impactline.ingest.routes import router
from impactline.ingest.sink import EventSink, KafkaSink
from impactline.runtime.auth import KeyStore
from impactline.runtime.clock import Clock
from impactline.runtime.http import create_http_app
from impactline.runtime.kafka import ensure_topics, new_producer
from impactline.runtime.keys import open_key_store
from impactline.runtime.metrics import instrument_http
from impactline.runtime.ratelimit import RateLimiter
from impactline.runtime.settings import Settings
from impactline.runtime.tasks import BackgroundTasks
from impactline.runtime.telemetry import setup_tracing

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    sink: EventSink | None = None,
    key_store: KeyStore | None = None,
    ingest_settings: IngestSettings | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The ingest app; `sink` and `key_store` replace Kafka and the key database (tests);
    `clock` stamps events sent without a time (default: the settings' clock)."""
    settings = settings or Settings()
    wall = clock or settings.clock()
    options = ingest_settings or IngestSettings()
    setup_tracing("ingest", settings.otel_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if key_store is None:
                store = await stack.enter_async_context(
                    open_key_store(settings, cache_s=options.key_cache_s)
                )
            else:
                store = key_store
            app.state.key_store = store
            tasks = BackgroundTasks("ingest")
            app.state.tasks = tasks
            app.state.sink = sink or await _kafka(settings, options, stack, tasks, wall)
            app.state.pagerduty = PagerDutyFormat().format()
            app.state.ingest = IngestState(
                settings=options,
                sink=app.state.sink,
                limiter=RateLimiter(options.rate_per_s, options.burst),
                idempotency=IdempotencyStore(
                    options.idempotency_ttl_s,
                    options.idempotency_max_keys,
                    max_bytes=options.idempotency_max_bytes,
                ),
                recent=RecentIds(options.recent_ids, options.recent_ids_ttl_s),
                prefix=settings.topic_prefix,
                clock=wall,
                window=event_window(settings, wall),
            )
            # Registered last, so it runs first: the tasks end before what they use closes.
            stack.push_async_callback(tasks.stop)
            yield

    app = create_http_app(
        "impactline ingest",
        "Accepts CI telemetry, change records and user feedback in the formats sources already "
        "speak, validates them and queues them durably for correlation.",
        lifespan,
        "impactline.ingest",
    )
    app.include_router(router)
    instrument_http(app, "ingest")
    return app


async def _kafka(
    settings: Settings,
    options: IngestSettings,
    stack: AsyncExitStack,
    tasks: BackgroundTasks,
    clock: Clock,
) -> KafkaSink:
    """The producer (and the raw input sharing it), stopped when `stack` closes."""
    bootstrap = settings.require_kafka()
    await ensure_topics(
        bootstrap,
        topics.REGISTRY,
        prefix=settings.topic_prefix,
        default_partitions=settings.topic_partitions,
    )
    producer = new_producer(bootstrap, "impactline-ingest")
    await producer.start()
    stack.push_async_callback(producer.stop)
    sink = KafkaSink(producer, settings.topic_prefix)
    if options.raw_input:
        raw = RawInput(
            bootstrap, sink, prefix=settings.topic_prefix, window=event_window(settings, clock)
        )
        await raw.start(tasks)
        stack.push_async_callback(raw.stop)
        log.info("consuming %s", raw.topic)
    return sink

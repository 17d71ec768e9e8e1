"""The ingest process: FastAPI in front of an idempotent Kafka producer, plus the `raw` input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from impactline.core import topics
from impactline.core.catalog import Catalog
from impactline.ingest.adapters.webhook import WebhookMapping
from impactline.ingest.binding import BindingState
from impactline.ingest.config import IngestSettings
from impactline.ingest.formats import PagerDutyFormat, cloudevents_format, webhook_format
from impactline.ingest.idempotency import IdempotencyStore, RecentIds
from impactline.ingest.intake import IngestState, event_window
from impactline.ingest.raw import RawInput
from impactline.ingest.routes import router
from impactline.ingest.sink import EventSink, KafkaSink
from impactline.ingest.webhooks import WebhookMappings, load_mappings
from impactline.runtime.auth import KeyStore
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion, follow_catalog
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
    catalog: CatalogHolder | None = None,
    webhooks: WebhookMappings | None = None,
) -> FastAPI:
    """The ingest app; `sink` and `key_store` replace Kafka and the key database (tests);
    `clock` stamps events sent without a time (default: the settings' clock).

    Events are bound to CIs with `catalog`; by default, with Kafka, the configured catalog
    files until the catalog topic has a version, then every version published there. Given a
    `sink` and no `catalog`, events are published with the CI they name, unchecked.
    `webhooks` (default: the files `IMPACTLINE_INGEST_WEBHOOKS` names) are served at
    POST /v1/webhooks/{name} and translate the CloudEvent types they claim."""
    settings = settings or Settings()
    wall = clock or settings.clock()
    options = ingest_settings or IngestSettings()
    setup_tracing("ingest", settings.otel_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Mapping files are checked first: a broken one stops the start with its errors.
            mappings = webhooks
            if mappings is None:
                mappings = await asyncio.to_thread(load_mappings, options.webhooks)
            app.state.webhooks = {n: webhook_format(m) for n, m in mappings.by_name.items()}
            app.state.cloudevents = cloudevents_format(mappings.by_cloudevent_type)
            if key_store is None:
                store = await stack.enter_async_context(
                    open_key_store(settings, cache_s=options.key_cache_s)
                )
            else:
                store = key_store
            app.state.key_store = store
            tasks = BackgroundTasks("ingest")
            app.state.tasks = tasks
            holder = catalog
            if sink is None and holder is None:
                holder = await asyncio.to_thread(_initial_catalog, settings)
            binding = BindingState(holder) if holder is not None else None
            app.state.catalog = holder
            app.state.sink = sink or await _kafka(
                settings, options, stack, tasks, wall, binding, mappings.by_cloudevent_type
            )
            if sink is None and holder is not None:
                tasks.start(
                    "catalog",
                    lambda: follow_catalog(holder, settings.require_kafka(), settings.topic_prefix),
                )
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
                binding=binding,
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


def _initial_catalog(settings: Settings) -> CatalogHolder:
    """The configured catalog files as version 0 (none: an empty catalog), until the catalog
    topic delivers the version in use."""
    if settings.catalog_paths:
        return CatalogHolder.from_files(settings.catalog_paths)
    return CatalogHolder(
        CatalogVersion(0, Catalog.from_documents([]), Catalog.from_documents([]).graph)
    )


async def _kafka(
    settings: Settings,
    options: IngestSettings,
    stack: AsyncExitStack,
    tasks: BackgroundTasks,
    clock: Clock,
    binding: BindingState | None,
    mappings: Mapping[str, WebhookMapping],
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
            bootstrap,
            sink,
            prefix=settings.topic_prefix,
            window=event_window(settings, clock),
            binding=binding,
            mappings=mappings,
        )
        await raw.start(tasks)
        stack.push_async_callback(raw.stop)
        log.info("consuming %s", raw.topic)
    return sink

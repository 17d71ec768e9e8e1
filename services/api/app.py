"""The query API process: the service catalog and portfolio, and run-time catalog replacement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from impactline.api.catalog_cache import CatalogCache
from impactline.api.dashboard import router as dashboard_router
from impactline.api.deliveries import router as deliveries_router
from impactline.api.deliveries import start_deliveries
from impactline.api.health_model import router as health_model_router
from impactline.api.health_model import start_health_model
from impactline.api.incidents import router as incidents_router
from impactline.api.incidents import start_incidents
from impactline.api.routes_catalog import router as catalog_router
from impactline.api.routes_health import router as health_router
from impactline.api.routes_services import router as services_router
from impactline.api.stream import router as stream_router
from impactline.api.stream import start_stream
from impactline.api.unbound import router as unbound_router
from impactline.api.unbound import start_unbound
from impactline.api.whatif import router as whatif_router
from impactline.runtime.auth import KeyStore
from impactline.runtime.catalog_publisher import CatalogPublisher, KafkaCatalogPublisher
from impactline.runtime.catalog_store import CatalogStore
from impactline.runtime.clock import Clock
from impactline.runtime.db import create_pool
from impactline.runtime.http import create_http_app
from impactline.runtime.http_limits import HttpLimits
from impactline.runtime.kafka import new_producer
from impactline.runtime.keys import open_key_store
from impactline.runtime.metrics import instrument_http
from impactline.runtime.ratelimit import RateLimiter
from impactline.runtime.settings import Settings
from impactline.runtime.tasks import BackgroundTasks
from impactline.runtime.telemetry import setup_tracing


def create_app(
    settings: Settings | None = None,
    *,
    store: CatalogStore | None = None,
    publisher: CatalogPublisher | None = None,
    key_store: KeyStore | None = None,
    refresh_interval_s: float = 1.0,
    read_models: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    """The API app. A `store` or `publisher` given here is used as it is and not closed;
    otherwise they are opened from `settings` (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS).
    `clock` is the wall clock (default: the settings' one)."""
    settings = settings or Settings()
    wall = clock or settings.clock()
    setup_tracing("api", settings.otel_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if key_store is None:
                # The same keys as every HTTP service: IMPACTLINE_API_KEYS, then the database's.
                app.state.key_store = await stack.enter_async_context(open_key_store(settings))
            else:
                app.state.key_store = key_store
            if store is None:
                opened = await CatalogStore.open(settings.require_database())
                stack.push_async_callback(opened.close)
                app.state.store = opened
            else:
                app.state.store = store
            if publisher is None:
                kafka = KafkaCatalogPublisher(
                    settings.require_kafka(), settings.topic_prefix, "impactline-api"
                )
                await kafka.start()
                stack.push_async_callback(kafka.stop)
                app.state.publisher = kafka
            else:
                app.state.publisher = publisher
            app.state.catalog = CatalogCache(app.state.store, refresh_interval_s)
            # Read the catalog now: for a large one that takes seconds the first request
            # should not wait for.
            await app.state.catalog.get()
            app.state.settings = settings
            app.state.clock = wall
            tasks = BackgroundTasks("api")
            app.state.tasks = tasks
            # The tasks stop before the stack closes what they use, and also when starting
            # fails half-way: a process whose startup failed must be free to exit.
            try:
                if read_models:
                    await _start_read_models(app, settings, stack)
                tasks.start("catalog-cache", app.state.catalog.watch)
                yield
            finally:
                await tasks.stop()

    app = create_http_app(
        "impactline API",
        "Query the business service catalog and portfolio, and replace the catalog at run time. "
        "Reads need an API key with the `read` scope, writes one with `admin`; send it as "
        "`Authorization: Bearer <key>` or `X-API-Key`. Errors are RFC 9457 problem documents.",
        lifespan,
        "impactline.api",
    )
    limits: HttpLimits = app.state.http_limits
    # Reads are cheap but not free: each key is held to a request rate (429 past it).
    app.state.rate_limiter = RateLimiter(limits.rate_per_s, limits.burst)
    instrument_http(app, "api")
    app.include_router(health_router)
    app.include_router(services_router)
    app.include_router(catalog_router)
    app.include_router(incidents_router)
    app.include_router(health_model_router)
    app.include_router(unbound_router)
    app.include_router(deliveries_router)
    app.include_router(stream_router)
    app.include_router(whatif_router)
    app.include_router(dashboard_router)
    return app


async def _start_read_models(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> None:
    """Incidents (and what the dashboard shows) projected from the topics into our own tables,
    plus a producer for operator commands."""
    pool = await create_pool(settings.require_database())
    stack.push_async_callback(pool.close)
    producer = new_producer(settings.require_kafka(), "impactline-api")
    await producer.start()
    stack.push_async_callback(producer.stop)
    app.state.producer = producer
    projection = await start_incidents(app, settings, pool, producer)
    stack.push_async_callback(projection.stop)
    health = await start_health_model(app, settings, pool, producer)
    stack.push_async_callback(health.stop)
    unbound = await start_unbound(app, settings, pool, producer)
    stack.push_async_callback(unbound.stop)
    deliveries = await start_deliveries(app, settings, pool, producer)
    stack.push_async_callback(deliveries.stop)
    feeder = await start_stream(app, settings)
    stack.push_async_callback(feeder.stop)

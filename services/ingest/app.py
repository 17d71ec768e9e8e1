"""The ingest process: FastAPI in front of an idempotent Kafka producer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from impactline.core import topics
from impactline.ingest.routes import router
from impactline.ingest.sink import EventSink, KafkaSink
from impactline.runtime.auth import KeyStore, StaticKeyStore
from impactline.runtime.http import create_http_app
from impactline.runtime.kafka import ensure_topics, new_producer
from impactline.runtime.settings import Settings
from impactline.runtime.telemetry import setup_tracing


def create_app(
    settings: Settings | None = None,
    *,
    sink: EventSink | None = None,
    key_store: KeyStore | None = None,
) -> FastAPI:
    settings = settings or Settings()
    setup_tracing("ingest", settings.otel_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.key_store = key_store or StaticKeyStore.from_specs(settings.api_keys)
        if sink is not None:
            app.state.sink = sink
            yield
            return
        bootstrap = settings.require_kafka()
        await ensure_topics(
            bootstrap,
            topics.REGISTRY,
            prefix=settings.topic_prefix,
            default_partitions=settings.topic_partitions,
        )
        producer = new_producer(bootstrap, "impactline-ingest")
        await producer.start()
        app.state.sink = KafkaSink(producer, settings.topic_prefix)
        try:
            yield
        finally:
            await producer.stop()

    app = create_http_app(
        "impactline ingest",
        "Accepts CI telemetry, validates it and queues it durably for correlation.",
        lifespan,
        "impactline.ingest",
    )
    app.include_router(router)
    return app

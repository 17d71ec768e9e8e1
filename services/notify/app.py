"""The notify process: delivers prioritised alerts and ITSM records to pagers, chat and ITSM
tools, and takes their acknowledgements back.

Inside one process: a consumer group on `alerts`, `itsm` and `incidents` that writes planned
deliveries into the delivery log, one dispatcher per destination that sends from it, a
publisher of delivery records (`deliveries` topic), the escalation check, and an HTTP app with
health, metrics and the back-sync endpoints (`/v1/inbound/...`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel

from impactline.core import topics
from impactline.core.catalog import Catalog
from impactline.core.delivery import RouteFile, load_route_file
from impactline.notify.consumer import Router
from impactline.notify.dispatcher import Dispatcher
from impactline.notify.escalation import Escalator
from impactline.notify.inbound import router as inbound_router
from impactline.notify.records import RecordPublisher
from impactline.notify.secrets import Secrets
from impactline.notify.senders import Sender
from impactline.notify.store import NotifyStore
from impactline.runtime.auth import KeyStore
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion, follow_catalog
from impactline.runtime.clock import Clock
from impactline.runtime.db import create_pool, migrate
from impactline.runtime.http import create_http_app
from impactline.runtime.kafka import ensure_topics, new_producer
from impactline.runtime.keys import open_key_store
from impactline.runtime.metrics import instrument_http
from impactline.runtime.problems import Problem
from impactline.runtime.projection import start_projection
from impactline.runtime.settings import Settings, SettingsError
from impactline.runtime.tasks import BackgroundTasks, tasks_ready
from impactline.runtime.telemetry import setup_tracing

log = logging.getLogger(__name__)
SOURCES = (topics.ALERTS, topics.ITSM, topics.INCIDENTS)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    destinations: list[str]
    planned: int
    published: int
    tasks: dict[str, dict[str, object]]


def load_routes(settings: Settings) -> RouteFile:
    if settings.notify_routes is None:
        raise SettingsError("no route file: set IMPACTLINE_NOTIFY_ROUTES (docs/delivery.md)")
    return load_route_file(settings.notify_routes)


def create_app(
    settings: Settings | None = None,
    *,
    routes: RouteFile | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    key_store: KeyStore | None = None,
    holder: CatalogHolder | None = None,
    escalation_every_s: float = 5.0,
) -> FastAPI:
    """The notify app. The route file and its secrets are read now, so a broken file or a
    missing secret stops the process before it serves anything."""
    settings = settings or Settings()
    wall = clock or settings.clock()
    route_file = routes or load_routes(settings)
    secrets = Secrets.resolve(route_file, environ)
    setup_tracing("notify", settings.otel_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.key_store = key_store or await stack.enter_async_context(
                open_key_store(settings)
            )
            tasks = BackgroundTasks("notify")
            app.state.tasks = tasks
            # The tasks stop before the stack closes what they use, and also when starting
            # fails half-way: a process whose startup failed must be free to exit.
            try:
                await _start(
                    app, settings, route_file, secrets, wall, holder, escalation_every_s,
                    tasks, stack,
                )  # fmt: skip
                yield
            finally:
                await tasks.stop()

    app = create_http_app(
        "impactline notify",
        "Delivers prioritised alerts and ITSM records to PagerDuty, Opsgenie, Slack, Teams, "
        "ServiceNow, Jira and signed webhooks, and takes acknowledgements and resolutions back "
        "(`/v1/inbound/...`). Errors are RFC 9457 problem documents.",
        lifespan,
        "impactline.notify",
    )
    app.state.routes = route_file
    app.state.secrets = secrets
    app.state.settings = settings
    instrument_http(app, "notify")
    app.include_router(inbound_router)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the database answers and every background task runs",
    )
    async def readyz(request: Request) -> Readiness:
        state = request.app.state
        report = tasks_ready(state)
        try:
            await state.store.pool.fetchval("SELECT 1")
        except Exception as exc:
            raise Problem(
                503,
                "Not ready",
                f"the database is not reachable ({type(exc).__name__})",
                headers={"Retry-After": "5"},
            ) from None
        return Readiness(
            status="ready",
            destinations=sorted(state.dispatchers),
            planned=state.router.planned,
            published=state.publisher.published,
            tasks=report,
        )

    return app


async def _start(
    app: FastAPI,
    settings: Settings,
    routes: RouteFile,
    secrets: Secrets,
    clock: Clock,
    holder: CatalogHolder | None,
    escalation_every_s: float,
    tasks: BackgroundTasks,
    stack: AsyncExitStack,
) -> None:
    database, bootstrap = settings.require_database(), settings.require_kafka()
    await migrate(database)
    await ensure_topics(
        bootstrap,
        (*SOURCES, topics.DELIVERIES, topics.INCIDENT_COMMANDS, topics.DEAD_LETTERS),
        prefix=settings.topic_prefix,
        default_partitions=settings.topic_partitions,
    )
    pool = await create_pool(database, max_size=10)
    stack.push_async_callback(pool.close)
    store = NotifyStore(pool, clock)
    producer = new_producer(bootstrap, "impactline-notify")
    await producer.start()
    stack.push_async_callback(producer.stop)
    publisher = RecordPublisher(store, producer, settings.topic_prefix)

    dispatchers: dict[str, Dispatcher] = {}
    for name, destination in routes.destinations.items():
        policy = destination.delivery
        client = httpx.AsyncClient(
            timeout=policy.timeout_seconds,
            limits=httpx.Limits(max_connections=policy.concurrency),
            follow_redirects=False,
        )
        stack.push_async_callback(client.aclose)
        sender = Sender(name, destination, secrets, client, clock, routes.dashboard_url)
        dispatchers[name] = Dispatcher(sender, store, policy, on_change=publisher.poke)

    def planned(names: set[str]) -> None:
        for name in names:
            if name in dispatchers:
                dispatchers[name].wake.set()
        publisher.poke()

    router = Router(store, routes, on_planned=planned)
    holder = holder or await asyncio.to_thread(_initial_catalog, settings)
    escalator = Escalator(store, routes, holder, clock, planned, every_s=escalation_every_s)
    for name, dispatcher in dispatchers.items():
        tasks.start(f"dispatch-{name}", dispatcher.run)
    tasks.start("delivery-records", publisher.run)
    tasks.start("escalation", escalator.run)
    tasks.start(
        "catalog", functools.partial(follow_catalog, holder, bootstrap, settings.topic_prefix)
    )
    projection = await start_projection(
        "notify", settings, SOURCES, router.apply, producer, tasks, process="notify"
    )
    stack.push_async_callback(projection.stop)
    app.state.store = store
    app.state.producer = producer
    app.state.dispatchers = dispatchers
    app.state.router = router
    app.state.publisher = publisher
    app.state.escalator = escalator
    app.state.projection = projection
    log.info("notify: delivering to %s", ", ".join(sorted(dispatchers)) or "no destination")


def _initial_catalog(settings: Settings) -> CatalogHolder:
    """The catalog files at start (escalation paths), until the catalog topic brings newer."""
    if settings.catalog_paths:
        return CatalogHolder.from_files(settings.catalog_paths)
    empty = Catalog.from_documents([("empty", {"version": 1})])
    return CatalogHolder(CatalogVersion(0, empty, empty.graph))

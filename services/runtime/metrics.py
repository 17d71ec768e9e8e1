"""Prometheus-format metrics: consumer lag of the stream workers, requests of the HTTP services.

Stream workers serve them on `IMPACTLINE_METRICS_PORT` (0: any free port, logged at start;
unset: off); ingest and the API serve `/metrics` on their own port. Lag is read from the broker
(end offset minus the group's committed offset per partition), so it is right whichever worker
of a consumer group holds the partition, and it keeps growing while a consumer is stuck.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import TopicPartition
from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impactline.runtime.auth import require_scope
from impactline.runtime.http_limits import HttpLimits
from impactline.runtime.kafka import new_admin, new_consumer

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "impactline_consumer_lag",
    "Messages of a partition that its consumer group has not committed yet.",
    ["group", "topic", "partition"],
)
LAG_SCRAPE_ERRORS = Counter(
    "impactline_consumer_lag_errors_total", "Failed attempts to read consumer lag from the broker."
)
HTTP_REQUESTS = Counter(
    "impactline_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "impactline_http_request_duration_seconds",
    "Time from request to response, by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


async def consumer_lag(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """End offset minus committed offset of every partition the group has committed."""
    admin = new_admin(bootstrap, "impactline-metrics")
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    try:
        await consumer.start()
        committed = await admin.list_consumer_group_offsets(group)
        if not committed:
            return {}
        ends = await consumer.end_offsets(list(committed))
    finally:
        await consumer.stop()
        await admin.close()
    return {tp: max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if tp in ends}


async def watch_lag(bootstrap: str, group: str, every_s: float = 5.0) -> None:
    """Keep CONSUMER_LAG current for `group` until cancelled; broker trouble is counted, not
    raised, so metrics never take a worker down."""
    while True:
        try:
            for tp, lag in (await consumer_lag(bootstrap, group)).items():
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            LAG_SCRAPE_ERRORS.inc()
            log.debug("consumer lag of %s not read: %s", group, exc)
        await asyncio.sleep(every_s)


def serve(port: int, host: str = "127.0.0.1") -> int:
    """Serve the process's metrics over HTTP in a thread; returns the port (for port 0)."""
    server, _ = _start_http_server(port, addr=host)
    return int(server.server_port)


class MeasureRequests:
    """Counts and times every request by route template (plain ASGI: see TraceRequests)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def measured_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_LATENCY.labels(self.service, method, template).observe(
                time.perf_counter() - started
            )
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()


def instrument_http(app: FastAPI, service: str) -> None:
    """Count and time every request by route template, and serve `/metrics`."""

    app.add_middleware(MeasureRequests, service=service)

    limits: HttpLimits | None = getattr(app.state, "http_limits", None)
    public = limits is not None and limits.metrics_public
    guard = [] if public else [Depends(require_scope("read"))]

    # A key with the `read` scope unless IMPACTLINE_HTTP_METRICS_PUBLIC: the figures tell an
    # outsider how busy the system is and which routes exist.
    @app.get("/metrics", include_in_schema=False, dependencies=guard)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

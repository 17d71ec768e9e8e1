"""The live stream: impact, incident, service-health and delivery events as Server-Sent Events.

A group-less consumer in the API process reads the four topics into a bounded in-memory ring.
Every event gets the id `<boot>-<seq>`: `boot` is random per process start, `seq` grows by one
per event. A client that reconnects with `Last-Event-ID` gets what it missed:

- same boot, id still in the ring: exactly the events after it, in ring order;
- same boot but the ring has moved past it, or another boot (the API restarted): a `reset` event
  first (reload state from the query API), then everything the ring holds.

On start the ring is filled with the most recent events of each partition, so a restarted API
resends what it can. Events are delivered at least once; each carries its own event id in
`data`, so a client can drop duplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse

from impactline.api.catalog_cache import CatalogCache
from impactline.api.responses import READ_ERRORS
from impactline.core import cloudevents, topics
from impactline.core.contracts import (
    Contract,
    DeliveryRecord,
    ImpactEvent,
    IncidentEvent,
    ServiceHealthEvent,
)
from impactline.runtime.auth import (
    KeyStore,
    Principal,
    authorize,
    authorize_request,
    presented_key,
)
from impactline.runtime.http_limits import HttpLimits
from impactline.runtime.kafka import READ_MODEL_FETCH, new_consumer, partition_ids, topic_name
from impactline.runtime.problems import Problem
from impactline.runtime.settings import Settings
from impactline.runtime.tasks import BackgroundTasks, wait_event

log = logging.getLogger(__name__)

KINDS: dict[str, str] = {
    topics.IMPACT.name: "impact",
    topics.INCIDENTS.name: "incident",
    topics.SERVICE_HEALTH.name: "service-health",
    topics.DELIVERIES.name: "delivery",
}
SOURCES = (topics.IMPACT, topics.INCIDENTS, topics.SERVICE_HEALTH, topics.DELIVERIES)
KEEPALIVE_S = 15.0
RETRY_MS = 3000


@dataclass(frozen=True, slots=True)
class StreamItem:
    seq: int
    kind: str
    services: frozenset[str]
    domains: frozenset[str]
    data: str

    def matches(self, domain: str | None, service: str | None) -> bool:
        return (domain is None or domain in self.domains) and (
            service is None or service in self.services
        )


class EventRing:
    """The most recent `capacity` events, numbered from 1, and a way to wait for the next."""

    def __init__(self, capacity: int = 2000, boot: str | None = None) -> None:
        self.boot = boot or secrets.token_hex(4)
        self.capacity = capacity
        self._items: deque[StreamItem] = deque(maxlen=capacity)
        self._seq = 0
        self._signal = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return self._seq

    def push(self, kind: str, services: Iterable[str], domains: Iterable[str], data: str) -> None:
        self._seq += 1
        item = StreamItem(self._seq, kind, frozenset(services), frozenset(domains), data)
        self._items.append(item)
        self._signal.set()
        self._signal = asyncio.Event()

    def event_id(self, seq: int) -> str:
        return f"{self.boot}-{seq}"

    def resume_after(self, last_event_id: str | None) -> tuple[int, bool]:
        """(seq to continue after, whether the client must reset) for a `Last-Event-ID`.

        No id: live from now, nothing to reset. A reset resends the whole ring."""
        if not last_event_id:
            return self._seq, False
        boot, _, seq = last_event_id.strip().rpartition("-")
        oldest = self._items[0].seq - 1 if self._items else self._seq
        if boot != self.boot or not seq.isdigit() or int(seq) > self._seq:
            return oldest, True
        if int(seq) < oldest:
            return oldest, True
        return int(seq), False

    def after(self, seq: int) -> tuple[list[StreamItem], bool]:
        """Items after `seq` and whether some were already dropped from the ring."""
        if not self._items:
            return [], False
        first = self._items[0].seq
        gap = seq < first - 1
        skip = max(seq - first + 1, 0)
        return [self._items[i] for i in range(skip, len(self._items))], gap

    async def wait_beyond(self, seq: int, timeout_s: float) -> bool:
        """Wait until an event after `seq` exists; False on timeout."""
        if self._seq > seq:
            return True
        signal_ = self._signal
        await wait_event(signal_, timeout_s)
        return self._seq > seq


def scope_of(event: Contract, domain_of: Callable[[str], str | None]) -> tuple[set[str], set[str]]:
    """The business services an event concerns and their business domains."""
    if isinstance(event, ImpactEvent):
        return {event.service_id}, {event.business_domain}
    if isinstance(event, ServiceHealthEvent):
        services = {event.service_id}
    elif isinstance(event, IncidentEvent):
        services = set(event.affected_services)
    elif isinstance(event, DeliveryRecord):
        services = {event.service_id} if event.service_id else set()
    else:
        return set(), set()
    domains = {d for d in map(domain_of, services) if d is not None}
    return services, domains


class StreamFeeder:
    """Reads the source topics without a consumer group and pushes every event into the ring."""

    def __init__(
        self, settings: Settings, ring: EventRing, catalog: CatalogCache | None = None
    ) -> None:
        self.settings = settings
        self.ring = ring
        self.catalog = catalog
        self.closing = asyncio.Event()
        self.by_name = {topic_name(t, settings.topic_prefix): t for t in SOURCES}
        self._consumer: AIOKafkaConsumer | None = None
        self._restore: list[tuple[int, Any]] = []

    async def start(self, tasks: BackgroundTasks) -> None:
        bootstrap = self.settings.require_kafka()
        consumer = new_consumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **READ_MODEL_FETCH
        )
        await consumer.start()
        self._consumer = consumer
        parts = [
            TopicPartition(name, p)
            for name in self.by_name
            for p in await partition_ids(bootstrap, name)
        ]
        consumer.assign(parts)
        # Recent history per partition, so a restarted API has something to resend.
        backfill = max(self.ring.capacity // max(len(parts), 1), 1)
        ends = await consumer.end_offsets(parts)
        starts = await consumer.beginning_offsets(parts)
        for tp in parts:
            consumer.seek(tp, max(starts[tp], ends[tp] - backfill))
        self._close_streams_on_exit()
        tasks.start("stream-feeder", self.run)

    async def stop(self) -> None:
        self.closing.set()
        for sig, previous in self._restore:
            signal.signal(sig, previous)
        if self._consumer is not None:
            await self._consumer.stop()

    def _domain_of(self, service_id: str) -> str | None:
        snapshot = self.catalog.snapshot if self.catalog is not None else None
        if snapshot is None:
            return None
        service = snapshot.catalog.services.get(service_id)
        return service.domain if service is not None else None

    async def run(self) -> None:
        """Feed the ring until cancelled. A run after a failure goes on from the consumer's
        position: the stream delivers at least once, so nothing here needs to be read again."""
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for msg in records:
                    topic = self.by_name[msg.topic]
                    try:
                        event = cloudevents.decode(topic, msg.value, msg.headers).event
                    except cloudevents.DecodeError:
                        continue  # the projections dead-letter it; the stream just skips it
                    services, domains = scope_of(event, self._domain_of)
                    # The record's value is the event's JSON already: sent as read, not re-encoded.
                    self.ring.push(KINDS[topic.name], services, domains, msg.value.decode())

    def _close_streams_on_exit(self) -> None:
        """End open streams as soon as the server is asked to stop: the server waits for open
        responses before shutting down, and a stream never finishes on its own."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.closing.set)
                previous(signum, frame)

            signal.signal(sig, handler)
            self._restore.append((sig, previous))


def frame(kind: str, data: str, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


async def sse(
    ring: EventRing,
    closing: asyncio.Event,
    *,
    last_event_id: str | None,
    domain: str | None,
    service: str | None,
    keepalive_s: float = KEEPALIVE_S,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
    recheck_s: float = 5.0,
) -> AsyncIterator[str]:
    """The text of one stream: a `ready` event naming the position, then matching events.
    With `still_allowed`, the key is checked again every `recheck_s`: once revoked the stream
    sends `revoked` and ends."""
    seq, reset = ring.resume_after(last_event_id)
    yield f"retry: {RETRY_MS}\n\n"
    if reset:
        yield frame("reset", json.dumps({"reason": "unknown or expired Last-Event-ID"}))
    ready = {"boot": ring.boot, "resumed": bool(last_event_id) and not reset}
    yield frame("ready", json.dumps(ready), ring.event_id(seq))
    checked = time.monotonic()
    while not closing.is_set():
        if still_allowed is not None and time.monotonic() - checked >= recheck_s:
            if not await still_allowed():
                yield frame("revoked", json.dumps({"reason": "the API key is no longer valid"}))
                return
            checked = time.monotonic()
        items, gap = ring.after(seq)
        if gap:
            yield frame("reset", json.dumps({"reason": "events were missed"}))
        for item in items:
            seq = item.seq
            if item.matches(domain, service):
                yield frame(item.kind, item.data, ring.event_id(item.seq))
        if items:
            continue
        wait_s = min(keepalive_s, recheck_s) if still_allowed is not None else keepalive_s
        waiter = asyncio.ensure_future(ring.wait_beyond(seq, wait_s))
        stop = asyncio.ensure_future(closing.wait())
        done, _ = await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
        for pending in (waiter, stop):
            if pending not in done:
                pending.cancel()
        if waiter in done and not waiter.result():
            yield ": keepalive\n\n"


_KEY_IN_QUERY = re.compile(r"([?&]key=)[^&\s]*")


class RedactKeys(logging.Filter):
    """Keep `?key=` out of access logs: the stream accepts the API key as a query parameter."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _KEY_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _KEY_IN_QUERY.sub(r"\1***", record.msg)
        return True


def redact_access_log() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactKeys) for f in logger.filters):
        logger.addFilter(RedactKeys())


async def stream_reader(
    request: Request,
    key: Annotated[
        str | None,
        Query(
            description="API key with the `read` scope, for clients that cannot send headers "
            "(EventSource). Prefer the Authorization header; the key is never logged."
        ),
    ] = None,
) -> Principal:
    presented = presented_key(request) or key
    principal = await authorize_request(request, presented, "read")
    request.state.stream_key = presented
    return principal


router = APIRouter(tags=["live stream"])


@router.get(
    "/v1/stream",
    summary="Live impact, incident, service-health and delivery events (Server-Sent Events)",
    description="`text/event-stream` with events named `impact`, `incident`, "
    "`service-health` and `delivery` whose `data` is the topic's JSON payload (a delivery "
    "is notify's latest word on one message to a pager, chat or ITSM tool), plus `ready` "
    "(the position, sent first) and `reset` (reload state from the query API: the position "
    "asked for is no longer held). Ids are `<boot>-<seq>`: reconnect with `Last-Event-ID` "
    "(header, or the `last_event_id` parameter) to get what was missed. Without it the "
    "stream starts live. Filter with `domain` (business domain) and `service`.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
        **READ_ERRORS,
    },
)
async def stream(
    request: Request,
    _: Annotated[Principal, Depends(stream_reader)],
    domain: Annotated[str | None, Query(description="Business domain, e.g. finance.")] = None,
    service: Annotated[str | None, Query(description="Business service id.")] = None,
    last_event_id: Annotated[
        str | None, Query(description="Resume after this id (as the header does).")
    ] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    feeder: StreamFeeder = request.app.state.stream
    limits: HttpLimits = request.app.state.http_limits
    body = sse(
        feeder.ring,
        feeder.closing,
        last_event_id=last_event_id_header or last_event_id,
        domain=domain,
        service=service,
        still_allowed=_key_checker(request.app.state.key_store, request.state.stream_key),
        recheck_s=limits.stream_recheck_s,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _key_checker(store: KeyStore, key: str | None) -> Callable[[], Awaitable[bool]]:
    async def still_allowed() -> bool:
        try:
            await authorize(store, key, "read")
        except Problem as problem:
            # Only a key known to be bad ends the stream; a key store that cannot answer now
            # (database away) does not.
            return problem.status not in (401, 403)
        return True

    return still_allowed


async def start_stream(app: FastAPI, settings: Settings) -> StreamFeeder:
    redact_access_log()
    feeder = StreamFeeder(settings, EventRing(), getattr(app.state, "catalog", None))
    await feeder.start(app.state.tasks)
    app.state.stream = feeder
    return feeder

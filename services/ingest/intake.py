"""What every ingest route does around its adapter: read, translate, publish, answer.

A route only says how its format is translated (and, for PagerDuty, how the answer looks); this
module reads the body within its size limit, applies the Idempotency-Key, publishes the accepted
events to their topics and the rejected items to the dead-letter topic, and answers with what was
accepted. Nothing is acknowledged before the broker confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request, Response

from impactline.core import topics
from impactline.core.contracts import Contract, DeadLetter, derived_id
from impactline.core.values import EventTimeWindow, event_time_window
from impactline.ingest.adapters import AdapterError, Translation, destination
from impactline.ingest.binding import BindingState, BindResult, bind_events
from impactline.ingest.binding import summary as binding_summary
from impactline.ingest.body import MAX_ERRORS_SHOWN, adapter_problem, read_body, rejection_problem
from impactline.ingest.config import IngestSettings
from impactline.ingest.deadletters import http_dead_letters
from impactline.ingest.idempotency import (
    IdempotencyInFlight,
    IdempotencyMismatch,
    IdempotencyStore,
    RecentIds,
    StoredAnswer,
    fingerprint,
    valid_key,
)
from impactline.ingest.sink import EventSink, SinkUnavailable, put_all
from impactline.runtime.auth import Principal
from impactline.runtime.clock import SYSTEM, Clock
from impactline.runtime.kafka import topic_name
from impactline.runtime.problems import Problem, problem_response
from impactline.runtime.ratelimit import RateLimiter
from impactline.runtime.settings import Settings
from impactline.runtime.telemetry import current_trace_id

REPLAYED_HEADER = "Idempotent-Replayed"
# Bodies larger than this are translated in a worker thread, so that validating thousands of
# items does not hold up every other request and the raw input's Kafka heartbeats.
THREAD_BODY_BYTES = 64 * 1024
log = logging.getLogger(__name__)


def _no_window() -> EventTimeWindow | None:
    return None


def event_window(settings: Settings, clock: Clock) -> Callable[[], EventTimeWindow]:
    """The window of accepted event times, around the ingest clock's now at each call."""
    max_age, max_ahead = settings.event_time_bounds()
    return lambda: EventTimeWindow(clock.now(), max_age, max_ahead)


@dataclass
class IngestState:
    """Everything the routes share, kept on `app.state.ingest`."""

    settings: IngestSettings
    sink: EventSink
    limiter: RateLimiter
    idempotency: IdempotencyStore
    recent: RecentIds
    prefix: str = ""
    clock: Clock = SYSTEM
    # None: events are published with the CI they name, unchecked (no catalog to bind with).
    binding: BindingState | None = None
    # The window of event times accepted now (None: any time).
    window: Callable[[], EventTimeWindow | None] = _no_window


@dataclass(frozen=True, slots=True)
class Intake:
    """One request as a translator sees it."""

    body: bytes
    headers: Mapping[str, str]
    media_type: str
    received_at: datetime
    # Set with an Idempotency-Key: ids given to events the sender left without one derive from
    # it, so a retry yields the same ids even where the answer was not remembered.
    id_seed: str | None = None
    max_items: int = 10_000  # items (events, alerts, lines) one request may hold

    def check_items(self, count: int) -> None:
        """Refuse a request holding more items than allowed, before validating any of them."""
        if count > self.max_items:
            raise Problem(
                413,
                "Too many items",
                f"the request holds {count} items; at most {self.max_items} are accepted in "
                "one request: split the batch",
                kind="too-many-items",
                limit=self.max_items,
                count=count,
            )

    def seeded_id(self, index: int) -> str | None:
        return None if self.id_seed is None else derived_id(self.id_seed, str(index))


@dataclass(slots=True)
class Published:
    """What one request made durable: `events` are the valid items in order, `fresh` those
    produced by this request; the others were produced moments before (duplicates)."""

    events: list[Any]  # bound or unbound (UnboundEvent)
    fresh: int
    letters: list[DeadLetter] = field(default_factory=list)
    bound: BindResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return len(self.events) - self.fresh


Translator = Callable[[Intake], Translation[Any]]
Answer = Callable[[Translation[Any], Published], tuple[int, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Format:
    """How one route reads its input."""

    name: str  # adapter name; dead letters are `ingest/<name>`
    translate: Translator
    title: str = "Invalid event"  # title of the problem for invalid input
    invalid_status: int = 422
    answer: Answer | None = None  # default: accepted / ids / rejected
    # Extra members of the problem document for invalid input (a client's expected shape).
    problem_extras: Mapping[str, Any] = field(default_factory=dict)
    input: str | None = None  # the input name binding rules select on; default: `name`

    @property
    def input_name(self) -> str:
        return self.input or self.name


def state_of(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state


async def handle(request: Request, principal: Principal, fmt: Format) -> Response:
    """Run one ingest request from body to answer."""
    state = state_of(request)
    body = getattr(request.state, "raw_body", None)  # read already to find the key
    if body is None:
        body = await read_body(request, state.settings.max_body_bytes)
    key = request.headers.get("idempotency-key")
    if key is None:
        return await _respond(request, state, fmt, body, None)
    if not valid_key(key):
        raise Problem(
            400,
            "Invalid Idempotency-Key",
            "the Idempotency-Key header must be 1 to 255 printable characters",
            kind="validation",
            errors=[{"header": "idempotency-key", "field": "Idempotency-Key", "detail": "invalid"}],
        )
    scope = (principal.key_id, key)
    print_ = fingerprint(request.method, request.url.path, request.headers, body)
    try:
        stored = state.idempotency.begin(scope, print_)
    except IdempotencyMismatch:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was already used for a different request; use a new key",
            kind="idempotency-key-reused",
        ) from None
    except IdempotencyInFlight:
        raise Problem(
            409,
            "Request in progress",
            "a request with this Idempotency-Key is still being handled; retry shortly",
            kind="idempotency-key-in-flight",
            headers={"Retry-After": "1"},
        ) from None
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=stored.media_type,
            headers={**dict(stored.headers), REPLAYED_HEADER: "true"},
        )
    try:
        response = await _respond(request, state, fmt, body, f"{principal.key_id}\x1f{key}")
    except BaseException:
        state.idempotency.abandon(scope)
        raise
    state.idempotency.finish(
        scope,
        StoredAnswer(
            response.status_code,
            bytes(response.body),
            response.media_type or "application/json",
            tuple((k, v) for k, v in response.headers.items() if k.lower() == "retry-after"),
        ),
    )
    return response


async def _respond(
    request: Request, state: IngestState, fmt: Format, body: bytes, seed: str | None
) -> Response:
    try:
        return await _process(request, state, fmt, body, seed)
    except Problem as problem:
        return problem_response(problem, request.url.path)


async def _process(
    request: Request, state: IngestState, fmt: Format, body: bytes, seed: str | None
) -> Response:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    intake = Intake(body, request.headers, media, state.clock.now(), seed, state.settings.max_items)
    window = state.window()
    try:
        if len(body) > THREAD_BODY_BYTES:
            translation = await asyncio.to_thread(_translate, fmt, intake, window)
        else:
            translation = _translate(fmt, intake, window)
    except AdapterError as err:
        raise adapter_problem(err, fmt.title, fmt.invalid_status, **fmt.problem_extras) from None
    if not translation.accepted and translation.rejected:
        # The errors of the first items only: describing 10,000 would cost seconds.
        shown = translation.rejected[:MAX_ERRORS_SHOWN]
        fields = [{"index": i, **f} for i, err in shown for f in err.fields()]
        raise rejection_problem(fields, fmt.title, rejected=len(translation.rejected))
    published = await publish(state, fmt, intake, translation, request.url.path)
    if fmt.answer is not None:
        status, content = fmt.answer(translation, published)
    else:
        status, content = 202, default_answer(translation, published)
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def _translate(fmt: Format, intake: Intake, window: EventTimeWindow | None) -> Translation[Any]:
    with event_time_window(window):
        return fmt.translate(intake)


async def publish(
    state: IngestState, fmt: Format, intake: Intake, translation: Translation[Any], route: str
) -> Published:
    """Bind, produce the new events, then the dead letters of the rejected items. When the
    events cannot be made durable the answer is a 503 and nothing counts as accepted; once they
    are, the answer says so even if the dead letters could not follow (a note tells)."""
    batches: dict[topics.Topic, list[tuple[str, Contract]]] = defaultdict(list)
    produced: set[tuple[str, str]] = set()
    binder = state.binding.binder if state.binding is not None else None
    bound = bind_events(binder, fmt.input_name, translation.accepted, now=intake.received_at)
    for event in bound.events:
        topic, key = destination(event)
        name = topic_name(topic, state.prefix)
        # A repeat within the request is as much a resend as one from a moment before.
        if state.recent.seen(name, event.id) or (name, event.id) in produced:
            continue
        batches[topic].append((key, event))
        produced.add((name, event.id))
    try:
        await put_all(state.sink, batches)
    except SinkUnavailable as exc:
        raise Problem(
            503,
            "Broker unavailable",
            f"nothing was accepted, retry later ({exc})",
            kind="unavailable",
            headers={"Retry-After": str(state.settings.retry_after_s)},
        ) from None
    state.recent.remember(produced)
    published = Published(bound.events, len(produced), bound=bound)
    if translation.rejected:
        context = {"content-type": intake.media_type} if intake.media_type else {}
        letters = http_dead_letters(translation, fmt.name, route, context, intake.received_at)
        try:
            await state.sink.put(
                topics.DEAD_LETTERS, [(letter.source, letter) for letter in letters]
            )
            published.letters = letters
        except SinkUnavailable as exc:
            log.warning("%d rejected item(s) not kept as dead letters: %s", len(letters), exc)
            published.notes.append(
                "the rejected items could not be kept as dead letters (broker unavailable); "
                "the accepted events are durable"
            )
    return published


def default_answer(translation: Translation[Any], published: Published) -> dict[str, Any]:
    """Each item is counted once: `accepted` (produced now), `duplicates` (produced moments
    before, not again) or `rejected` (by index with its errors). `ids` are the ids of every
    valid item, new or duplicate, in request order."""
    answer: dict[str, Any] = {
        "accepted": published.fresh,
        "duplicates": published.duplicates,
        "ids": [e.id for e in published.events],
    }
    if translation.rejected:
        # Listed up to a bound: an answer must stay small whatever the request held.
        shown = translation.rejected[:MAX_ERRORS_SHOWN]
        answer["rejected"] = [{"index": index, "errors": err.fields()} for index, err in shown]
        answer["rejected_count"] = len(translation.rejected)
        if len(translation.rejected) > len(shown):
            answer["rejected_not_shown"] = len(translation.rejected) - len(shown)
    if published.bound is not None and (published.bound.bound or published.bound.unbound):
        answer.update(binding_summary(published.bound))
    notes = [*translation.notes, *published.notes]
    if len(translation.rejected) > MAX_ERRORS_SHOWN:
        notes.append(
            f"{len(translation.rejected)} items were rejected; the first {MAX_ERRORS_SHOWN} "
            "are listed, every one is kept as a dead letter"
        )
    if notes:
        answer["notes"] = notes
    answer["trace_id"] = current_trace_id()
    return answer

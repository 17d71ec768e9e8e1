"""The Kafka input: producers that cannot call HTTP publish native events to the `raw` topic.

A message is either a CloudEvent in Kafka binary content mode (`ce_*` headers, the contract's
JSON as value; the `type` picks telemetry, change or feedback) or, without `ce_specversion`, a
plain JSON TelemetryEvent. Valid events are forwarded to their topic exactly like HTTP input;
anything else goes to `dead-letters` (source `ingest/raw`, with the original topic, partition,
offset and headers) and the consumer carries on. Offsets are committed only after every forwarded
event and dead letter of the batch was acknowledged by the broker, so a crash repeats work rather
than losing it (the repeat carries the same event ids).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from aiokafka.errors import KafkaError

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract, DeadLetter
from impactline.core.values import EventTimeWindow, event_time_window
from impactline.ingest.adapters import AdapterError, IngestEvent, destination, native
from impactline.ingest.adapters import cloudevents_http as ce
from impactline.ingest.binding import BindingState, bind_events
from impactline.ingest.deadletters import source_name
from impactline.ingest.sink import KafkaSink, SinkUnavailable
from impactline.runtime.kafka import (
    STREAM_FETCH,
    dead_letter_for,
    new_consumer,
    record_time,
    topic_name,
)
from impactline.runtime.tasks import BackgroundTasks

log = logging.getLogger(__name__)
INPUT = "raw"  # binding rules select this input with `inputs: [raw]`
SOURCE = source_name(INPUT)
KafkaHeaders = Iterable[tuple[str, bytes | None]]
# Carried over to the forwarded message so one trace spans the producer and impactline.
TRACE_HEADERS = ("traceparent", "tracestate")


class RawMessageInvalid(ValueError):
    """The message cannot be turned into an event; the text is the dead letter's reason."""


def translate_message(
    value: bytes | None,
    headers: KafkaHeaders | None,
    *,
    received_at: datetime,
    mappings: ce.Mappings | None = None,
) -> IngestEvent:
    """The event a raw message holds, or RawMessageInvalid saying what is wrong with it. An
    event without a time was observed `received_at` (the record's broker timestamp)."""
    if value is None:
        raise RawMessageInvalid("message has no value")
    attrs = cloudevents.headers_to_dict(headers)
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise RawMessageInvalid(f"value is not valid JSON: {exc}") from None
    try:
        if "ce_specversion" in attrs:
            return ce.parse_binary(
                _as_http_headers(attrs), data, received_at=received_at, mappings=mappings
            )
        return native.parse_event(data, received_at=received_at)
    except AdapterError as err:
        raise RawMessageInvalid(_kafka_wording(err)) from None


def _as_http_headers(attrs: dict[str, str]) -> dict[str, str]:
    # The HTTP binding percent-encodes attribute values and the adapter decodes them; Kafka
    # header values are plain UTF-8, so encode them first to pass through unchanged.
    http = {"ce-" + k[3:]: quote(v, safe="") for k, v in attrs.items() if k.startswith("ce_")}
    if "content-type" in attrs:
        http["content-type"] = attrs["content-type"]
    return http


def _kafka_wording(err: AdapterError) -> str:
    if err.header and err.header.startswith("ce-"):
        return f"header ce_{err.header[3:]}: {err.message}"
    return str(err)


class RawInput:
    """Consumes `raw` in the ingest process and forwards what is valid."""

    def __init__(
        self,
        bootstrap: str,
        sink: KafkaSink,
        *,
        prefix: str = "",
        batch_size: int = 500,
        binding: BindingState | None = None,
        mappings: ce.Mappings | None = None,
        window: Callable[[], EventTimeWindow | None] | None = None,
    ) -> None:
        self.sink = sink
        self.window = window or (lambda: None)
        self.prefix = prefix
        self.binding = binding
        self.mappings = mappings
        self.topic = topic_name(topics.RAW, prefix)
        self.consumer = new_consumer(
            self.topic,
            bootstrap_servers=bootstrap,
            group_id=f"{prefix}impactline-ingest-raw",
            client_id="impactline-ingest-raw",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            **STREAM_FETCH,
        )
        self.forwarded = 0
        self.dead_lettered = 0

    async def start(self, tasks: BackgroundTasks) -> None:
        await self.consumer.start()
        tasks.start("raw-input", self.run)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def run(self) -> None:
        """Forward batches until cancelled; a run after a failure starts at the last commit."""
        await self._rewind()
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=1000)
                if batches:
                    await self._handle([m for records in batches.values() for m in records])
                    await self.consumer.commit()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever failed, the batch is read again from the last commit: nothing skipped.
                log.warning("raw input: %s: %s; reading again from the last commit", type(exc), exc)
                await asyncio.sleep(1)
                await self._rewind()

    async def _rewind(self) -> None:
        try:
            for tp in self.consumer.assignment():
                committed = await self.consumer.committed(tp)
                if committed is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, committed)
        except KafkaError as exc:
            log.warning("raw input: cannot rewind yet (%s)", exc)

    async def _handle(self, messages: list[Any]) -> None:
        out: dict[topics.Topic, list[tuple[str, Contract]]] = defaultdict(list)
        trace: dict[topics.Topic, list[dict[str, str] | None]] = defaultdict(list)
        letters: list[DeadLetter] = []
        window = self.window()
        for msg in messages:
            try:
                with event_time_window(window):
                    event = translate_message(
                        msg.value, msg.headers, received_at=record_time(msg), mappings=self.mappings
                    )
            except RawMessageInvalid as exc:
                letters.append(self._letter(str(exc), msg))
                continue
            except Exception as exc:
                # Whatever a message holds, it must not stop the input: keep it with the reason.
                log.exception("raw input: unexpected failure on offset %s", msg.offset)
                letters.append(self._letter(f"cannot be processed: {type(exc).__name__}", msg))
                continue
            binder = self.binding.binder if self.binding is not None else None
            [event] = bind_events(binder, INPUT, [event], now=record_time(msg)).events
            topic, key = destination(event)
            out[topic].append((key, event))
            carried = {
                k: (v or b"").decode("utf-8", "replace")
                for k, v in msg.headers or ()
                if k in TRACE_HEADERS
            }
            trace[topic].append(carried or None)
        if letters:
            out[topics.DEAD_LETTERS].extend((letter.source, letter) for letter in letters)
            trace[topics.DEAD_LETTERS].extend(None for _ in letters)
            log.warning(
                "raw input: %d message(s) to dead letters, first: %s",
                len(letters),
                letters[0].reason,
            )
        await self._put_until_done(out, trace)
        self.forwarded += sum(len(v) for k, v in out.items() if k is not topics.DEAD_LETTERS)
        self.dead_lettered += len(letters)

    def _letter(self, reason: str, msg: Any) -> DeadLetter:
        return dead_letter_for(
            reason=reason,
            source=SOURCE,
            value=msg.value,
            headers=msg.headers,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
        )

    async def _put_until_done(
        self,
        out: dict[topics.Topic, list[tuple[str, Contract]]],
        trace: dict[topics.Topic, list[dict[str, str] | None]],
    ) -> None:
        delay = 0.5
        while True:
            try:
                await asyncio.gather(
                    *(self.sink.put(t, events, headers=trace[t]) for t, events in out.items())
                )
                return
            except SinkUnavailable as exc:
                # The offsets stay uncommitted meanwhile, so waiting loses nothing.
                log.warning("raw input: broker unavailable (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

"""What an adapter hands back: the events it could build and, per item, the ones it could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from impactline.core import topics
from impactline.core.contracts import (
    ChangeEvent,
    DeadLetter,
    FeedbackEvent,
    TelemetryEvent,
    UnboundEvent,
)
from impactline.ingest.adapters.errors import AdapterError

IngestEvent = TelemetryEvent | ChangeEvent | FeedbackEvent
E = TypeVar("E", bound=IngestEvent)
_TOPICS: dict[type[IngestEvent | UnboundEvent], topics.Topic] = {
    TelemetryEvent: topics.TELEMETRY,
    ChangeEvent: topics.CHANGES,
    FeedbackEvent: topics.FEEDBACK,
    UnboundEvent: topics.UNBOUND,
}


def destination(event: IngestEvent | UnboundEvent) -> tuple[topics.Topic, str]:
    """The topic an event is published on and its partition key.

    Telemetry and change records are keyed by the correlation domain of the CI they were bound
    to, so correlate finds every CI of a domain in one partition (an event without a binding,
    from a test or an older producer, by its CI id); feedback by service id; an unbound event by
    the key the source named.
    """
    topic = _TOPICS[type(event)]
    if isinstance(event, TelemetryEvent | ChangeEvent):
        if event.binding is not None and event.binding.correlation_domain:
            return topic, event.binding.correlation_domain
        return topic, event.ci_id
    return topic, str(getattr(event, topic.key))


@dataclass(slots=True)
class Translation(Generic[E]):
    """The outcome of translating one request body.

    `accepted` are ready to publish. `rejected` pairs the index of each item that failed (in the
    batch, the `alerts` array or the NDJSON lines) with the reason; the error's pointer already
    includes that index. `notes` are facts worth telling the client that are not errors (e.g. a
    PagerDuty acknowledge produces no telemetry).
    """

    accepted: list[E] = field(default_factory=list)
    rejected: list[tuple[int, AdapterError]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The original item of each rejection, kept so nothing vanishes: see dead_letters().
    rejected_items: dict[int, Any] = field(default_factory=dict, repr=False)

    def reject(self, index: int, error: AdapterError, item: Any) -> None:
        self.rejected.append((index, error))
        self.rejected_items[index] = item

    def rejection_fields(self) -> list[dict[str, Any]]:
        """Problem-document `errors` entries for every rejected item, each with its index."""
        return [{"index": i, **f} for i, err in self.rejected for f in err.fields()]

    def dead_letters(self, source: str, *, time: datetime) -> list[DeadLetter]:
        """One dead letter per rejected item, carrying the reason and the item as sent."""
        return [
            DeadLetter(
                reason=str(err),
                source=source,
                payload=_as_text(self.rejected_items.get(index)),
                time=time,
            )
            for index, err in self.rejected
        ]


def _as_text(item: Any) -> str:
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="replace")
    try:
        return orjson.dumps(item).decode()
    except TypeError:
        return repr(item)

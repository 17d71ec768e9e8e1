"""CloudEvents 1.0 in Kafka binary content mode, as pure functions.

Attributes travel as `ce_*` headers, the data is the contract's JSON, and the W3C `traceparent`
rides along so one trace spans every hop. Kafka header values are bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from impactline.core.contracts import Contract
from impactline.core.topics import Topic

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


class DecodeError(ValueError):
    """Not a valid event of its topic; the reason goes to the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class Envelope:
    event: Contract
    headers: dict[str, str]

    @property
    def traceparent(self) -> str | None:
        return self.headers.get("traceparent")


def encode(
    topic: Topic,
    event: Contract,
    *,
    source: str,
    subject: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[bytes, Headers]:
    """The message value and headers for `event` on `topic`."""
    time = getattr(event, "time", None)
    attrs = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": str(event.id),  # type: ignore[attr-defined]
        "ce_source": source,
        "ce_type": topic.ce_type,
        "content-type": CONTENT_TYPE,
    }
    if isinstance(time, datetime):
        attrs["ce_time"] = time.isoformat()
    if subject:
        attrs["ce_subject"] = subject
    if extra_headers:
        attrs.update(extra_headers)
    return event.model_dump_json().encode(), [(k, v.encode()) for k, v in attrs.items()]


def headers_to_dict(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers or ():
        out[key] = (value or b"").decode("utf-8", errors="replace")
    return out


def decode(
    topic: Topic, value: bytes | None, headers: Iterable[tuple[str, bytes | None]] | None
) -> Envelope:
    """Parse a message of `topic`, or raise DecodeError saying what is wrong with it."""
    attrs = headers_to_dict(headers)
    if value is None:
        raise DecodeError("message has no value")
    spec = attrs.get("ce_specversion")
    if spec is not None and spec != SPEC_VERSION:
        raise DecodeError(f"unsupported CloudEvents specversion {spec!r}, expected {SPEC_VERSION}")
    ce_type = attrs.get("ce_type")
    if ce_type is not None and ce_type != topic.ce_type:
        raise DecodeError(f"event type {ce_type!r} does not belong on topic {topic.name!r}")
    try:
        event = topic.contract.model_validate_json(value)
    except ValidationError as exc:
        raise DecodeError(describe_validation_error(exc)) from None
    return Envelope(event, attrs)


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """One line naming each bad field, the form dead letters and logs use."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)

"""CloudEvents 1.0 over HTTP: structured, batched and binary content modes -> contract events.

The CloudEvent `type` selects the contract; `data` is that contract as JSON:

| `type`                        | contract       | `subject` fills, when `data` lacks it |
|-------------------------------|----------------|---------------------------------------|
| `io.impactline.telemetry.v1`  | TelemetryEvent | `ci_id`                               |
| `io.impactline.change.v1`     | ChangeEvent    | `ci_id`                               |
| `io.impactline.feedback.v1`   | FeedbackEvent  | `service_id`                          |

| CloudEvent attribute | contract field | rule                                                   |
|----------------------|----------------|--------------------------------------------------------|
| `id`                 | `id`           | always; a different `id` inside `data` is an error     |
| `time`               | `time`         | when present; a different `time` in `data` is an error |
| `source`             | `source`       | when `data` has no `source` (at most 200 characters)   |
| `specversion`        | -              | must be `1.0`                                          |
| `datacontenttype`    | -              | absent, `application/json` or a `+json` type           |

Content modes (chosen from the HTTP `Content-Type`):
- structured, `application/cloudevents+json`: the body is one event with attributes and `data`;
- batched, `application/cloudevents-batch+json`: the body is an array of such events; each bad
  event is rejected by its index and the others are accepted;
- binary, any other type with a `ce-specversion` header: attributes travel as `ce-<name>`
  headers (percent-encoded values), the body is `data`; errors in attributes name the header.

`data_base64` is refused: every contract is JSON. The CloudEvents spec makes `id` unique only per
`source`, while impactline treats event ids as globally unique, so producers should use UUIDs.

Any other `type` is mapped by the webhook mapping that claims it (`cloudevent_types`), with the
whole event (attributes and `data`) as the item and the CloudEvent `id`, `time` and `source` as
defaults; a type no mapping claims is refused, naming the types that are understood.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from pydantic import Field, TypeAdapter, ValidationError

from impactline.core import topics
from impactline.core.contracts import (
    ChangeEvent,
    EventId,
    FeedbackEvent,
    Identifier,
    TelemetryEvent,
)
from impactline.ingest.adapters.errors import AdapterError, join, pointer
from impactline.ingest.adapters.fields import build, json_type, timestamp
from impactline.ingest.adapters.result import IngestEvent, Translation
from impactline.ingest.adapters.webhook import WebhookMapping, map_item

SOURCE = "cloudevents"
SPEC_VERSION = "1.0"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
HEADER_PREFIX = "ce-"
CONTRACTS: dict[str, type[IngestEvent]] = {
    topics.TELEMETRY.ce_type: TelemetryEvent,
    topics.CHANGES.ce_type: ChangeEvent,
    topics.FEEDBACK.ce_type: FeedbackEvent,
}
_SUBJECT_FIELD = {TelemetryEvent: "ci_id", ChangeEvent: "ci_id", FeedbackEvent: "service_id"}
_event_id: TypeAdapter[str] = TypeAdapter(EventId)
_identifier: TypeAdapter[str] = TypeAdapter(Identifier)
_contract_source: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(max_length=200)])
ContentMode = Literal["structured", "batch", "binary"]
Mappings = Mapping[str, WebhookMapping]
"""CloudEvent type -> the webhook mapping that claims it."""


class _Attributes:
    """Where CloudEvent attributes come from: members of a JSON object, or `ce-*` headers."""

    def __init__(self, values: Mapping[str, Any], base: str | None) -> None:
        self.values = values
        self._base = base  # None: the attributes are HTTP headers

    def error(self, name: str, message: str) -> AdapterError:
        if self._base is None:
            # In binary mode the data content type is the request's own Content-Type.
            header = "content-type" if name == "datacontenttype" else HEADER_PREFIX + name
            return AdapterError("", message, header=header)
        return AdapterError(join(self._base, name), message)

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise self.error(name, "required CloudEvents attribute is missing")
            return None
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {json_type(value)}")
        if required and not value:
            raise self.error(name, "must not be empty")
        return value

    def checked(self, name: str, value: str, adapter: TypeAdapter[str]) -> str:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise self.error(name, exc.errors()[0]["msg"]) from None


def content_mode(headers: Mapping[str, str]) -> ContentMode:
    """Which content mode a request uses, from its headers."""
    lowered = _lower(headers)
    media = _media_type(lowered.get("content-type", ""))
    if media == STRUCTURED:
        return "structured"
    if media == BATCH:
        return "batch"
    if media.startswith("application/cloudevents"):
        raise AdapterError(
            "", f"unsupported event format {media!r}; only JSON is accepted", header="content-type"
        )
    if HEADER_PREFIX + "specversion" in lowered:
        return "binary"
    raise AdapterError(
        "",
        f"not a CloudEvent: send Content-Type {STRUCTURED} or {BATCH}, "
        "or binary mode with ce-specversion, ce-id, ce-source and ce-type headers",
        header="content-type",
    )


def translate(
    body: Any,
    headers: Mapping[str, str],
    *,
    received_at: datetime,
    mappings: Mappings | None = None,
) -> Translation[IngestEvent]:
    """Translate a request in whichever content mode its headers announce; an event without a
    time is stamped `received_at`."""
    mode = content_mode(headers)
    if mode == "structured":
        event = parse_structured(body, received_at=received_at, mappings=mappings)
        return Translation(accepted=[event])
    if mode == "batch":
        return translate_batch(body, received_at=received_at, mappings=mappings)
    event = parse_binary(headers, body, received_at=received_at, mappings=mappings)
    return Translation(accepted=[event])


def parse_structured(
    body: Any, *, base: str = "", received_at: datetime, mappings: Mappings | None = None
) -> IngestEvent:
    """One event in the JSON event format; raises AdapterError naming the attribute or field."""
    if not isinstance(body, dict):
        raise AdapterError(base, f"expected a CloudEvent JSON object, got {json_type(body)}")
    attrs = _Attributes(body, base)
    if "data" not in body and "data_base64" in body:
        raise AdapterError(
            join(base, "data_base64"), "binary data is not accepted; send the contract as `data`"
        )
    if "data" not in body:
        raise AdapterError(join(base, "data"), "required field is missing")
    return _event(attrs, body["data"], join(base, "data"), received_at, mappings)


def translate_batch(
    body: Any, *, received_at: datetime, mappings: Mappings | None = None
) -> Translation[IngestEvent]:
    """An array of structured events: each bad one rejected by index, the others accepted."""
    if not isinstance(body, list):
        raise AdapterError("", f"expected a JSON array of CloudEvents, got {json_type(body)}")
    if not body:
        raise AdapterError("", "the batch holds no events")
    out: Translation[IngestEvent] = Translation()
    for index, item in enumerate(body):
        try:
            out.accepted.append(
                parse_structured(
                    item, base=pointer(index), received_at=received_at, mappings=mappings
                )
            )
        except AdapterError as err:
            out.reject(index, err, item)
    return out


def parse_binary(
    headers: Mapping[str, str],
    body: Any,
    *,
    received_at: datetime,
    mappings: Mappings | None = None,
) -> IngestEvent:
    """Binary mode: attributes from `ce-*` headers, the body is the contract's JSON."""
    lowered = _lower(headers)
    values = {
        name[len(HEADER_PREFIX) :]: unquote(value)
        for name, value in lowered.items()
        if name.startswith(HEADER_PREFIX)
    }
    if "content-type" in lowered:
        values["datacontenttype"] = lowered["content-type"]
    return _event(_Attributes(values, None), body, "", received_at, mappings)


def _event(
    attrs: _Attributes,
    data: Any,
    data_ptr: str,
    received_at: datetime,
    mappings: Mappings | None = None,
) -> IngestEvent:
    spec = attrs.string("specversion", required=True)
    if spec != SPEC_VERSION:
        raise attrs.error("specversion", f"unsupported specversion {spec!r}; expected 1.0")
    event_id = attrs.checked("id", attrs.string("id", required=True) or "", _event_id)
    source = attrs.string("source", required=True) or ""
    ce_type = attrs.string("type", required=True) or ""
    contract = CONTRACTS.get(ce_type)
    if contract is None:
        mapping = (mappings or {}).get(ce_type)
        if mapping is None:
            raise attrs.error(
                "type", f"unknown event type {ce_type!r}; expected one of {_known(mappings)}"
            )
        return _mapped(attrs, data, data_ptr, received_at, mapping, event_id, source)
    _check_content_type(attrs)
    if not isinstance(data, dict):
        raise AdapterError(data_ptr, f"expected the {ce_type} data object, got {json_type(data)}")
    fields = dict(data)
    _take_id(fields, event_id, data_ptr)
    _take_time(fields, attrs, data_ptr)
    fields.setdefault("time", received_at)
    if "source" not in fields:
        fields["source"] = attrs.checked("source", source, _contract_source)
    subject = attrs.string("subject")
    key = _SUBJECT_FIELD[contract]
    if subject is not None and key not in fields:
        fields[key] = attrs.checked("subject", subject, _identifier)
    return build(contract, fields, base=data_ptr)


def _take_id(fields: dict[str, Any], event_id: str, data_ptr: str) -> None:
    if "id" in fields and fields["id"] != event_id:
        raise AdapterError(
            join(data_ptr, "id"),
            "differs from the CloudEvent id; leave it out, the CloudEvent id is the event id",
        )
    fields["id"] = event_id


def _take_time(fields: dict[str, Any], attrs: _Attributes, data_ptr: str) -> None:
    raw = attrs.string("time")
    if raw is None:
        return
    try:
        when: datetime = timestamp(raw, "")
    except AdapterError as err:
        raise attrs.error("time", err.message) from None
    if "time" in fields and timestamp(fields["time"], join(data_ptr, "time")) != when:
        raise AdapterError(
            join(data_ptr, "time"),
            "differs from the CloudEvent time; leave it out, the CloudEvent time is used",
        )
    fields["time"] = when


def _check_content_type(attrs: _Attributes) -> None:
    declared = attrs.string("datacontenttype")
    if declared is None:
        return
    media = _media_type(declared)
    if media != "application/json" and not media.endswith("+json"):
        raise attrs.error(
            "datacontenttype", f"data must be JSON (application/json); got {declared!r}"
        )


def _mapped(
    attrs: _Attributes,
    data: Any,
    data_ptr: str,
    received_at: datetime,
    mapping: WebhookMapping,
    event_id: str,
    source: str,
) -> IngestEvent:
    """A foreign CloudEvent through its webhook mapping: the item is the whole event."""
    _check_content_type(attrs)
    item = {k: v for k, v in attrs.values.items() if k not in ("data", "data_base64")}
    item["data"] = data
    defaults: dict[str, Any] = {"id": event_id, "source": source[:200]}
    raw_time = attrs.string("time")
    if raw_time is not None:
        try:
            defaults["time"] = timestamp(raw_time, "")
        except AdapterError as err:
            raise attrs.error("time", err.message) from None
    base = data_ptr.rsplit("/data", 1)[0] if data_ptr.endswith("/data") else ""
    return map_item(item, mapping, received_at=received_at, pointer=base, defaults=defaults)


def _known(mappings: Mappings | None = None) -> str:
    return ", ".join([*CONTRACTS, *(mappings or {})])


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()

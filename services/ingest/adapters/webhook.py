"""Generic webhook mappings: any JSON a tool posts -> TelemetryEvents, by JMESPath expressions.

A mapping (one YAML file under `deploy/webhooks/`, loaded by `impactline.ingest.webhooks`)
names where the items are in the body and, per item, a JMESPath expression for each field:

| field        | expression gives                    | when it gives nothing                      |
|--------------|-------------------------------------|--------------------------------------------|
| `ci`         | the key the tool names the CI by    | the item is rejected                       |
| `state`      | a value looked up in `states`       | the item is rejected                       |
| `id`         | what identifies the item (hashed    | derived from the whole item, so a resend   |
|              | into a UUID event id)               | gets the same id                           |
| `time`       | RFC 3339 text or epoch seconds      | the time the body was received             |
| `summary`    | text (cut to 2000 characters)       | empty                                      |
| `attributes` | an object; values become text       | none                                       |
| `metric`, `value` | a name and a number            | none                                       |

`body_attributes` adds attributes taken once from the whole body (a receiver name, say); `skip`
leaves out the items it is true for (a tool's test message), saying so in the answer. The key
is kept as sent, even when it is not a valid CI id (a monitor called "GL Database"): binding
turns it into one, via an alias or a rule. A mapping may also claim CloudEvent types; an event
of such a type is mapped with the whole event (attributes and `data`) as the item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

import jmespath
import orjson
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from impactline.core.catalog.bindings import InputName
from impactline.core.contracts import TelemetryEvent
from impactline.core.states import State
from impactline.ingest.adapters.errors import AdapterError, join
from impactline.ingest.adapters.fields import build, json_type, stable_id, timestamp
from impactline.ingest.adapters.result import Translation

SUMMARY_LIMIT = 2000
_PLACEHOLDER_ID = "pending-binding"  # stands in while validating; the key replaces it
_SIMPLE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_EPOCH_MS = 10**11  # larger epoch numbers are milliseconds


@lru_cache(maxsize=1024)
def compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def _expression(value: str) -> str:
    try:
        compiled(value)
    except JMESPathError as exc:
        message = str(exc).replace("\n", " ")
        raise ValueError(f"not a valid JMESPath expression: {message}") from None
    return value


Expression = Annotated[str, AfterValidator(_expression)]


class MappingFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ci: Expression
    state: Expression
    id: Expression | None = None
    time: Expression | None = None
    summary: Expression | None = None
    attributes: Expression | None = None
    metric: Expression | None = None
    value: Expression | None = None


class WebhookMapping(BaseModel):
    """One named mapping, served at `POST /v1/webhooks/{name}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: InputName = Field(description="The route's name; binding rules select it as input.")
    description: str = ""
    items: Expression | None = Field(
        default=None, description="Where the items are (e.g. `alerts`); omitted: one item."
    )
    skip: Expression | None = Field(
        default=None, description="Items this is true for are left out (test messages)."
    )
    body_attributes: Expression | None = None
    fields: MappingFields
    states: dict[str, State] = Field(min_length=1)
    default_state: State | None = Field(
        default=None, description="The state of values not in `states`; omitted: rejected."
    )
    source: str | None = Field(default=None, max_length=200)
    cloudevent_types: tuple[Annotated[str, Field(min_length=1)], ...] = ()

    def state_of(self, raw: Any) -> State | None:
        key = _text(raw)
        if key is None:
            return None
        found = self.states.get(key)
        if found is None:
            found = next((s for k, s in self.states.items() if k.lower() == key.lower()), None)
        return found or self.default_state


def translate(
    body: Any, mapping: WebhookMapping, *, received_at: datetime
) -> Translation[TelemetryEvent]:
    """Every item of the body as a TelemetryEvent; bad items are rejected by index."""
    if not isinstance(body, dict | list):
        raise AdapterError("", f"expected a JSON object or array, got {json_type(body)}")
    items, base = _items(body, mapping)
    extra = _object(_search(mapping.body_attributes, body, "body_attributes", ""), "", "body")
    out: Translation[TelemetryEvent] = Translation()
    for index, item in enumerate(items):
        ptr = join(base, index) if mapping.items is not None else ""
        try:
            if mapping.skip is not None and _search(mapping.skip, item, "skip", ptr):
                out.notes.append(f"item {index} skipped: `{mapping.skip}` holds for it")
                continue
            out.accepted.append(
                map_item(item, mapping, received_at=received_at, pointer=ptr, extra=extra)
            )
        except AdapterError as err:
            out.reject(index, err, item)
    if not out.accepted and not out.rejected and not out.notes:
        raise AdapterError(base, "the body holds no items")
    return out


def map_item(
    item: Any,
    mapping: WebhookMapping,
    *,
    received_at: datetime,
    pointer: str = "",
    extra: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> TelemetryEvent:
    """One item as a TelemetryEvent. `defaults` fill fields the mapping leaves out (the
    CloudEvent id and time of a mapped CloudEvent)."""
    given = defaults or {}
    f = mapping.fields
    key = _text(_search(f.ci, item, "ci", pointer))
    if not key:
        raise AdapterError(pointer, f"mapping field `ci` ({f.ci}) gave no CI name for this item")
    raw_state = _search(f.state, item, "state", pointer)
    state = mapping.state_of(raw_state)
    if state is None:
        known = ", ".join(mapping.states)
        raise AdapterError(
            pointer,
            f"mapping field `state` ({f.state}) gave {_shown(raw_state)}, which is not in the "
            f"state table ({known}) and the mapping has no default_state",
        )
    # What identifies the item becomes a UUID, so a resend maps to the same event id.
    identity = _text(_search(f.id, item, "id", pointer))
    event_id = stable_id("webhook", mapping.name, identity) if identity else given.get("id")
    data: dict[str, Any] = {
        "id": event_id or stable_id("webhook", mapping.name, _canonical(item)),
        "ci_id": _PLACEHOLDER_ID,
        "state": state,
        "time": _time(_search(f.time, item, "time", pointer), pointer)
        or given.get("time")
        or received_at,
        "source": mapping.source or given.get("source") or mapping.name,
        "summary": _summary(_search(f.summary, item, "summary", pointer)),
        "attributes": {
            **(extra or {}),
            **_object(_search(f.attributes, item, "attributes", pointer), pointer, "attributes"),
        },
        "metric": _text(_search(f.metric, item, "metric", pointer)),
        "value": _number(_search(f.value, item, "value", pointer), pointer),
    }
    event = build(TelemetryEvent, data, base=pointer)
    # The key stays as the tool sent it; binding replaces it with the catalog CI id.
    return event.model_copy(update={"ci_id": key})


def _items(body: Any, mapping: WebhookMapping) -> tuple[list[Any], str]:
    if mapping.items is None:
        return [body], ""
    found = _search(mapping.items, body, "items", "")
    base = "/" + mapping.items.replace(".", "/") if _SIMPLE_PATH.fullmatch(mapping.items) else ""
    if found is None:
        raise AdapterError(base, f"mapping field `items` ({mapping.items}) found nothing")
    if not isinstance(found, list):
        raise AdapterError(base, f"expected an array of items, got {json_type(found)}")
    return found, base


def _search(expression: str | None, item: Any, field: str, pointer: str) -> Any:
    if expression is None:
        return None
    try:
        return compiled(expression).search(item)
    except JMESPathError as exc:
        raise AdapterError(pointer, f"mapping field `{field}` ({expression}): {exc}") from None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _summary(value: Any) -> str:
    text = _text(value) or ""
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _object(value: Any, pointer: str, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AdapterError(
            pointer, f"mapping field `{field}` gave {json_type(value)}, not an object"
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            continue
        out[str(key)] = item if isinstance(item, str) else orjson.dumps(item).decode()
    return out


def _time(value: Any, pointer: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > _EPOCH_MS else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    when = timestamp(value, pointer)
    return None if when.year == 1 else when  # Go's zero time: not set


def _number(value: Any, pointer: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(pointer, f"mapping field `value` gave {json_type(value)}, not a number")
    return float(value)


def _canonical(item: Any) -> str:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

"""`impactline bind explain`: what binding makes of a payload, item by item, without a broker.

The payload is translated exactly as ingest's route for that input would, then each event is
bound with the given catalog; the report says which step bound it to which CI, or why every step
failed and which CIs are closest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from impactline.core.binding import Binder, Bound, Outcome
from impactline.core.contracts import ChangeEvent, TelemetryEvent
from impactline.ingest import formats
from impactline.ingest.adapters import AdapterError
from impactline.ingest.adapters import cloudevents_http as ce
from impactline.ingest.binding import subject_of
from impactline.ingest.body import NDJSON
from impactline.ingest.intake import Format, Intake
from impactline.ingest.webhooks import WebhookMappings
from impactline.runtime.problems import Problem

BUILT_IN = ("native", "alertmanager", "cloudevents", "pagerduty", "changes")
_ITEM_WORD = {"alertmanager": "alert", "grafana": "alert", "changes": "change"}


class ExplainError(ValueError):
    """The payload cannot be explained as a whole (unknown input, not JSON, wrong shape)."""


@dataclass
class Explained:
    lines: list[str] = field(default_factory=list)
    bound: int = 0
    unbound: int = 0
    rejected: int = 0


def input_format(name: str, mappings: WebhookMappings) -> Format:
    """The translator ingest uses for input `name` (a built-in input or a webhook mapping)."""
    if name in formats.REPLAYABLE and name != "cloudevents":
        return formats.REPLAYABLE[name]
    if name == "cloudevents":
        return formats.cloudevents_format(mappings.by_cloudevent_type)
    if name == "pagerduty":
        return formats.PagerDutyFormat().format()
    mapping = mappings.by_name.get(name)
    if mapping is None:
        known = ", ".join([*BUILT_IN, *sorted(mappings.by_name)])
        raise ExplainError(f"unknown input {name!r}; the inputs are: {known}")
    return formats.webhook_format(mapping)


def explain(
    binder: Binder,
    input_name: str,
    payload: bytes,
    mappings: WebhookMappings,
    *,
    received_at: datetime,
    ndjson: bool = False,
) -> Explained:
    fmt = input_format(input_name, mappings)
    media = NDJSON if ndjson else _media_type(input_name, payload)
    intake = Intake(payload, {"content-type": media}, media, received_at)
    try:
        translation = fmt.translate(intake)
    except (AdapterError, Problem) as exc:  # the payload as a whole is wrong
        raise ExplainError(f"the payload is not a valid {input_name} body: {_why(exc)}") from None
    out = Explained()
    word = _ITEM_WORD.get(input_name, "event")
    for index, err in translation.rejected:
        out.rejected += 1
        out.lines.append(f"{word} {index}: rejected by the {input_name} input: {err}")
    for index, event in enumerate(translation.accepted):
        head = f"{word} {index} ({_describe(event)})"
        if not isinstance(event, TelemetryEvent | ChangeEvent):
            out.lines.append(f"{head}: not bound (a {type(event).__name__} names no CI)")
            continue
        outcome = binder.bind(subject_of(fmt.input_name, event))
        out.lines.extend(_lines(head, event.ci_id, outcome))
        if isinstance(outcome, Bound):
            out.bound += 1
        else:
            out.unbound += 1
    for note in translation.notes:
        out.lines.append(f"note: {note}")
    return out


def _lines(head: str, key: str, outcome: Outcome) -> list[str]:
    lines: list[str] = []
    if isinstance(outcome, Bound):
        lines.append(
            f"{head}: bound to {outcome.ci_id} by rule {outcome.rule} "
            f"({outcome.value!r} as {outcome.via}; correlation domain "
            f"{outcome.correlation_domain})"
        )
    else:
        lines.append(f"{head}: NOT BOUND, would wait on the unbound topic (key {key!r})")
    for attempt in outcome.attempts:
        lines.append(f"    {attempt.rule}: {attempt.outcome}")
    if not isinstance(outcome, Bound):
        closest = ", ".join(outcome.candidates) or "none alike"
        lines.append(f"    closest CIs: {closest}")
    return lines


def _describe(event: Any) -> str:
    labels: Mapping[str, str] = getattr(event, "attributes", {}) or {}
    name = labels.get("alertname") or getattr(event, "summary", "") or event.id
    return f"{name}, key {event.ci_id!r}" if hasattr(event, "ci_id") else str(name)


def _media_type(input_name: str, payload: bytes) -> str:
    if input_name != "cloudevents":
        return "application/json"
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ce.STRUCTURED  # the translator names the JSON error
    return ce.BATCH if isinstance(body, list) else ce.STRUCTURED


def _why(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else str(exc)

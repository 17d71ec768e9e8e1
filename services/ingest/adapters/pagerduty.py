"""PagerDuty Events API v2-compatible alert events -> TelemetryEvents.

Monitoring tools that can notify PagerDuty can post the same body to impactline:

| `event_action` | result                                                                |
|----------------|-----------------------------------------------------------------------|
| `trigger`      | one TelemetryEvent, state from `payload.severity`:                    |
|                | `critical`/`error` -> `down`, `warning`/`info` -> `degraded`          |
| `resolve`      | one TelemetryEvent with state `ok`                                    |
| `acknowledge`  | no telemetry (someone is on it; the CI is no healthier) and a note    |

| TelemetryEvent | from                                                                  |
|----------------|-----------------------------------------------------------------------|
| `id`           | derived from `dedup_key` + `event_action` + `payload.timestamp` (the  |
|                | receive time when absent), so a re-sent event is a duplicate          |
| `ci_id`        | `payload.component`, else `payload.source`; a resolve without either |
|                | asks the caller's `ci_for_dedup_key` lookup                           |
| `time`         | `payload.timestamp`, else the receive time                            |
| `summary`      | `payload.summary`                                                     |
| `source`       | `pagerduty` (configurable)                                            |
| `attributes`   | `pagerduty.dedup_key`, `.severity`, `.source`, `.group`, `.class`,    |
|                | and every scalar of `custom_details` as `pagerduty.details.<key>`     |

`info` maps to `degraded`, not `ok`: a triggered alert is a signal someone chose to route here,
and an `ok` would silently clear a CI that another source reported down. Change it with
`PagerDutyOptions.severity_states` if a source uses `info` for non-problems.

A trigger without `dedup_key` gets one derived from the routing key, CI and summary (PagerDuty
generates one too); it is returned in `success_response` so the client can resolve later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from impactline.core.contracts import TelemetryEvent
from impactline.core.states import State
from impactline.ingest.adapters.errors import AdapterError
from impactline.ingest.adapters.fields import (
    build,
    choice,
    require_object,
    required_text,
    stable_id,
    text,
    timestamp,
)
from impactline.ingest.adapters.result import Translation

SOURCE = "pagerduty"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
DEDUP_KEY_LIMIT = 255
SUMMARY_LIMIT = 1024


def _default_severities() -> dict[str, State]:
    return {
        "critical": State.DOWN,
        "error": State.DOWN,
        "warning": State.DEGRADED,
        "info": State.DEGRADED,
    }


@dataclass(frozen=True, slots=True)
class PagerDutyOptions:
    severity_states: Mapping[str, State] = field(default_factory=_default_severities)
    source: str = SOURCE


@dataclass(slots=True, kw_only=True)
class PagerDutyTranslation(Translation[TelemetryEvent]):
    """A translation plus what the PagerDuty response needs: the event's dedup key."""

    dedup_key: str
    action: str


def translate(
    body: Any,
    options: PagerDutyOptions | None = None,
    *,
    received_at: datetime,
    ci_for_dedup_key: Callable[[str], str | None] | None = None,
) -> PagerDutyTranslation:
    """One Events API v2 event; raises AdapterError naming the field when it is invalid.

    `ci_for_dedup_key` lets the caller name the CI of a resolve that carries no payload (for
    instance from the triggers it has seen); without it such a resolve is an error.
    """
    opts = options or PagerDutyOptions()
    now = received_at
    doc = require_object(body, "", "a PagerDuty event object")
    routing_key = required_text(doc, "routing_key", "")
    action = choice(doc, "event_action", "", ACTIONS)
    dedup_key = text(doc, "dedup_key", "", max_length=DEDUP_KEY_LIMIT)
    if action == "trigger":
        return _trigger(doc, routing_key, dedup_key, now, opts)
    if dedup_key is None or not dedup_key.strip():
        raise AdapterError("/dedup_key", f"required to {action} an alert: the trigger's dedup_key")
    if action == "acknowledge":
        return PagerDutyTranslation(
            notes=["acknowledged: an acknowledge does not change the CI state, no telemetry"],
            dedup_key=dedup_key,
            action=action,
        )
    return _resolve(doc, dedup_key, now, opts, ci_for_dedup_key)


def success_response(dedup_key: str) -> dict[str, str]:
    """The body PagerDuty clients expect with HTTP 202."""
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def error_response(error: AdapterError) -> dict[str, Any]:
    """The body PagerDuty clients expect with HTTP 400, listing each invalid field."""
    return {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [
            f"{f.get('pointer') or f.get('header') or '(body)'}: {f['detail']}"
            for f in error.fields()
        ],
    }


def _trigger(
    doc: dict[str, Any],
    routing_key: str,
    dedup_key: str | None,
    now: datetime,
    opts: PagerDutyOptions,
) -> PagerDutyTranslation:
    if doc.get("payload") is None:
        raise AdapterError("/payload", "required to trigger an alert")
    payload = require_object(doc["payload"], "/payload")
    summary = required_text(payload, "summary", "/payload", max_length=SUMMARY_LIMIT)
    reporter = required_text(payload, "source", "/payload")
    severity = choice(payload, "severity", "/payload", SEVERITIES)
    ci_field, ci_id = _ci(payload)
    assert ci_id is not None  # `source` is required for a trigger
    key = (
        dedup_key
        if dedup_key and dedup_key.strip()
        else _generated_key(routing_key, ci_id, summary)
    )
    event = _event(
        payload,
        key,
        "trigger",
        ci_field,
        ci_id,
        opts.severity_states.get(severity, State.DEGRADED),
        summary,
        now,
        opts,
        {"pagerduty.severity": severity, "pagerduty.source": reporter},
    )
    return PagerDutyTranslation(accepted=[event], dedup_key=key, action="trigger")


def _resolve(
    doc: dict[str, Any],
    dedup_key: str,
    now: datetime,
    opts: PagerDutyOptions,
    ci_for_dedup_key: Callable[[str], str | None] | None,
) -> PagerDutyTranslation:
    raw = doc.get("payload")
    payload = {} if raw is None else require_object(raw, "/payload")
    ci_field, ci_id = _ci(payload)
    if ci_id is None and ci_for_dedup_key is not None:
        ci_field, ci_id = "/dedup_key", ci_for_dedup_key(dedup_key)
    if ci_id is None:
        raise AdapterError(
            "/payload",
            "cannot tell which CI this resolve is for; send payload.component or payload.source",
        )
    summary = text(payload, "summary", "/payload", max_length=SUMMARY_LIMIT) or ""
    event = _event(payload, dedup_key, "resolve", ci_field, ci_id, State.OK, summary, now, opts, {})
    return PagerDutyTranslation(accepted=[event], dedup_key=dedup_key, action="resolve")


def _event(
    payload: dict[str, Any],
    dedup_key: str,
    action: str,
    ci_field: str,
    ci_id: str,
    state: State,
    summary: str,
    now: datetime,
    opts: PagerDutyOptions,
    extra: dict[str, str],
) -> TelemetryEvent:
    stamp = text(payload, "timestamp", "/payload")
    when = now if stamp is None else timestamp(stamp, "/payload/timestamp")
    attributes = {
        "pagerduty.dedup_key": dedup_key,
        **extra,
        **{
            f"pagerduty.{name}": value
            for name in ("group", "class")
            if (value := text(payload, name, "/payload"))
        },
        **_details(payload.get("custom_details")),
    }
    data = {
        "id": stable_id(SOURCE, dedup_key, action, stamp or now.isoformat()),
        "ci_id": ci_id,
        "state": state,
        "time": when,
        "source": opts.source,
        "summary": summary,
        "attributes": attributes,
    }
    sources = {"ci_id": ci_field, "time": "/payload/timestamp", "summary": "/payload/summary"}
    return build(TelemetryEvent, data, base="/payload", sources=sources)


def _ci(payload: dict[str, Any]) -> tuple[str, str | None]:
    """Which field names the CI: a component is more specific than the reporting host."""
    component = text(payload, "component", "/payload")
    if component and component.strip():
        return "/payload/component", component
    source = text(payload, "source", "/payload")
    return "/payload/source", source if source and source.strip() else None


def _generated_key(routing_key: str, ci_id: str, summary: str) -> str:
    return stable_id(SOURCE, "dedup", routing_key, ci_id, summary)


def _details(details: Any) -> dict[str, str]:
    # Attributes are flat strings; nested structures stay with the sender.
    if not isinstance(details, dict):
        return {}
    return {
        f"pagerduty.details.{key}": _scalar(value)
        for key, value in details.items()
        if isinstance(value, str | int | float | bool)
    }


def _scalar(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

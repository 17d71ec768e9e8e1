"""Prometheus Alertmanager webhook notifications (payload version "4") -> TelemetryEvents.

One notification carries a group of alerts; each alert becomes one TelemetryEvent:

| TelemetryEvent | from the alert                                                          |
|----------------|-------------------------------------------------------------------------|
| `id`           | derived from `fingerprint` + `startsAt` + `status`: a re-sent webhook   |
|                | yields the same ids, so idempotent sinks drop the repeat                |
| `ci_id`        | the first non-empty label of `ci`, `ci_id`, `instance`, `service`, `job` |
|                | (configurable), else `alertname`: the key ingest binds to a catalog CI  |
| `state`        | `resolved` -> `ok`; `firing` -> by the `severity` label:                |
|                | `critical`/`error` -> `down`, `warning`/`info` -> `degraded`;           |
|                | any other or no severity -> `degraded` (all configurable)               |
| `time`         | `startsAt` when firing; `endsAt` when resolved (`startsAt` if unset)    |
| `summary`      | annotation `summary`, else `description`, else label `alertname`        |
| `source`       | `alertmanager` (configurable)                                           |
| `attributes`   | every label, plus `alertmanager.fingerprint`, `alertmanager.receiver`,  |
|                | `alertmanager.generator_url`, `alertmanager.group_key` when present     |

A firing alert whose severity is not mapped still counts as `degraded`: an alert routed to
impactline is a symptom someone chose to send, and dropping it would hide it. Alerts that cannot
be translated (say, a timestamp is malformed) are rejected one by one, so the rest of the group is
still accepted; a malformed envelope (not version 4, no `alerts`) raises. An alert none of whose
labels names a CI (an aggregated `sum by (namespace, deployment)` alert, say) keeps its alert name
as the key, so binding rules over its other labels can still find the CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from impactline.core.contracts import TelemetryEvent
from impactline.core.states import State
from impactline.ingest.adapters.errors import AdapterError, join, pointer
from impactline.ingest.adapters.fields import (
    build,
    choice,
    json_type,
    require_object,
    required_text,
    stable_id,
    string_map,
    text,
    timestamp,
)
from impactline.ingest.adapters.result import Translation

SOURCE = "alertmanager"
FALLBACK_LABEL = "alertname"
SUMMARY_LIMIT = 2000
_ZERO_YEAR = 1  # Go's zero time (0001-01-01T00:00:00Z) marks an unset endsAt


def _default_severities() -> dict[str, State]:
    return {
        "critical": State.DOWN,
        "error": State.DOWN,
        "warning": State.DEGRADED,
        "info": State.DEGRADED,
    }


@dataclass(frozen=True, slots=True)
class AlertmanagerOptions:
    """How alerts are read; the defaults suit the usual Prometheus labelling."""

    ci_labels: tuple[str, ...] = ("ci", "ci_id", "instance", "service", "job")
    severity_label: str = "severity"
    severity_states: Mapping[str, State] = field(default_factory=_default_severities)
    default_state: State = State.DEGRADED
    accepted_versions: tuple[str, ...] = ("4",)
    source: str = SOURCE


@dataclass(frozen=True, slots=True)
class _Group:
    receiver: str | None
    group_key: str | None


def translate(body: Any, options: AlertmanagerOptions | None = None) -> Translation[TelemetryEvent]:
    """Every alert of the notification as a TelemetryEvent; bad alerts are rejected by index."""
    opts = options or AlertmanagerOptions()
    doc = require_object(body, "", "an Alertmanager webhook object")
    version = required_text(doc, "version", "")
    if version not in opts.accepted_versions:
        raise AdapterError(
            "/version",
            f"unsupported webhook payload version {version!r}; "
            f"expected {' or '.join(opts.accepted_versions)}",
        )
    group = _Group(text(doc, "receiver", ""), text(doc, "groupKey", ""))
    alerts = doc.get("alerts")
    if alerts is None:
        raise AdapterError("/alerts", "required field is missing")
    if not isinstance(alerts, list):
        raise AdapterError("/alerts", f"expected an array of alerts, got {json_type(alerts)}")
    if not alerts:
        raise AdapterError("/alerts", "the notification holds no alerts")
    out: Translation[TelemetryEvent] = Translation()
    for index, alert in enumerate(alerts):
        try:
            out.accepted.append(_alert(alert, pointer("alerts", index), group, opts))
        except AdapterError as err:
            out.reject(index, err, alert)
    truncated = doc.get("truncatedAlerts")
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        out.notes.append(
            f"Alertmanager left {truncated} alert(s) out of this notification (max_alerts); "
            "they were not received"
        )
    return out


def _alert(raw: Any, base: str, group: _Group, opts: AlertmanagerOptions) -> TelemetryEvent:
    alert = require_object(raw, base, "an alert object")
    status = choice(alert, "status", base, ("firing", "resolved"))
    if alert.get("labels") is None:
        raise AdapterError(join(base, "labels"), "required field is missing")
    labels = string_map(alert["labels"], join(base, "labels"))
    annotations = string_map(alert.get("annotations") or {}, join(base, "annotations"))
    starts_raw = required_text(alert, "startsAt", base)
    starts = timestamp(starts_raw, join(base, "startsAt"))
    ends = _ends_at(alert, base)
    fingerprint = text(alert, "fingerprint", base)
    ci_label = _ci_label(labels, base, opts)
    time_field = "endsAt" if status == "resolved" and ends else "startsAt"
    data = {
        "id": stable_id(SOURCE, fingerprint or _label_signature(labels), starts_raw, status),
        "ci_id": labels[ci_label],
        "state": _state(status, labels, opts),
        "time": ends if time_field == "endsAt" else starts,
        "source": opts.source,
        "summary": _summary(labels, annotations),
        "attributes": {**labels, **_extra(alert, base, fingerprint, group)},
    }
    sources = {
        "ci_id": join(base, "labels", ci_label),
        "time": join(base, time_field),
        "attributes": join(base, "labels"),
    }
    return build(TelemetryEvent, data, base=base, sources=sources)


def _ends_at(alert: dict[str, Any], base: str) -> datetime | None:
    raw = alert.get("endsAt")
    if raw is None:
        return None
    ends = timestamp(raw, join(base, "endsAt"))
    return None if ends.year == _ZERO_YEAR else ends


def _ci_label(labels: dict[str, str], base: str, opts: AlertmanagerOptions) -> str:
    for name in (*opts.ci_labels, FALLBACK_LABEL):
        if labels.get(name, "").strip():
            return name
    raise AdapterError(
        join(base, "labels"),
        f"no label names the CI; set one of {', '.join(opts.ci_labels)} on the alert rule "
        f"(or at least {FALLBACK_LABEL}, for binding rules to work on)",
    )


def _state(status: str, labels: dict[str, str], opts: AlertmanagerOptions) -> State:
    if status == "resolved":
        return State.OK
    severity = labels.get(opts.severity_label, "").strip().lower()
    return opts.severity_states.get(severity, opts.default_state)


def _summary(labels: dict[str, str], annotations: dict[str, str]) -> str:
    summary = (
        annotations.get("summary") or annotations.get("description") or labels.get("alertname")
    ) or ""
    # A long description must not cost the alert; the full text stays in Alertmanager.
    return summary if len(summary) <= SUMMARY_LIMIT else summary[: SUMMARY_LIMIT - 1] + "…"


def _extra(
    alert: dict[str, Any], base: str, fingerprint: str | None, group: _Group
) -> dict[str, str]:
    # Dotted keys cannot collide with Prometheus label names, which allow no dots.
    values = {
        "alertmanager.fingerprint": fingerprint,
        "alertmanager.generator_url": text(alert, "generatorURL", base),
        "alertmanager.receiver": group.receiver,
        "alertmanager.group_key": group.group_key,
    }
    return {k: v for k, v in values.items() if v}


def _label_signature(labels: dict[str, str]) -> str:
    """Stands in for a missing fingerprint: the label set is what identifies an alert."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

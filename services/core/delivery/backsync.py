"""What pagers and ITSM tools tell impactline back: a PagerDuty v3 webhook, a Jira webhook or a
ServiceNow callback, read into `Sync` values that say which of our subjects was acknowledged or
resolved, by whom. Signatures are checked by the caller (`signing`) before these run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class SyncAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Sync:
    """`key` identifies our subject at the destination: a PagerDuty incident key (our dedup
    key), a ServiceNow correlation id or sys_id, a Jira issue key (`key_kind` says which)."""

    event_id: str
    key: str
    key_kind: str
    action: SyncAction
    actor: str
    note: str


class CallbackError(ValueError):
    """A callback body that cannot be read; the text names the field."""


_PAGERDUTY_EVENTS = {
    "incident.acknowledged": SyncAction.ACKNOWLEDGE,
    "incident.resolved": SyncAction.RESOLVE,
}


def from_pagerduty(body: Any) -> Sync | None:
    """A v3 webhook: `incident.acknowledged` and `incident.resolved` of an incident created by
    our events (its `incident_key` is our dedup key); None for every other event type."""
    event = _field(body, "event", dict)
    kind = _field(event, "event_type", str, "event.")
    if kind not in _PAGERDUTY_EVENTS:
        return None
    data = _field(event, "data", dict, "event.")
    key = data.get("incident_key")
    if not isinstance(key, str) or not key:
        return None  # an incident not opened through the Events API: not ours
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    actor = str(agent.get("summary") or agent.get("id") or "PagerDuty")
    number = data.get("number")
    title = f"PagerDuty incident #{number}" if number else "PagerDuty incident"
    return Sync(
        event_id=str(event.get("id") or f"{kind}:{key}"),
        key=key,
        key_kind="dedup_key",
        action=_PAGERDUTY_EVENTS[kind],
        actor=f"pagerduty:{actor}",
        note=f"{title} {_PAGERDUTY_EVENTS[kind].value}d by {actor}",
    )


# ServiceNow incident states: 2 In Progress, 6 Resolved, 7 Closed.
_SERVICENOW_STATES = {"2": SyncAction.ACKNOWLEDGE, "6": SyncAction.RESOLVE, "7": SyncAction.RESOLVE}


def from_servicenow(body: Any) -> Sync | None:
    """A record update a ServiceNow business rule posts: `sys_id` or `correlation_id`, `state`,
    and optionally `number`, `sys_updated_by`, `sys_updated_on`. Other states: None."""
    if not isinstance(body, dict):
        raise CallbackError("expected a JSON object")
    state = str(_field(body, "state", (str, int)))
    if state not in _SERVICENOW_STATES:
        return None
    correlation = body.get("correlation_id")
    sys_id = body.get("sys_id")
    if isinstance(correlation, str) and correlation:
        key, kind = correlation, "correlation_id"
    elif isinstance(sys_id, str) and sys_id:
        key, kind = sys_id, "external_ref"
    else:
        raise CallbackError("correlation_id or sys_id: expected the record's id")
    actor = str(body.get("sys_updated_by") or "ServiceNow")
    number = body.get("number") or key
    action = _SERVICENOW_STATES[state]
    return Sync(
        event_id=f"servicenow:{key}:{state}:{body.get('sys_updated_on', '')}",
        key=key,
        key_kind=kind,
        action=action,
        actor=f"servicenow:{actor}",
        note=f"ServiceNow {number} {action.value}d by {actor}",
    )


def from_jira(body: Any, acknowledge_statuses: Iterable[str]) -> Sync | None:
    """A `jira:issue_updated` webhook whose status changed: to a done status (resolve) or to one
    of `acknowledge_statuses` (acknowledge); None otherwise."""
    issue = _field(body, "issue", dict)
    key = _field(issue, "key", str, "issue.")
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    status = fields.get("status") if isinstance(fields.get("status"), dict) else {}
    name = str(status.get("name", ""))
    category = (
        status.get("statusCategory") if isinstance(status.get("statusCategory"), dict) else {}
    )
    if category.get("key") == "done":
        action = SyncAction.RESOLVE
    elif name.casefold() in {s.casefold() for s in acknowledge_statuses}:
        action = SyncAction.ACKNOWLEDGE
    else:
        return None
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    actor = str(user.get("displayName") or user.get("accountId") or "Jira")
    return Sync(
        event_id=f"jira:{key}:{name}:{body.get('timestamp', '')}",
        key=key,
        key_kind="external_ref",
        action=action,
        actor=f"jira:{actor}",
        note=f"Jira {key} moved to {name or 'done'} by {actor}",
    )


def _field(body: Any, name: str, kind: type | tuple[type, ...], prefix: str = "") -> Any:
    if not isinstance(body, dict):
        raise CallbackError(f"{prefix.rstrip('.') or 'body'}: expected a JSON object")
    value = body.get(name)
    if not isinstance(value, kind):
        raise CallbackError(f"{prefix}{name}: missing or of the wrong type")
    return value

"""PagerDuty Events API v2: trigger, acknowledge and resolve alerts under our dedup key.

A trigger carries the summary (at most 1024 characters), `source`, a `severity` from the
priority (critical, error, warning or info), the event's timestamp, and the impact explanation
as `custom_details` with a link to the dashboard. Acknowledge and resolve carry only the routing
key, the action and the dedup key (at most 255 characters; a longer subject is hashed).
"""

from __future__ import annotations

import hashlib

from impactline.core.delivery.destinations import PagerDuty
from impactline.core.delivery.explain import Explained, clip
from impactline.core.delivery.notice import Action
from impactline.core.delivery.vendors.request import HttpRequest, json_request

SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = {Action.TRIGGER: "trigger", Action.ACKNOWLEDGE: "acknowledge", Action.RESOLVE: "resolve"}


def dedup_key(subject: str) -> str:
    if len(subject) <= DEDUP_KEY_LIMIT:
        return subject
    return "sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def event(
    destination: PagerDuty, routing_key: str, action: Action, subject: str, explained: Explained
) -> HttpRequest:
    if action not in ACTIONS:
        raise ValueError(f"PagerDuty takes trigger, acknowledge and resolve, not {action}")
    body: dict[str, object] = {
        "routing_key": routing_key,
        "event_action": ACTIONS[action],
        "dedup_key": dedup_key(subject),
    }
    if action is Action.TRIGGER:
        notice = explained.notice
        explanation = notice.explanation
        payload: dict[str, object] = {
            "summary": clip(explained.title, SUMMARY_LIMIT),
            "source": "impactline",
            "severity": destination.severities.get(notice.priority or "P3", "warning"),
            "timestamp": notice.time.isoformat(),
            "class": "business impact",
            "custom_details": {fact.label: fact.value for fact in explained.facts},
        }
        if explanation is not None:
            payload["component"] = explanation.cause_ci_id
            if explanation.business_domain:
                payload["group"] = explanation.business_domain
        body["payload"] = payload
        body["client"] = "impactline"
        if explained.link:
            body["client_url"] = explained.link
            body["links"] = [{"href": explained.link, "text": "Incident in impactline"}]
    return json_request("POST", destination.url, body)

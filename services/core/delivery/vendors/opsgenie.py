"""Opsgenie Alert API (v2): create an alert under our alias, acknowledge and close it by alias.

Limits honoured: message 130 characters, alias 512, description 15000, entity 512, source
100, at most 20 tags of 50 characters, details as string pairs (8000 characters in all).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from impactline.core.delivery.destinations import Opsgenie
from impactline.core.delivery.explain import Explained, clip
from impactline.core.delivery.notice import Action
from impactline.core.delivery.vendors.request import HttpRequest, json_request

MESSAGE_LIMIT = 130
ALIAS_LIMIT = 512
DESCRIPTION_LIMIT = 15000
DETAILS_LIMIT = 8000
TAG_LIMIT = 50
TAGS_MAX = 20
SOURCE = "impactline"


def alias(subject: str) -> str:
    if len(subject) <= ALIAS_LIMIT:
        return subject
    return "sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def request(
    destination: Opsgenie, api_key: str, action: Action, subject: str, explained: Explained
) -> HttpRequest:
    headers = {"Authorization": f"GenieKey {api_key}"}
    base = destination.url.rstrip("/") + "/v2/alerts"
    if action is Action.TRIGGER:
        return json_request("POST", base, _create(destination, subject, explained), headers)
    verbs = {Action.ACKNOWLEDGE: "acknowledge", Action.RESOLVE: "close"}
    if action not in verbs:
        raise ValueError(f"Opsgenie takes trigger, acknowledge and resolve, not {action}")
    url = f"{base}/{quote(alias(subject), safe='')}/{verbs[action]}?identifierType=alias"
    body = {"source": SOURCE, "user": SOURCE, "note": clip(explained.title, 25000)}
    return json_request("POST", url, body, headers)


def _create(destination: Opsgenie, subject: str, explained: Explained) -> dict[str, object]:
    notice = explained.notice
    tags = [*destination.tags, "impactline"]
    if notice.high_visibility:
        tags.append("high-visibility")
    if notice.business_domain:
        tags.append(notice.business_domain)
    body: dict[str, object] = {
        "message": clip(explained.title, MESSAGE_LIMIT),
        "alias": alias(subject),
        "description": clip(explained.text(), DESCRIPTION_LIMIT),
        "tags": [clip(tag, TAG_LIMIT) for tag in dict.fromkeys(tags)][:TAGS_MAX],
        "details": _details(explained),
        "entity": clip(notice.service_id or "impactline", 512),
        "source": SOURCE,
        "priority": notice.priority or "P3",
    }
    if destination.responders:
        body["responders"] = [r.model_dump() for r in destination.responders]
    return body


def _details(explained: Explained) -> dict[str, str]:
    details: dict[str, str] = {}
    used = 0
    for fact in explained.facts:
        value = clip(fact.value, 1000)
        used += len(fact.label) + len(value)
        if used > DETAILS_LIMIT:
            break
        details[fact.label] = value
    return details

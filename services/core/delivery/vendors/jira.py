"""Jira Service Management through the Jira Cloud platform REST API (v3).

- create: POST /rest/api/3/issue in the service project, with the summary (255 characters),
  the impact explanation as an Atlassian Document Format description, the priority mapped from
  ours and a label naming our record key; a retried create first searches for that label
  (GET /rest/api/3/search/jql) so it finds the request instead of opening a second one.
- update: PUT /rest/api/3/issue/{key} with the new priority and a comment.
- note: POST /rest/api/3/issue/{key}/comment, internal to the service desk agents.
- resolve: POST /rest/api/3/issue/{key}/transitions with the resolving transition and a comment.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote, urlencode

from impactline.core.delivery.destinations import Jira
from impactline.core.delivery.explain import Explained, clip
from impactline.core.delivery.notice import Action
from impactline.core.delivery.vendors.request import HttpRequest, json_request

SUMMARY_LIMIT = 255
# Jira Service Management marks a comment internal (agents only) with this entity property.
INTERNAL_COMMENT = {"key": "sd.public.comment", "value": {"internal": True}}


def label(subject: str) -> str:
    """A label for our record key: labels cannot hold spaces or be longer than 255."""
    return "impactline-" + hashlib.sha256(subject.encode()).hexdigest()[:24]


def auth_headers(email: str | None, api_token: str) -> dict[str, str]:
    if email is None:
        return {"Authorization": f"Bearer {api_token}"}
    pair = base64.b64encode(f"{email}:{api_token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def document(text: str) -> dict[str, Any]:
    """`text` as an Atlassian Document Format document: one paragraph per line."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.splitlines()
        if line.strip()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def lookup(destination: Jira, headers: dict[str, str], subject: str) -> HttpRequest:
    jql = f'project = "{destination.project_key}" AND labels = "{label(subject)}"'
    query = urlencode({"jql": jql, "fields": "key,status", "maxResults": "1"})
    return json_request("GET", f"{_api(destination)}/search/jql?{query}", None, headers)


def found(answer: Any) -> str | None:
    """The issue key a search or a create returned, if any."""
    if not isinstance(answer, dict):
        return None
    issues = answer.get("issues")
    if isinstance(issues, list):
        return str(issues[0]["key"]) if issues and isinstance(issues[0], dict) else None
    key = answer.get("key")
    return str(key) if key else None


def create(
    destination: Jira, headers: dict[str, str], subject: str, explained: Explained
) -> HttpRequest:
    notice = explained.notice
    fields: dict[str, Any] = {
        "project": {"key": destination.project_key},
        "issuetype": {"name": destination.issue_type},
        "summary": clip(" ".join(notice.summary.split()), SUMMARY_LIMIT),
        "description": document(explained.text()),
        "labels": ["impactline", label(subject)],
    }
    if notice.priority and notice.priority in destination.priorities:
        fields["priority"] = {"name": destination.priorities[notice.priority]}
    return json_request("POST", f"{_api(destination)}/issue", {"fields": fields}, headers)


def change(
    destination: Jira, headers: dict[str, str], key: str, action: Action, explained: Explained
) -> HttpRequest:
    issue = f"{_api(destination)}/issue/{quote(key, safe='')}"
    comment = document(explained.text())
    if action in (Action.UPDATE, Action.CREATE):
        body: dict[str, Any] = {"update": {"comment": [{"add": {"body": comment}}]}}
        priority = explained.notice.priority
        if priority and priority in destination.priorities:
            body["fields"] = {"priority": {"name": destination.priorities[priority]}}
        return json_request("PUT", issue, body, headers)
    if action is Action.NOTE:
        body = {"body": comment, "properties": [INTERNAL_COMMENT]}
        return json_request("POST", f"{issue}/comment", body, headers)
    if action is Action.RESOLVE:
        body = {
            "transition": {"id": destination.resolve_transition},
            "update": {"comment": [{"add": {"body": comment}}]},
        }
        return json_request("POST", f"{issue}/transitions", body, headers)
    raise ValueError(f"Jira requests take create, update, note and resolve, not {action}")


def _api(destination: Jira) -> str:
    return f"{destination.site_url.rstrip('/')}/rest/api/3"

"""ServiceNow Table API: one `incident` record per impact episode.

- create: POST /api/now/table/incident with short_description (160 characters), description,
  impact and urgency (1 high, 2 medium, 3 low: our ITIL values), work notes, and
  `correlation_id` = our record key, so a retried create finds the record instead of making a
  second one (GET by correlation_id first).
- update: PATCH the record's impact, urgency and short description, with a work note.
- note: PATCH a work note (an acknowledgement in impactline or a pager).
- resolve: PATCH state 6 (Resolved) with close_code and close_notes.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, urlencode

from impactline.core.delivery.destinations import ServiceNow
from impactline.core.delivery.explain import Explained, clip
from impactline.core.delivery.notice import Action
from impactline.core.delivery.vendors.request import HttpRequest, json_request

SHORT_DESCRIPTION_LIMIT = 160
CORRELATION_ID_LIMIT = 100
RESOLVED = "6"
ITIL_VALUES = ("1", "2", "3")


def correlation_id(subject: str) -> str:
    key = subject.removeprefix("itsm:")
    return clip(f"impactline:{key}", CORRELATION_ID_LIMIT)


def auth_headers(username: str | None, password: str | None, token: str | None) -> dict[str, str]:
    if token is not None:
        return {"Authorization": f"Bearer {token}"}
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def lookup(destination: ServiceNow, headers: dict[str, str], subject: str) -> HttpRequest:
    query = urlencode(
        {
            "sysparm_query": f"correlation_id={correlation_id(subject)}",
            "sysparm_fields": "sys_id,number,state",
            "sysparm_limit": "1",
        }
    )
    return json_request("GET", f"{_table(destination)}?{query}", None, headers)


def found(answer: Any) -> tuple[str, str] | None:
    """(sys_id, number) of the record a lookup or create returned, if any."""
    result = answer.get("result") if isinstance(answer, dict) else None
    if isinstance(result, list):
        result = result[0] if result else None
    if isinstance(result, dict) and result.get("sys_id"):
        return str(result["sys_id"]), str(result.get("number") or result["sys_id"])
    return None


def create(
    destination: ServiceNow, headers: dict[str, str], subject: str, explained: Explained
) -> HttpRequest:
    notice = explained.notice
    body: dict[str, Any] = {
        "short_description": clip(notice.summary, SHORT_DESCRIPTION_LIMIT),
        "description": explained.text(),
        "correlation_id": correlation_id(subject),
        "correlation_display": "impactline",
        "work_notes": explained.text(),
        **_itil(explained),
    }
    for field in ("assignment_group", "caller_id", "category"):
        value = getattr(destination, field)
        if value is not None:
            body[field] = value
    return json_request("POST", _table(destination), body, headers)


def change(
    destination: ServiceNow,
    headers: dict[str, str],
    sys_id: str,
    action: Action,
    explained: Explained,
) -> HttpRequest:
    """The PATCH an update, a note or a resolve makes to an existing record."""
    body: dict[str, Any] = {"work_notes": explained.text()}
    if action in (Action.UPDATE, Action.CREATE):
        body["short_description"] = clip(explained.notice.summary, SHORT_DESCRIPTION_LIMIT)
        body.update(_itil(explained))
    elif action is Action.RESOLVE:
        body.update(
            {
                "state": RESOLVED,
                "close_code": destination.close_code,
                "close_notes": explained.notice.summary,
            }
        )
    elif action is not Action.NOTE:
        raise ValueError(f"ServiceNow records take create, update, note and resolve, not {action}")
    url = f"{_table(destination)}/{quote(sys_id, safe='')}"
    return json_request("PATCH", url, body, headers)


def _itil(explained: Explained) -> dict[str, str]:
    notice = explained.notice
    values: dict[str, str] = {}
    if notice.impact is not None:
        values["impact"] = str(notice.impact)
    if notice.urgency is not None:
        values["urgency"] = str(notice.urgency)
    return values


def _table(destination: ServiceNow) -> str:
    return f"{destination.instance_url.rstrip('/')}/api/now/table/{destination.table}"

"""Microsoft Teams incoming webhook (Workflows or connector): a message with one Adaptive Card
attachment. Incoming webhooks cannot edit a posted card, so every change is a new card.

The card has a bold title (in the attention colour for P1 and P2), the summary, the impact
explanation as a FactSet, and an OpenUrl action to the dashboard; the whole message stays under
the 28 KB Teams accepts.
"""

from __future__ import annotations

import json
from typing import Any

from impactline.core.delivery.explain import Explained, Fact, clip
from impactline.core.delivery.vendors.request import HttpRequest, json_request

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
MESSAGE_LIMIT_BYTES = 28 * 1024


def card(explained: Explained, facts: tuple[Fact, ...] | None = None) -> dict[str, Any]:
    shown = explained.facts if facts is None else facts
    urgent = explained.notice.priority in ("P1", "P2")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": clip(explained.title, 1000),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            **({"color": "Attention"} if urgent else {}),
        },
        {"type": "TextBlock", "text": clip(explained.notice.summary, 4000), "wrap": True},
    ]
    if shown:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": f.label, "value": clip(f.value, 2000)} for f in shown],
            }
        )
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if explained.link:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in impactline", "url": explained.link}
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


def post(webhook_url: str, explained: Explained) -> HttpRequest:
    facts = explained.facts
    message = card(explained, facts)
    # Drop facts from the end until the message fits; the title and summary always stay.
    while len(json.dumps(message).encode()) > MESSAGE_LIMIT_BYTES and facts:
        facts = facts[:-1]
        message = card(explained, facts)
    return json_request("POST", webhook_url, message)

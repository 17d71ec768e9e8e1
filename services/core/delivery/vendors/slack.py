"""Slack: Block Kit messages through an incoming webhook, or through the Web API
(`chat.postMessage`, then `chat.update` of the same message, which incoming webhooks cannot).

Limits honoured: at most 50 blocks, header text 150 characters, section text 3000, at most 10
fields of 2000 characters, at most 10 context elements; `text` is the notification fallback.
"""

from __future__ import annotations

from typing import Any

from impactline.core.delivery.destinations import Slack
from impactline.core.delivery.explain import Explained, clip
from impactline.core.delivery.vendors.request import HttpRequest, json_request

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50
TEXT_LIMIT = 3000
# Facts shown as their own line rather than in the two-column field grid.
_WIDE = ("Dashboard", "Suspect changes", "High visibility")


def message(explained: Explained) -> dict[str, Any]:
    """`text` and `blocks` of a message (without channel or timestamp)."""
    fields = [f for f in explained.facts if f.label not in _WIDE][:FIELDS_MAX]
    wide = [f for f in explained.facts if f.label in _WIDE and f.label != "Dashboard"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(clip(explained.title, HEADER_LIMIT))},
        {
            "type": "section",
            "text": _mrkdwn(clip(_escape(explained.notice.summary), SECTION_LIMIT)),
        },
    ]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn(clip(f"*{f.label}*\n{_escape(f.value)}", FIELD_LIMIT)) for f in fields
                ],
            }
        )
    for fact in wide:
        text = f"*{fact.label}:* {_escape(fact.value)}"
        blocks.append({"type": "section", "text": _mrkdwn(clip(text, SECTION_LIMIT))})
    if explained.link:
        link = f"<{explained.link}|Open the incident in impactline>"
        blocks.append({"type": "context", "elements": [_mrkdwn(link)]})
    return {"text": clip(explained.title, TEXT_LIMIT), "blocks": blocks[:BLOCKS_MAX]}


def webhook_post(webhook_url: str, explained: Explained) -> HttpRequest:
    return json_request("POST", webhook_url, message(explained))


def api_post(destination: Slack, token: str, explained: Explained) -> HttpRequest:
    body = {"channel": destination.channel, **message(explained)}
    return json_request("POST", f"{_base(destination)}/chat.postMessage", body, _bearer(token))


def api_update(destination: Slack, token: str, ref: str, explained: Explained) -> HttpRequest:
    """Replace the message `ref` (`<channel>:<ts>`, as `posted_ref` gives) in place."""
    channel, _, ts = ref.partition(":")
    body = {"channel": channel, "ts": ts, **message(explained)}
    return json_request("POST", f"{_base(destination)}/chat.update", body, _bearer(token))


def posted_ref(answer: Any) -> str | None:
    """`<channel>:<ts>` of a message the Web API accepted, to update it later."""
    if isinstance(answer, dict) and answer.get("ok") and answer.get("ts"):
        return f"{answer.get('channel', '')}:{answer['ts']}"
    return None


# Web API errors that no retry will fix (the rest, e.g. `ratelimited`, are worth retrying).
REFUSALS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "missing_scope",
    }
)


def api_error(answer: Any) -> str | None:
    """The Web API's error code when it said `ok: false` (it answers HTTP 200 either way)."""
    if isinstance(answer, dict) and not answer.get("ok", False):
        return str(answer.get("error", "unknown error"))
    return None


def _base(destination: Slack) -> str:
    return destination.url.rstrip("/")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _escape(text: str) -> str:
    # Slack treats these three as control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""The request formats the vendors publish, as JSON Schemas, so tests check every request notify
builds or sends against them (fields, enums, limits) rather than against our own builders.

Sources, read for the facts only: PagerDuty Events API v2 ("Send an Alert Event"), Opsgenie
Alert API (create, acknowledge, close), Slack Block Kit reference (header, section, context),
Microsoft Teams incoming webhooks with Adaptive Cards, the ServiceNow Table API `incident`
fields, the Jira Cloud platform REST API v3 (create issue, edit, comment, transitions) and
CloudEvents 1.0 (structured JSON).
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

_TEXT_OBJECT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["plain_text", "mrkdwn"]},
        "text": {"type": "string", "minLength": 1},
        "emoji": {"type": "boolean"},
        "verbatim": {"type": "boolean"},
    },
    "additionalProperties": False,
}


def _text(kind: str, limit: int) -> dict[str, Any]:
    return {
        **_TEXT_OBJECT,
        "properties": {
            **_TEXT_OBJECT["properties"],
            "type": {"const": kind} if kind != "any" else {"enum": ["plain_text", "mrkdwn"]},
            "text": {"type": "string", "minLength": 1, "maxLength": limit},
        },
    }


PAGERDUTY_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "images": {
            "type": "array",
            "items": {"type": "object", "required": ["src"]},
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["href"],
                "properties": {"href": {"type": "string"}, "text": {"type": "string"}},
                "additionalProperties": False,
            },
        },
        "client": {"type": "string"},
        "client_url": {"type": "string"},
    },
    "allOf": [
        {
            "if": {"properties": {"event_action": {"const": "trigger"}}},
            "then": {"required": ["payload"]},
            "else": {"required": ["dedup_key"], "not": {"required": ["payload"]}},
        }
    ],
}

_OPSGENIE_RECIPIENT = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["team", "user", "escalation", "schedule"]},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "username": {"type": "string"},
    },
    "additionalProperties": False,
    "anyOf": [{"required": ["id"]}, {"required": ["name"]}, {"required": ["username"]}],
}

OPSGENIE_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "additionalProperties": False,
    "properties": {
        "message": {"type": "string", "minLength": 1, "maxLength": 130},
        "alias": {"type": "string", "maxLength": 512},
        "description": {"type": "string", "maxLength": 15000},
        "responders": {"type": "array", "maxItems": 50, "items": _OPSGENIE_RECIPIENT},
        "visibleTo": {"type": "array", "maxItems": 50, "items": _OPSGENIE_RECIPIENT},
        "actions": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "maxLength": 50},
        },
        "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 50}},
        "details": {"type": "object", "additionalProperties": {"type": "string"}},
        "entity": {"type": "string", "maxLength": 512},
        "source": {"type": "string", "maxLength": 100},
        "priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]},
        "user": {"type": "string", "maxLength": 100},
        "note": {"type": "string", "maxLength": 25000},
    },
}

OPSGENIE_ACTION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "user": {"type": "string", "maxLength": 100},
        "source": {"type": "string", "maxLength": 100},
        "note": {"type": "string", "maxLength": 25000},
    },
}

_SLACK_BLOCK = {
    "oneOf": [
        {
            "type": "object",
            "required": ["type", "text"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "header"},
                "text": _text("plain_text", 150),
                "block_id": {"type": "string", "maxLength": 255},
            },
        },
        {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
            "properties": {
                "type": {"const": "section"},
                "text": _text("any", 3000),
                "fields": {"type": "array", "maxItems": 10, "items": _text("any", 2000)},
                "block_id": {"type": "string", "maxLength": 255},
            },
        },
        {
            "type": "object",
            "required": ["type", "elements"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "context"},
                "elements": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 10,
                    "items": _text("any", 3000),
                },
                "block_id": {"type": "string", "maxLength": 255},
            },
        },
        {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "properties": {"type": {"const": "divider"}, "block_id": {"type": "string"}},
        },
    ]
}

SLACK_WEBHOOK_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["text", "blocks"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 40000},
        "blocks": {"type": "array", "minItems": 1, "maxItems": 50, "items": _SLACK_BLOCK},
    },
}

SLACK_POST_MESSAGE: dict[str, Any] = {
    **SLACK_WEBHOOK_MESSAGE,
    "required": ["channel", "text", "blocks"],
    "properties": {**SLACK_WEBHOOK_MESSAGE["properties"], "channel": {"type": "string"}},
}

SLACK_UPDATE: dict[str, Any] = {
    **SLACK_WEBHOOK_MESSAGE,
    "required": ["channel", "ts", "text", "blocks"],
    "properties": {
        **SLACK_WEBHOOK_MESSAGE["properties"],
        "channel": {"type": "string"},
        "ts": {"type": "string", "pattern": r"^\d+\.\d+$"},
    },
}

_CARD_ELEMENT = {
    "oneOf": [
        {
            "type": "object",
            "required": ["type", "text"],
            "properties": {
                "type": {"const": "TextBlock"},
                "text": {"type": "string"},
                "weight": {"enum": ["Default", "Lighter", "Bolder"]},
                "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
                "color": {
                    "enum": ["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]
                },
                "wrap": {"type": "boolean"},
            },
        },
        {
            "type": "object",
            "required": ["type", "facts"],
            "properties": {
                "type": {"const": "FactSet"},
                "facts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["title", "value"],
                        "properties": {"title": {"type": "string"}, "value": {"type": "string"}},
                        "additionalProperties": False,
                    },
                },
            },
        },
    ]
}

TEAMS_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "attachments"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "additionalProperties": False,
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": {
                        "type": "object",
                        "required": ["type", "version", "body"],
                        "properties": {
                            "$schema": {"type": "string"},
                            "type": {"const": "AdaptiveCard"},
                            "version": {"type": "string", "pattern": r"^1\.\d+$"},
                            "body": {"type": "array", "items": _CARD_ELEMENT},
                            "actions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["type", "url"],
                                    "properties": {
                                        "type": {"const": "Action.OpenUrl"},
                                        "title": {"type": "string"},
                                        "url": {"type": "string", "format": "uri"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
TEAMS_MESSAGE_LIMIT_BYTES = 28 * 1024

_SERVICENOW_FIELDS = {
    "short_description": {"type": "string", "minLength": 1, "maxLength": 160},
    "description": {"type": "string"},
    "impact": {"enum": ["1", "2", "3"]},
    "urgency": {"enum": ["1", "2", "3"]},
    "state": {"enum": ["1", "2", "3", "6", "7", "8"]},
    "close_code": {"type": "string", "minLength": 1},
    "close_notes": {"type": "string", "minLength": 1},
    "work_notes": {"type": "string"},
    "comments": {"type": "string"},
    "correlation_id": {"type": "string", "maxLength": 100},
    "correlation_display": {"type": "string", "maxLength": 100},
    "assignment_group": {"type": "string"},
    "caller_id": {"type": "string"},
    "category": {"type": "string"},
    "subcategory": {"type": "string"},
    "cmdb_ci": {"type": "string"},
    "business_service": {"type": "string"},
    "contact_type": {"type": "string"},
}

SERVICENOW_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["short_description", "impact", "urgency"],
    "additionalProperties": False,
    "properties": _SERVICENOW_FIELDS,
}

SERVICENOW_PATCH: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": _SERVICENOW_FIELDS,
    # Resolving needs a resolution code and notes, or the instance refuses the state change.
    "if": {"properties": {"state": {"const": "6"}}, "required": ["state"]},
    "then": {"required": ["close_code", "close_notes"]},
}

_ADF = {
    "type": "object",
    "required": ["type", "version", "content"],
    "properties": {
        "type": {"const": "doc"},
        "version": {"const": 1},
        "content": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"const": "paragraph"},
                    "content": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type", "text"],
                            "properties": {
                                "type": {"const": "text"},
                                "text": {"type": "string", "minLength": 1},
                            },
                        },
                    },
                },
            },
        },
    },
}

JIRA_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["fields"],
    "properties": {
        "fields": {
            "type": "object",
            "required": ["project", "issuetype", "summary"],
            "properties": {
                "project": {
                    "type": "object",
                    "anyOf": [{"required": ["key"]}, {"required": ["id"]}],
                },
                "issuetype": {
                    "type": "object",
                    "anyOf": [{"required": ["name"]}, {"required": ["id"]}],
                },
                "summary": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": r"^[^\n]*$",
                },
                "description": _ADF,
                "priority": {
                    "type": "object",
                    "anyOf": [{"required": ["name"]}, {"required": ["id"]}],
                },
                "labels": {"type": "array", "items": {"type": "string", "pattern": r"^\S{1,255}$"}},
            },
        }
    },
}

_JIRA_COMMENT_UPDATE = {
    "type": "object",
    "properties": {
        "comment": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["add"],
                "properties": {
                    "add": {"type": "object", "required": ["body"], "properties": {"body": _ADF}}
                },
            },
        }
    },
}

JIRA_EDIT: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {"fields": {"type": "object"}, "update": _JIRA_COMMENT_UPDATE},
}

JIRA_COMMENT: dict[str, Any] = {
    "type": "object",
    "required": ["body"],
    "additionalProperties": False,
    "properties": {
        "body": _ADF,
        "properties": {
            "type": "array",
            "items": {"type": "object", "required": ["key", "value"]},
        },
    },
}

JIRA_TRANSITION: dict[str, Any] = {
    "type": "object",
    "required": ["transition"],
    "additionalProperties": False,
    "properties": {
        "transition": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string", "minLength": 1}},
        },
        "update": _JIRA_COMMENT_UPDATE,
        "fields": {"type": "object"},
    },
}

CLOUDEVENT: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string"},
        "datacontenttype": {"type": "string"},
        "data": {},
    },
}


def violations(schema: dict[str, Any], document: Any) -> list[str]:
    """Every way `document` breaks `schema`, as `path: message` lines (none: it conforms)."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
        path = "/".join(str(p) for p in error.path) or "(body)"
        found.append(f"{path}: {error.message[:200]}")
    return found


def teams_size_violations(content: bytes) -> list[str]:
    if len(content) > TEAMS_MESSAGE_LIMIT_BYTES:
        return [f"(body): {len(content)} bytes, Teams takes at most {TEAMS_MESSAGE_LIMIT_BYTES}"]
    return []


def parse(content: bytes | None) -> Any:
    return None if not content else json.loads(content)

"""OpenAPI descriptions of the ingest routes: request bodies per format and the answers.

The routes read their bodies themselves (to bound their size and accept items one by one), so
FastAPI cannot infer these; they are declared here, from the contracts where one exists.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from impactline.core.contracts import TelemetryEvent
from impactline.ingest.adapters import changes as ch
from impactline.ingest.adapters import cloudevents_http as ce
from impactline.ingest.adapters import pagerduty as pd
from impactline.runtime.problems import PROBLEM_JSON

Schema = dict[str, Any]
STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}


def inline(model: type[BaseModel]) -> Schema:
    """The model's JSON Schema with its `$defs` resolved in place (OpenAPI has no `$defs`)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def one_or_many(item: Schema) -> Schema:
    return {"oneOf": [item, {"type": "array", "items": item, "minItems": 1}]}


TELEMETRY = inline(TelemetryEvent)
ALERT: Schema = {
    "type": "object",
    "required": ["status", "labels", "startsAt"],
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "startsAt": TIMESTAMP,
        "endsAt": TIMESTAMP,
        "generatorURL": {"type": "string"},
        "fingerprint": {"type": "string"},
    },
}
ALERTMANAGER: Schema = {
    "type": "object",
    "required": ["version", "alerts"],
    "properties": {
        "version": {"type": "string", "enum": ["4"]},
        "receiver": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "groupLabels": STRING_MAP,
        "commonLabels": STRING_MAP,
        "commonAnnotations": STRING_MAP,
        "externalURL": {"type": "string"},
        "alerts": {"type": "array", "items": ALERT, "minItems": 1},
    },
}
CLOUDEVENT: Schema = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "data"],
    "properties": {
        "specversion": {"type": "string", "enum": [ce.SPEC_VERSION]},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1},
        "type": {"type": "string", "enum": list(ce.CONTRACTS)},
        "subject": {"type": "string"},
        "time": TIMESTAMP,
        "datacontenttype": {"type": "string"},
        "data": {"type": "object"},
    },
}
PAGERDUTY: Schema = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "description": "The impactline API key."},
        "event_action": {"type": "string", "enum": list(pd.ACTIONS)},
        "dedup_key": {"type": "string", "maxLength": pd.DEDUP_KEY_LIMIT},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "maxLength": pd.SUMMARY_LIMIT},
                "source": {"type": "string"},
                "severity": {"type": "string", "enum": list(pd.SEVERITIES)},
                "timestamp": TIMESTAMP,
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
    },
}
CHANGE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "ci_id": {"type": "string"},
        "ci_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "kind": {"type": "string", "enum": list(ch.KINDS)},
        "summary": {"type": "string"},
        "author": {"type": "string"},
        "reference": {"type": "string"},
        "pipeline_url": {"type": "string"},
        "time": TIMESTAMP,
        "source": {"type": "string"},
        "assessment": {
            "type": "object",
            "description": "The answer of `POST /v1/changes/assess`, kept with the change: "
            "only its figures are kept, the simulation and the options are dropped.",
            "required": [
                "start",
                "end",
                "worst_case_business_impact_minutes",
                "expected_business_impact_minutes",
            ],
            "properties": {
                "start": TIMESTAMP,
                "end": TIMESTAMP,
                "worst_case_business_impact_minutes": {"type": "number", "minimum": 0},
                "expected_business_impact_minutes": {"type": "number", "minimum": 0},
                "risk": {"type": "number", "minimum": 0, "maximum": 1},
                "periods": {"type": "array", "items": {"type": "string"}},
                "users_affected": {"type": "integer", "minimum": 0},
                "worst_priority": {"type": "string", "enum": ["P1", "P2", "P3", "P4", "P5"]},
                "assessed_at": TIMESTAMP,
                "catalog_version": {"type": "integer", "minimum": 0},
            },
        },
    },
}
FEEDBACK: Schema = {
    "type": "object",
    "required": ["service_id"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "service_id": {"type": "string"},
        "csat": {"type": "integer", "minimum": 1, "maximum": 5},
        "comment": {"type": "string", "maxLength": 5000},
        "user_id": {"type": "string"},
        "time": TIMESTAMP,
        "source": {"type": "string"},
    },
}

ACCEPTED: Schema = {
    "type": "object",
    "required": ["accepted", "duplicates", "ids"],
    "properties": {
        "accepted": {
            "type": "integer",
            "description": "Events made durable by this request; a duplicate is not counted.",
        },
        "duplicates": {
            "type": "integer",
            "description": "Events whose id was produced moments before: not produced again.",
        },
        "ids": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Ids of every valid item, accepted or duplicate, in request order.",
        },
        "rejected": {
            "type": "array",
            "description": "Items refused, by index; each also went to the dead-letter topic.",
            "items": {
                "type": "object",
                "properties": {"index": {"type": "integer"}, "errors": {"type": "array"}},
            },
        },
        "bound": {"type": "integer", "description": "Events bound to a catalog CI."},
        "unbound": {
            "type": "integer",
            "description": "Events no binding found a CI for: kept on the `unbound` topic until "
            "a binding is added and they are replayed (GET /v1/unbound on the API).",
        },
        "unbound_keys": {
            "type": "array",
            "description": "What the unbound events named their CI, with the closest CI ids.",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "events": {"type": "integer"},
                    "closest": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "notes": {"type": "array", "items": {"type": "string"}},
        "trace_id": {"type": ["string", "null"]},
    },
}
PROBLEM: Schema = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "pointer": {"type": "string"},
                    "header": {"type": "string"},
                    "field": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}


def body(content: dict[str, Schema], description: str) -> dict[str, Any]:
    """`openapi_extra` for a route whose body has these media types."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media: {"schema": schema} for media, schema in content.items()},
        }
    }


def answers(
    accepted: Schema = ACCEPTED, invalid: int = 422, *, not_found: bool = False
) -> dict[int | str, dict[str, Any]]:
    problem = {PROBLEM_JSON: {"schema": PROBLEM}}
    extra = {404: {"description": "No webhook mapping of that name", "content": problem}}
    return {
        **(extra if not_found else {}),
        202: {
            "description": "Accepted: durably queued",
            "content": {"application/json": {"schema": accepted}},
        },
        400: {"description": "Malformed body or header", "content": problem},
        401: {"description": "No, unknown or revoked API key", "content": problem},
        403: {"description": "The key lacks the `ingest` scope", "content": problem},
        409: {
            "description": "A request with this Idempotency-Key is in progress",
            "content": problem,
        },
        413: {"description": "Body too large", "content": problem},
        415: {"description": "Unsupported content encoding", "content": problem},
        invalid: {"description": "Invalid input; the problem names each field", "content": problem},
        429: {"description": "Over the key's rate; see Retry-After", "content": problem},
        503: {
            "description": "Broker unavailable; nothing accepted, see Retry-After",
            "content": problem,
        },
    }


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeat a request safely: the same key and body get the first answer again.",
    "schema": {"type": "string", "maxLength": 255},
}
NATIVE_BODY = body(
    {"application/json": one_or_many(TELEMETRY), "application/x-ndjson": {"type": "string"}},
    "One TelemetryEvent, a JSON array of them, or NDJSON (one event per line).",
)
ALERTMANAGER_BODY = body({"application/json": ALERTMANAGER}, "Alertmanager webhook, version 4.")
CLOUDEVENTS_BODY = body(
    {
        ce.STRUCTURED: CLOUDEVENT,
        ce.BATCH: {"type": "array", "items": CLOUDEVENT, "minItems": 1},
        "application/json": {"type": "object", "description": "Binary mode: the event data."},
    },
    "CloudEvents 1.0: structured, batched, or binary mode (attributes as ce-* headers).",
)
PAGERDUTY_BODY = body({"application/json": PAGERDUTY}, "PagerDuty Events API v2 event.")
WEBHOOK_BODY = body(
    {"application/json": {"type": ["object", "array"]}},
    "The JSON the tool posts; the mapping says where the items are and what each field is.",
)
CHANGES_BODY = body({"application/json": one_or_many(CHANGE)}, "A change record or an array.")
FEEDBACK_BODY = body({"application/json": one_or_many(FEEDBACK)}, "Feedback or an array.")
PAGERDUTY_ACCEPTED: Schema = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "dedup_key": {"type": "string"},
    },
}


def with_parameters(extra: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    return {**extra, "parameters": [IDEMPOTENCY_KEY, *params]}

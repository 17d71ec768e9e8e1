"""JSON Schemas and the AsyncAPI document, generated from the contracts and the topic registry."""

from __future__ import annotations

from typing import Any

from impactline import __version__
from impactline.core import cloudevents, topics


def json_schema(topic: topics.Topic) -> dict[str, Any]:
    schema = topic.contract.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://impactline.dev/schemas/{topic.contract.__name__}.json",
        **schema,
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, one per contract."""
    return {f"{t.contract.__name__}.json": json_schema(t) for t in topics.REGISTRY}


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 description of every topic, its key, its headers and its payload."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in (*topics.REGISTRY, topics.impact_domain_topic("{domain}")):
        name = topic.contract.__name__
        channel_id = topic.name.replace(".", "-").replace("{domain}", "domain")
        messages[name] = {
            "name": name,
            "contentType": cloudevents.CONTENT_TYPE,
            "headers": _ce_headers(topic),
            "payload": {"$ref": f"schemas/{name}.json"},
        }
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": ["compact"] if topic.compacted else ["delete"]
                    },
                    "bindingVersion": "0.5.0",
                }
            },
        }
        operations[f"publish-{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"Keyed by {topic.key}.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "impactline topics",
            "version": __version__,
            "description": (
                "Every message is a CloudEvents 1.0 event in Kafka binary content mode: attributes "
                "in ce_* headers, JSON data as the value, W3C traceparent in the headers."
            ),
        },
        "defaultContentType": cloudevents.CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _ce_headers(topic: topics.Topic) -> dict[str, Any]:
    fixed = {"type": "string"}
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
        "properties": {
            "ce_specversion": {"const": cloudevents.SPEC_VERSION},
            "ce_id": fixed,
            "ce_source": fixed,
            "ce_type": {"const": topic.ce_type},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_subject": fixed,
            "traceparent": {"type": "string", "description": "W3C trace context"},
        },
    }

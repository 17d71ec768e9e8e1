"""The committed topic documents must match the contracts they are generated from."""

from pathlib import Path

import jsonschema
import yaml

from impactline.cli.schemas import rendered
from impactline.core import topics
from impactline.core.schemas import asyncapi_document, json_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_documents_match_the_models() -> None:
    stale = [
        rel
        for rel, content in rendered().items()
        if not (DOCS / rel).exists() or (DOCS / rel).read_text() != content
    ]
    assert not stale, f"regenerate with `impactline schemas write`: {stale}"


def test_every_registry_topic_is_in_the_asyncapi_document() -> None:
    doc = asyncapi_document()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {t.name for t in topics.REGISTRY} <= addresses
    assert "impact.{domain}" in addresses
    catalog = next(c for c in doc["channels"].values() if c["address"] == "catalog")
    assert catalog["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]


def test_schema_accepts_a_real_event_and_rejects_a_bad_state() -> None:
    schema = json_schema(topics.TELEMETRY)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {"id": "e1", "ci_id": "db-gl-01", "state": "down", "time": "2026-11-30T10:00:00Z"}
    jsonschema.validate(good, schema)
    bad = {**good, "state": "melted"}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert yaml.safe_load(rendered()["asyncapi.yaml"])["asyncapi"] == "3.0.0"

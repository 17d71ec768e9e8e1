"""Input that cannot hurt: thousands of generated requests, valid and malformed, on every route.

Whatever arrives, ingest answers 202 or a problem+json 4xx: never a 5xx, never a crash, never a
plain-text error. The requests come from the app's own OpenAPI document (schemathesis, positive
and negative cases) and from raw bytes and JSON of every shape (hypothesis).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.sink import MemorySink
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.settings import Settings

KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROUTES = (
    "/v1/events",
    "/v1/alertmanager",
    "/v1/cloudevents",
    "/v2/enqueue",
    "/v1/changes",
    "/v1/feedback",
)
MEDIA_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
    "text/plain",
    "",
)
# Generous limits so the fuzzer is never throttled; small body limit to reach it often.
OPTIONS = IngestSettings(rate_per_s=1e9, burst=10**9, max_body_bytes=64 * 1024)
APP = create_app(
    Settings(),
    sink=MemorySink(),
    key_store=StaticKeyStore.from_specs([f"{KEY}=ingest"]),
    ingest_settings=OPTIONS,
)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    # One JSON document per line, as a sender of NDJSON would write them.
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item) for item in items).encode("utf-8", "surrogatepass")


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=200
)
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(APP) as c:
        yield c


def check(status: int, content_type: str, body: bytes) -> None:
    assert status < 500, f"{status}: {body[:500]!r}"
    if status >= 400:
        assert content_type == "application/problem+json", body[:300]
        problem = orjson.loads(body)
        assert problem["status"] == status and problem["title"] and problem["detail"]
    else:
        assert status == 202, body[:300]


@schema.include(method="POST").parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_202_or_a_problem(
    case: schemathesis.Case, client: TestClient
) -> None:
    if case.headers is None:
        case.headers = {}
    case.headers.update(AUTH)
    response = case.call(session=client)
    (content_type,) = response.headers["content-type"]
    check(response.status_code, content_type, response.content)


@given(
    route=st.sampled_from(ROUTES),
    media=st.sampled_from(MEDIA_TYPES),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
    ),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "ce-specversion",
                "ce-id",
                "ce-source",
                "ce-type",
                "ce-time",
                "ce-subject",
                "idempotency-key",
                "content-length",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
        max_size=4,
    ),
)
@settings(max_examples=1300, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_bytes_on_any_route_get_a_4xx_problem_or_202(
    client: TestClient, route: str, media: str, body: bytes, extra: dict[str, str]
) -> None:
    headers = {**AUTH, **extra}
    if media:
        headers["content-type"] = media
    if "content-length" in headers and not headers["content-length"].isdigit():
        headers.pop("content-length")
    if "content-length" in headers:
        headers["content-length"] = str(len(body))
    r = client.post(route, content=body, headers=headers)
    check(r.status_code, r.headers["content-type"], r.content)

"""The query API as a client sees it, on a real database (one fresh schema per test).

Publishing is recorded in memory here; tests/integration/test_catalog_store.py covers Kafka.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import asyncpg
import pytest
import yaml
from fastapi.testclient import TestClient

from impactline.api.app import create_app
from impactline.core.catalog import Catalog
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.settings import Settings

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer admin-key"}
READ = {"X-API-Key": "read-key"}
INGEST = {"Authorization": "Bearer ingest-key"}

SERVICES: dict[str, Any] = {
    "version": 1,
    "services": [
        {
            "id": "svc-a",
            "name": "Accounts",
            "owner": "Finance",
            "tier": 1,
            "users": 120,
            "domain": "finance",
            "calendar": "uk-finance",
            "personas": [
                {"name": "Clerks", "stakeholder": "service-evaluator", "users": 100},
                {"name": "CFO office", "stakeholder": "experience-approver", "users": 20},
            ],
            "targets": {"availability": 99.9, "impact_minutes_budget": 2400},
            "dependencies": [{"to": "app-a"}, {"to": "platform", "rule": "degrades"}],
        },
        {
            "id": "svc-b",
            "name": "Billing",
            "owner": "Finance",
            "tier": 2,
            "users": 40,
            "domain": "finance",
            "dependencies": [{"group": "hosts", "quorum": 1, "members": ["host-1", "host-2"]}],
        },
        {
            "id": "svc-c",
            "name": "Careers portal",
            "owner": "HR",
            "tier": 3,
            "users": 10,
            "domain": "people",
            "lifecycle": "pipeline",
            "dependencies": [{"to": "host-1"}],
        },
        {
            "id": "svc-d",
            "name": "Dial-in",
            "owner": "Workplace",
            "tier": 4,
            "users": 5,
            "domain": "workplace",
            "lifecycle": "retired",
        },
        {
            "id": "svc-e",
            "name": "Batch exports",
            "owner": "Finance",
            "tier": 3,
            "users": 2,
            "domain": "finance",
            "user_facing": False,
            "dependencies": [{"to": "db-1"}],
        },
    ],
}
INFRA: dict[str, Any] = {
    "version": 1,
    "technical_services": [
        {
            "id": "platform",
            "name": "Platform",
            "owner": "Platform",
            "dependencies": [{"to": "db-1"}],
        }
    ],
    "cis": [
        {"id": "app-a", "type": "app", "owner": "Apps", "dependencies": [{"to": "db-1"}]},
        {"id": "db-1", "type": "database", "owner": "DBA", "name": "Main database"},
        {"id": "host-1", "type": "host", "owner": "Platform"},
        {"id": "host-2", "type": "host", "owner": "Platform"},
    ],
}
DOCS = {"services.yaml": SERVICES, "infra.yaml": INFRA}


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[int, str, list[str]]] = []
        self.broken = False

    async def publish(
        self, version: int, catalog: Catalog, documents: Mapping[str, Any] | None = None
    ) -> None:
        if self.broken:
            raise ConnectionError("broker unreachable")
        self.published.append((version, catalog.fingerprint, sorted(documents or {})))


@pytest.fixture
async def schema_url(database_url: str) -> AsyncIterator[str]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{database_url}{'&' if '?' in database_url else '?'}search_path={schema}"
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def make_client(schema_url: str, publisher: MemoryPublisher) -> Iterator[Callable[[], TestClient]]:
    """Clients of separate API processes sharing one database (each its own catalog memory)."""
    keys = StaticKeyStore.from_specs(["admin-key=admin", "read-key=read", "ingest-key=ingest"])
    opened: list[TestClient] = []

    def make() -> TestClient:
        app = create_app(
            Settings(database_url=schema_url),
            publisher=publisher,
            key_store=keys,
            refresh_interval_s=0,
            read_models=False,
        )
        client = TestClient(app).__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[[], TestClient]) -> TestClient:
    return make_client()


def put_catalog(client: TestClient, docs: Mapping[str, Any], headers: Mapping[str, str] = ADMIN):
    return client.put("/v1/catalog", json={"documents": docs}, headers=dict(headers))


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    assert put_catalog(client, DOCS).status_code == 200
    return client


# -- services ------------------------------------------------------------------------------


def test_the_catalog_view_lists_only_active_user_facing_services(loaded: TestClient) -> None:
    r = loaded.get("/v1/services", headers=READ)

    assert r.status_code == 200
    body = r.json()
    assert [s["id"] for s in body["items"]] == ["svc-a", "svc-b"]
    assert (body["view"], body["total"], body["catalog_version"], body["next"]) == (
        "catalog",
        2,
        1,
        None,
    )


def test_the_portfolio_lists_every_service_with_its_lifecycle(loaded: TestClient) -> None:
    r = loaded.get("/v1/services", params={"view": "portfolio"}, headers=READ)

    assert r.status_code == 200
    lifecycles = {s["id"]: (s["lifecycle"], s["user_facing"]) for s in r.json()["items"]}
    assert lifecycles == {
        "svc-a": ("active", True),
        "svc-b": ("active", True),
        "svc-c": ("pipeline", True),
        "svc-d": ("retired", True),
        "svc-e": ("active", False),
    }


def test_a_service_in_full_names_what_it_depends_on_and_its_correlation_domain(
    loaded: TestClient,
) -> None:
    r = loaded.get("/v1/services/svc-a", headers=READ)

    assert r.status_code == 200
    s = r.json()
    assert (s["owner"], s["tier"], s["users"], s["calendar"]) == ("Finance", 1, 120, "uk-finance")
    assert [p["name"] for p in s["personas"]] == ["Clerks", "CFO office"]
    assert s["targets"]["availability"] == 99.9
    assert [(t["id"], t["direct"]) for t in s["depends_on"]["technical_services"]] == [
        ("platform", True)
    ]
    # db-1 is needed through app-a and through the platform, not named by the service itself.
    cis = {c["id"]: (c["type"], c["direct"]) for c in s["depends_on"]["cis"]}
    assert cis == {"app-a": ("app", True), "db-1": ("database", False)}
    # svc-a and svc-e share db-1, so they are correlated together.
    assert s["correlation_domain"] == "dom-svc-a"
    assert s["defined_in"] == {"document": "services.yaml", "path": "services[0]"}


def test_group_members_count_as_dependencies_and_a_pipeline_service_has_no_domain(
    loaded: TestClient,
) -> None:
    billing = loaded.get("/v1/services/svc-b", headers=READ).json()
    careers = loaded.get("/v1/services/svc-c", headers=READ).json()

    assert [c["id"] for c in billing["depends_on"]["cis"]] == ["host-1", "host-2"]
    assert billing["dependencies"][0]["quorum"] == 1
    assert careers["lifecycle"] == "pipeline"
    assert careers["correlation_domain"] is None
    assert [c["id"] for c in careers["depends_on"]["cis"]] == ["host-1"]


def test_an_unknown_service_is_a_404_problem(loaded: TestClient) -> None:
    r = loaded.get("/v1/services/no-such-service", headers=READ)

    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/unknown-service")
    assert "no-such-service" in problem["detail"]


def test_before_any_catalog_is_stored_reads_say_how_to_load_one(client: TestClient) -> None:
    services = client.get("/v1/services", headers=READ)
    catalog = client.get("/v1/catalog", headers=READ)
    ready = client.get("/readyz")

    assert services.status_code == catalog.status_code == 404
    assert "impactline catalog load" in services.json()["detail"]
    assert ready.status_code == 200 and ready.json()["catalog_version"] is None


# -- pagination ----------------------------------------------------------------------------


def test_pages_follow_next_links_through_the_whole_list(loaded: TestClient) -> None:
    seen: list[str] = []
    url: str | None = "/v1/services?view=portfolio&limit=2"
    pages = 0
    while url is not None:
        r = loaded.get(url, headers=READ)
        assert r.status_code == 200
        body = r.json()
        seen += [s["id"] for s in body["items"]]
        assert body["total"] == 5
        if body["next"]:
            assert r.headers["link"] == f'<{body["next"]}>; rel="next"'
        url = body["next"]
        pages += 1

    assert pages == 3
    assert seen == ["svc-a", "svc-b", "svc-c", "svc-d", "svc-e"]


def test_a_bad_cursor_or_limit_is_a_422_problem(loaded: TestClient) -> None:
    garbage = loaded.get("/v1/services", params={"cursor": "%%%"}, headers=READ)
    cursor = loaded.get("/v1/services", params={"cursor": "c3ZjLWE"}, headers=READ)  # "svc-a"
    limit = loaded.get("/v1/services", params={"limit": 0}, headers=READ)

    assert garbage.status_code == cursor.status_code == limit.status_code == 422
    assert cursor.headers["content-type"] == "application/problem+json"
    assert limit.json()["errors"][0]["field"] == "limit"


# -- replacing the catalog -----------------------------------------------------------------


def test_put_stores_a_new_version_publishes_it_and_reads_reflect_it(
    loaded: TestClient, publisher: MemoryPublisher
) -> None:
    changed = copy.deepcopy(DOCS)
    changed["services.yaml"]["services"][1]["name"] = "Billing and Invoicing"

    r = put_catalog(loaded, changed)

    assert r.status_code == 200
    body = r.json()
    assert (body["version"], body["changed"], body["services"], body["cis"]) == (2, True, 5, 4)
    assert body["created_by"] == "api:static-1"
    assert loaded.get("/v1/services/svc-b", headers=READ).json()["name"] == "Billing and Invoicing"
    catalog = loaded.get("/v1/catalog", headers=READ).json()
    assert catalog["version"] == 2 and catalog["fingerprint"] == body["fingerprint"]
    assert catalog["documents"]["services.yaml"]["services"][1]["name"] == "Billing and Invoicing"
    assert [(v, names) for v, _, names in publisher.published] == [
        (1, ["infra.yaml", "services.yaml"]),
        (2, ["infra.yaml", "services.yaml"]),
    ]


def test_putting_the_current_content_again_keeps_the_version(
    loaded: TestClient, publisher: MemoryPublisher
) -> None:
    r = put_catalog(loaded, DOCS)

    assert r.status_code == 200
    assert (r.json()["version"], r.json()["changed"]) == (1, False)
    versions = loaded.get("/v1/catalog/versions", headers=READ).json()["items"]
    assert [v["version"] for v in versions] == [1]


def test_an_invalid_catalog_is_a_422_naming_document_and_path_and_stores_nothing(
    loaded: TestClient, publisher: MemoryPublisher
) -> None:
    broken = copy.deepcopy(DOCS)
    broken["services.yaml"]["services"][1]["tier"] = 9
    broken["infra.yaml"]["cis"][0]["dependencies"] = [{"to": "db-404"}]

    r = put_catalog(loaded, broken)

    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/invalid-catalog")
    where = {(e["document"], e["path"]) for e in problem["errors"]}
    assert ("services.yaml", "services[1].tier") in where
    assert ("infra.yaml", "cis[0].dependencies[0].to") in where
    assert all(e["message"] for e in problem["errors"])
    assert (
        loaded.get("/v1/catalog", params={"documents": False}, headers=READ).json()["version"] == 1
    )
    assert len(publisher.published) == 1


def test_a_yaml_upload_is_named_by_the_document_parameter(loaded: TestClient) -> None:
    stream = yaml.safe_dump_all([SERVICES, INFRA])

    r = loaded.put(
        "/v1/catalog",
        params=[("document", "svc.yaml"), ("document", "ci.yaml")],
        content=stream,
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )

    assert r.status_code == 200
    # Same entries under other document names: the same content, so the same version.
    assert (r.json()["version"], r.json()["changed"]) == (1, False)
    one = yaml.safe_dump(
        {**SERVICES, "services": SERVICES["services"][:1], "cis": INFRA["cis"]}
        | {"technical_services": INFRA["technical_services"]}
    )
    single = loaded.put(
        "/v1/catalog?document=all.yaml",
        content=one,
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert single.status_code == 200, single.json()
    assert single.json()["version"] == 2
    assert single.json()["document_names"] == ["all.yaml"]


def test_malformed_yaml_is_a_400_with_the_line(loaded: TestClient) -> None:
    r = loaded.put(
        "/v1/catalog",
        content="version: 1\nservices: [\n",
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )

    assert r.status_code == 400
    assert "line" in r.json()["detail"]


def test_a_version_stored_elsewhere_is_picked_up_on_the_next_read(
    loaded: TestClient, make_client: Callable[[], TestClient]
) -> None:
    assert loaded.get("/v1/services", headers=READ).json()["catalog_version"] == 1
    other = make_client()
    changed = copy.deepcopy(DOCS)
    changed["services.yaml"]["services"][0]["lifecycle"] = "retired"
    assert put_catalog(other, changed).json()["version"] == 2

    body = loaded.get("/v1/services", headers=READ).json()

    assert body["catalog_version"] == 2
    assert [s["id"] for s in body["items"]] == ["svc-b"]


def test_when_publishing_fails_the_put_answers_503_and_a_retry_publishes_the_same_version(
    loaded: TestClient, publisher: MemoryPublisher
) -> None:
    changed = copy.deepcopy(DOCS)
    changed["infra.yaml"]["cis"][1]["name"] = "Main database (primary)"
    publisher.broken = True

    failed = put_catalog(loaded, changed)
    publisher.broken = False
    retried = put_catalog(loaded, changed)

    assert failed.status_code == 503 and failed.json()["version"] == 2
    assert "retry-after" in failed.headers
    assert retried.status_code == 200 and retried.json()["version"] == 2
    assert [v for v, _, _ in publisher.published] == [1, 2]


# -- keys ----------------------------------------------------------------------------------


def test_reads_need_a_key_with_the_read_scope(loaded: TestClient) -> None:
    anonymous = loaded.get("/v1/services")
    ingest_only = loaded.get("/v1/services", headers=INGEST)
    admin = loaded.get("/v1/services", headers=ADMIN)

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert ingest_only.status_code == 403
    assert admin.status_code == 200


def test_replacing_the_catalog_needs_the_admin_scope(
    loaded: TestClient, publisher: MemoryPublisher
) -> None:
    anonymous = loaded.put("/v1/catalog", json={"documents": DOCS})
    reader = put_catalog(loaded, DOCS, READ)

    assert anonymous.status_code == 401
    assert reader.status_code == 403
    assert "admin" in reader.json()["detail"]
    assert len(publisher.published) == 1


# -- documentation -------------------------------------------------------------------------


def test_openapi_gives_every_route_a_typed_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            success = next(code for code in operation["responses"] if code.startswith("2"))
            content = operation["responses"][success]["content"]
            if set(content) == {"text/event-stream"}:
                continue  # the live stream answers events, not one JSON document
            schema = content["application/json"]["schema"]
            assert "$ref" in schema, f"{method.upper()} {path} has no response model"
    params = {p["name"] for p in spec["paths"]["/v1/services"]["get"]["parameters"]}
    assert {"view", "limit", "cursor"} <= params
    put = spec["paths"]["/v1/catalog"]["put"]
    assert {"application/json", "application/yaml"} <= set(put["requestBody"]["content"])

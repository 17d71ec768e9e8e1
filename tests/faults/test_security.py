"""Nobody in who does not belong: every write endpoint refuses missing, wrong-scope and revoked
keys; keys are stored only as digests; no secret reaches a log; the database client honours TLS.

Write routes are enumerated from the OpenAPI documents the processes serve, so a new route is
covered the day it is added.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from impactline.runtime.clock import SYSTEM
from impactline.runtime.keys import create_key, revoke_key
from impactline.runtime.system import RunningSystem
from tests.faults.conftest import FaultServers, fault_settings, running_system
from tests.faults.workload import ci_id
from tests.helpers import wait_for

GROUP = "secure"
WRITE_METHODS = ("post", "put", "patch", "delete")
SASL_PASSWORD = "faults-sasl-" + hashlib.sha256(b"not a real password").hexdigest()[:16]


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("security")
    # Set but unused (the broker speaks PLAINTEXT): it must still never be printed.
    async with (
        fault_settings(
            fault_servers, {GROUP: 2}, work, KAFKA_SASL_PASSWORD=SASL_PASSWORD
        ) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


@pytest.fixture(scope="module")
async def keys(system: RunningSystem) -> dict[str, Any]:
    """Keys made through the key store: read-only, ingest-only, and an admin key to revoke."""
    conn = await asyncpg.connect(system.settings.require_database())
    try:
        made = {scope: await create_key(conn, [scope], f"faults {scope}") for scope in SCOPES}
    finally:
        await conn.close()
    return {scope: key for scope, (_, key) in made.items()} | {
        "revoked_id": made["admin"][0].key_id
    }


SCOPES = ("read", "ingest", "admin")


async def write_routes(base_url: str, read_only: bool = False) -> list[tuple[str, str]]:
    """The routes that write (or, with `read_only`, the POST routes marked as computing
    without recording anything, which the `read` scope may call)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        document = (await client.get("/openapi.json")).json()
    return sorted(
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in WRITE_METHODS and bool(operation.get("x-impactline-read-only")) is read_only
    )


async def status_of(base_url: str, method: str, path: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=15.0) as client:
        response = await client.request(method, path, json={})
    return response.status_code


async def all_routes(system: RunningSystem) -> list[tuple[str, str, str]]:
    return [
        (base, method, path)
        for base in (system.ingest_url, system.api_url)
        for method, path in await write_routes(base)
    ]


async def test_read_only_computations_still_need_a_read_key(
    system: RunningSystem, keys: dict[str, Any]
) -> None:
    computing = await write_routes(system.api_url, read_only=True)
    assert ("POST", "/v1/changes/assess") in computing
    for method, path in computing:
        assert await status_of(system.api_url, method, path, None) == 401, f"{method} {path}"
        assert await status_of(system.api_url, method, path, keys["ingest"]) == 403, path
        # A read key gets past authorisation to the body's validation.
        assert await status_of(system.api_url, method, path, keys["read"]) == 422, path


async def test_the_openapi_documents_list_the_known_write_routes(system: RunningSystem) -> None:
    routes = {(m, p) for _, m, p in await all_routes(system)}
    assert {("POST", "/v1/events"), ("PUT", "/v1/catalog"), ("POST", "/v1/incidents/x/ack")} <= (
        routes
    )
    assert ("POST", "/v1/incidents/x/resolve") in routes


async def test_every_write_route_refuses_a_missing_or_unknown_key(system: RunningSystem) -> None:
    for base, method, path in await all_routes(system):
        assert await status_of(base, method, path, None) == 401, f"{method} {path} without key"
        assert await status_of(base, method, path, "il_unknown") == 401, f"{method} {path}"


async def test_every_write_route_refuses_a_key_without_its_scope(
    system: RunningSystem, keys: dict[str, Any]
) -> None:
    for base, method, path in await all_routes(system):
        assert await status_of(base, method, path, keys["read"]) == 403, f"{method} {path}"
        if base == system.api_url:  # ingest keys may not operate incidents or the catalog
            assert await status_of(base, method, path, keys["ingest"]) == 403, f"{method} {path}"


async def test_a_revoked_key_stops_working_on_every_write_route(
    system: RunningSystem, keys: dict[str, Any]
) -> None:
    event = {"ci_id": ci_id(GROUP, 0), "state": "ok", "time": SYSTEM.now().isoformat()}
    async with httpx.AsyncClient(
        base_url=system.ingest_url, headers={"Authorization": f"Bearer {keys['admin']}"}
    ) as client:
        assert (await client.post("/v1/events", json=[event])).status_code == 202
    conn = await asyncpg.connect(system.settings.require_database())
    try:
        assert await revoke_key(conn, keys["revoked_id"]) is not None
    finally:
        await conn.close()
    for base, method, path in await all_routes(system):
        # Lookups are cached for a few seconds; the revocation must win within that time.
        await wait_for(
            lambda b=base, m=method, p=path: _refused(b, m, p, keys["admin"]),
            timeout=15,
            interval=0.5,
            message=f"{method} {path} to refuse the revoked key",
        )


async def _refused(base: str, method: str, path: str, key: str) -> bool:
    return await status_of(base, method, path, key) == 401


async def test_keys_are_stored_only_as_digests(system: RunningSystem, keys: dict[str, Any]) -> None:
    conn = await asyncpg.connect(system.settings.require_database())
    try:
        rows = [dict(r) for r in await conn.fetch("SELECT * FROM api_keys")]
    finally:
        await conn.close()
    assert len(rows) >= len(SCOPES)
    stored = " ".join(str(v) for row in rows for v in row.values())
    for scope in SCOPES:
        assert keys[scope] not in stored
        digest = hashlib.sha256(keys[scope].encode()).hexdigest()
        assert digest in {row["key_hash"] for row in rows}


async def test_no_secret_reaches_any_log(
    system: RunningSystem, keys: dict[str, Any], fault_servers: FaultServers
) -> None:
    # Use every kind of key once more (accepted, refused, malformed) so each code path logs.
    for key in (system.api_key, keys["ingest"], keys["read"], keys["admin"], "il_wrong"):
        await status_of(system.ingest_url, "POST", "/v1/events", key)
        await status_of(system.api_url, "GET", "/v1/incidents", key)
    password = urlsplit(system.settings.require_database()).password
    assert password
    secrets = {
        "the run's admin key": system.api_key,
        "the SASL password": SASL_PASSWORD,
        "the database password": password,
        **{f"the {scope} key": keys[scope] for scope in SCOPES},
    }
    logs = [c.log_path for c in system.supervisor.children.values()]
    logs += fault_servers.server_logs()
    assert len(logs) >= 5 and all(p.exists() for p in logs)
    for log in logs:
        text = log.read_text(errors="replace")
        assert text, f"{log} is empty: nothing was checked"
        leaked = [name for name, secret in secrets.items() if secret in text]
        assert not leaked, f"{log} contains {', '.join(leaked)}"


async def test_the_database_client_honours_sslmode(system: RunningSystem) -> None:
    """DATABASE_URL carries TLS: `sslmode=require` against a server without TLS must fail
    rather than fall back to plain text (the embedded server has no certificate)."""
    url = system.settings.require_database()
    with pytest.raises((ConnectionError, asyncpg.PostgresError, OSError)):
        conn = await asyncpg.connect(f"{url}?sslmode=require", timeout=10)
        await conn.close()
    conn = await asyncpg.connect(f"{url}?sslmode=prefer", timeout=10)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()

"""A catalog change reaches running workers through the compacted catalog topic, no restart."""

from __future__ import annotations

import httpx

from impactline.core import topics
from impactline.core.catalog import load_catalog
from impactline.runtime.system import RunningSystem

NEW_TEAM_DOCUMENT = {
    "services": [
        {
            "id": "field-sales-app",
            "name": "Field Sales App",
            "owner": "Head of Field Sales",
            "tier": 2,
            "users": 75,
            "domain": "sales",
            "dependencies": [{"to": "fs-api-01", "rule": "required"}],
        }
    ],
    "cis": [{"id": "fs-api-01", "type": "app", "owner": "Mobile Team"}],
}


async def test_workers_switch_to_a_new_catalog_version(system: RunningSystem, tail) -> None:
    impacts = await tail(topics.IMPACT)
    auth = {"Authorization": f"Bearer {system.api_key}"}
    current = load_catalog(system.settings.catalog_paths)
    documents = {name: doc for name, doc in current.to_documents()}
    documents["field-sales.yaml"] = NEW_TEAM_DOCUMENT

    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        before = await client.post(
            f"{system.ingest_url}/v1/events", json={"ci_id": "fs-api-01", "state": "down"}
        )
        # Ingest keeps an event for a CI its catalog does not know on the unbound topic.
        assert before.status_code == 202
        put = await client.put(f"{system.api_url}/v1/catalog", json={"documents": documents})
        assert put.status_code == 200, put.text
        version = put.json()["version"]
        listed = await client.get(f"{system.api_url}/v1/services/field-sales-app")
        assert listed.status_code == 200

        # The workers adopt the new version from the topic; retry the event until they have.
        async def outage_reported() -> bool:
            sent = await client.post(
                f"{system.ingest_url}/v1/events", json={"ci_id": "fs-api-01", "state": "down"}
            )
            assert sent.status_code == 202
            try:
                await impacts.wait_for(
                    lambda e: e.event.service_id == "field-sales-app", timeout_s=5
                )
            except TimeoutError:
                await client.post(
                    f"{system.ingest_url}/v1/events", json={"ci_id": "fs-api-01", "state": "ok"}
                )
                return False
            return True

        for _ in range(12):
            if await outage_reported():
                break
        else:
            raise AssertionError("no worker adopted the new catalog within a minute")

    got = await impacts.wait_for(lambda e: e.event.service_id == "field-sales-app")
    assert got.event.catalog_version == version
    assert got.event.users_affected > 0

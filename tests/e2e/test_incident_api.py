"""The incident API over the read model: filters, pagination, timeline, ack and resolve, auth."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from impactline.runtime.clock import SYSTEM
from impactline.runtime.system import RunningSystem


async def until(fetch, check, timeout_s: float = 60.0) -> Any:
    """Poll `fetch()` until `check(result)` holds, with a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await fetch()
        if check(result):
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s}s; last: {result}")
        await asyncio.sleep(0.3)


async def test_incidents_are_listed_inspected_acknowledged_and_resolved(
    system: RunningSystem,
) -> None:
    admin = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.api_url, headers=admin, timeout=10) as api:
        async with httpx.AsyncClient(base_url=system.ingest_url, headers=admin) as ingest:
            now = SYSTEM.now().isoformat()
            for ci in ("lab-db", "depot-db"):
                sent = await ingest.post(
                    "/v1/events", json={"ci_id": ci, "state": "down", "time": now}
                )
                assert sent.status_code == 202

        async def open_incidents() -> list[dict[str, Any]]:
            page = await api.get("/v1/incidents", params={"state": "open"})
            assert page.status_code == 200, page.text
            return page.json()["items"]

        listed = await until(open_incidents, lambda items: len(items) >= 2)
        lab = next(i for i in listed if "lab-db" in i["member_cis"])
        assert lab["root_cause_candidates"] == ["lab-db"]
        assert "lab-orders" in lab["affected_services"]

        by_service = (await api.get("/v1/incidents", params={"service": "lab-orders"})).json()
        assert [i["incident_id"] for i in by_service["items"]] == [lab["incident_id"]]
        first_page = (await api.get("/v1/incidents", params={"limit": 1})).json()
        assert len(first_page["items"]) == 1 and first_page["next"]
        second_page = (await api.get(first_page["next"])).json()
        assert second_page["items"][0]["incident_id"] != first_page["items"][0]["incident_id"]

        async def lab_detail() -> dict[str, Any]:
            return (await api.get(f"/v1/incidents/{lab['incident_id']}")).json()

        # Members come from the CI annotations, another topic than the incident itself: the
        # read model may show the incident a moment before them.
        detail = await until(
            lab_detail, lambda d: any(t["kind"] == "member" for t in d["timeline"])
        )
        actions = [t["action"] for t in detail["timeline"] if t["kind"] == "incident"]
        assert actions[0] == "opened"

        ack = await api.post(f"/v1/incidents/{lab['incident_id']}/ack", json={"note": "on it"})
        assert ack.status_code == 202, ack.text

        async def lab_incident() -> dict[str, Any]:
            return (await api.get(f"/v1/incidents/{lab['incident_id']}")).json()

        acked = await until(lab_incident, lambda i: i["state"] == "acknowledged")
        assert acked["acknowledged_at"] is not None

        resolve = await api.post(f"/v1/incidents/{lab['incident_id']}/resolve")
        assert resolve.status_code == 202
        resolved = await until(lab_incident, lambda i: i["state"] == "resolved")
        assert resolved["resolved_at"] is not None
        again = await api.post(f"/v1/incidents/{lab['incident_id']}/ack")
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"

        missing = await api.get("/v1/incidents/no-such-incident")
        assert missing.status_code == 404

    async with httpx.AsyncClient(base_url=system.api_url) as anonymous:
        assert (await anonymous.get("/v1/incidents")).status_code == 401
        refused = await anonymous.post(f"/v1/incidents/{lab['incident_id']}/ack")
        assert refused.status_code == 401

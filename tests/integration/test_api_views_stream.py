"""The live stream and the dashboard page, on the real broker and database."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from impactline.core.states import State
from tests.integration.test_api_views_support import OPENED, Api, Events, api, health

pytestmark = pytest.mark.integration
__all__ = ["api"]  # the fixture, used by name


async def test_the_live_stream_filters_and_resumes(api: Api) -> None:
    later = OPENED + timedelta(hours=2)
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        # The key as a query parameter, as an EventSource client has to send it.
        params = {"key": "read-key", "domain": "sales"}
        async with client.stream("GET", "/v1/stream", params=params) as live:
            assert live.headers["content-type"].startswith("text/event-stream")
            events = Events(live)
            [(ready_id, kind, ready)] = await events.next(1)
            assert kind == "ready" and not ready["resumed"]
            await api.send(
                health("ledger", State.DOWN, State.OK, later, None),
                health("orders", State.DEGRADED, State.DOWN, later, None),
            )
            [(seen_id, kind, event)] = await events.next(1)
        # Only the sales service came through the domain filter.
        assert (kind, event["service_id"], event["state"]) == (
            "service-health",
            "orders",
            "degraded",
        )

        resumed_params = {"key": "read-key", "service": "ledger"}
        headers = {"Last-Event-ID": ready_id}
        async with client.stream(
            "GET", "/v1/stream", params=resumed_params, headers=headers
        ) as again:
            missed = await Events(again).next(2)
        assert missed[0][1] == "ready" and missed[0][2]["resumed"]
        assert (missed[1][1], missed[1][2]["service_id"]) == ("service-health", "ledger")
        # Replayed from after the id the client gave: the two services' events sit in different
        # partitions, so which of them the API read first is not fixed.
        sequence = {
            name: int(value.rsplit("-", 1)[1])
            for name, value in (("ready", ready_id), ("seen", seen_id), ("missed", missed[1][0]))
        }
        assert sequence["missed"] > sequence["ready"] and sequence["missed"] != sequence["seen"]

        stale = {"Last-Event-ID": "0000dead-3", "Authorization": "Bearer read-key"}
        async with client.stream("GET", "/v1/stream", headers=stale) as restarted:
            [(_, first, _)] = await Events(restarted).next(1)
        assert first == "reset"
        assert (await client.get("/v1/stream")).status_code == 401


async def test_the_dashboard_page_is_served_with_a_strict_policy(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        page = await client.get("/")
        script = await client.get("/dashboard/app.js")
        style = await client.get("/dashboard/app.css")
        schema = (await client.get("/openapi.json")).json()
    assert page.status_code == 200 and "<title>impactline</title>" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/v1/stream" in script.text and style.status_code == 200
    # No address outside this API appears in what the browser loads.
    for text in (page.text, script.text, style.text):
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text
    documented = schema["paths"]
    for path in (
        "/v1/service-status",
        "/v1/services/{service_id}/impact",
        "/v1/incidents/{incident_id}/impact",
        "/v1/services/{service_id}/xla",
        "/v1/value-stream",
        "/v1/stream",
    ):
        assert path in documented, path
    assert "/" not in documented

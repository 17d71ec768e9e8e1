"""Service status, impact timelines, XLA history and the value stream, on the real broker and
database: events are produced to the topics, the API projects them, a client reads them."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.integration.test_api_views_support import (
    INCIDENT,
    INGEST_ONLY,
    OPENED,
    Api,
    api,
)

pytestmark = pytest.mark.integration
__all__ = ["api"]  # the fixture, used by name


# -- service status ----------------------------------------------------------------------------


async def test_the_board_shows_state_calendar_weight_xla_and_budget(api: Api) -> None:
    async with api.client() as client:
        body = (await client.get("/v1/service-status")).json()
    assert datetime.fromisoformat(body["as_of"]) >= OPENED + timedelta(minutes=20)
    by_id = {s["id"]: s for s in body["items"]}
    assert (body["total"], set(by_id)) == (2, {"ledger", "orders"})
    ledger, orders = by_id["ledger"], by_id["orders"]
    assert (orders["state"], orders["calendar"]) == ("down", None)
    assert ledger["state"] == "ok" and ledger["impact_rate"] == 0
    # The read model's clock is on 30 November: the last business day, month-end close.
    assert (ledger["calendar"]["period"], ledger["calendar"]["weight"]) == ("month-end-close", 3)
    assert ledger["impact"]["reason"] == "recovered"
    assert ledger["window_impact_minutes"] == pytest.approx(4500)
    xla = ledger["xla"]
    # 4500 minutes against a budget of 2400: the impact component is 100 x (1 - 1.875 / 2).
    assert xla["components"]["impact"] == pytest.approx(6.25)
    assert xla["signals"]["csat"] == pytest.approx(3.0)
    assert xla["signals"]["sentiment"] < 0
    assert xla["breached"] and xla["score"] < xla["target"]
    budget = ledger["error_budget"]
    assert budget["slo"] == pytest.approx(0.999)
    # 20 minutes degraded count as 10 unavailable minutes, of 43.2 allowed in 30 days.
    assert budget["consumed"] == pytest.approx(10 / 43.2, rel=1e-3)


async def test_the_board_pages_and_filters_by_domain(api: Api) -> None:
    async with api.client() as client:
        first = (await client.get("/v1/service-status", params={"limit": 1})).json()
        second = (await client.get(first["next"])).json()
        sales = (await client.get("/v1/service-status", params={"domain": "sales"})).json()
        one = await client.get("/v1/service-status/orders")
        missing = await client.get("/v1/service-status/nothing")
        bad_window = await client.get("/v1/service-status", params={"window": "soon"})
    assert [s["id"] for s in first["items"] + second["items"]] == ["ledger", "orders"]
    assert second["next"] is None
    assert [s["id"] for s in sales["items"]] == ["orders"]
    assert one.json()["state"] == "down"
    assert missing.status_code == 404
    assert bad_window.status_code == 422
    assert bad_window.json()["errors"][0]["field"] == "window"


async def test_reading_needs_a_key_with_the_read_scope(api: Api) -> None:
    paths = ["/v1/service-status", "/v1/services/ledger/impact", "/v1/value-stream?domain=x"]
    async with httpx.AsyncClient(base_url=api.url) as anonymous:
        for path in paths:
            refused = await anonymous.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["content-type"] == "application/problem+json"
    async with api.client(INGEST_ONLY) as ingest_only:
        assert (await ingest_only.get("/v1/service-status")).status_code == 403


# -- impact ------------------------------------------------------------------------------------


async def test_the_impact_timeline_of_a_service_pages_oldest_first(api: Api) -> None:
    async with api.client() as client:
        pages, url = [], "/v1/services/ledger/impact?limit=2"
        while url:
            page = (await client.get(url)).json()
            pages.append(page["items"])
            url = page["next"]
        month_end = (
            await client.get("/v1/services/ledger/impact", params={"since": "2026-11-30T00:00Z"})
        ).json()
        bad_cursor = await client.get("/v1/services/ledger/impact", params={"cursor": "x"})
    assert [len(p) for p in pages] == [2, 2, 1]
    minutes = [e["business_impact_minutes"] for p in pages for e in p]
    assert minutes == [0, 500, 0, 3000, 4000]
    assert [e["calendar_weight"] for e in month_end["items"]] == [3, 3, 3]
    assert bad_cursor.status_code == 422


async def test_the_impact_timeline_of_an_incident(api: Api) -> None:
    async with api.client() as client:
        timeline = (await client.get(f"/v1/incidents/{INCIDENT}/impact")).json()
        missing = await client.get("/v1/incidents/no-such-incident/impact")
    assert [e["business_impact_minutes"] for e in timeline["items"]] == [0, 3000, 4000]
    assert {e["priority"] for e in timeline["items"]} == {"P1"}
    assert missing.status_code == 404


async def test_impact_minutes_per_day_split_weighted_from_unweighted(api: Api) -> None:
    params = {"since": "2026-11-01T00:00Z", "until": "2026-12-01T00:00Z", "buckets": 30}
    async with api.client() as client:
        series = (await client.get("/v1/impact/minutes", params=params)).json()
        sales = await client.get("/v1/impact/minutes", params={**params, "domain": "sales"})
    days = {b["start"][:10]: (b["minutes"], b["weighted_minutes"]) for b in series["buckets"]}
    assert days["2026-11-12"] == (500, 0)
    assert days["2026-11-30"] == (4000, 4000)
    assert (series["total_minutes"], series["weighted_minutes"]) == (4500, 4000)
    assert sales.json()["total_minutes"] == 0


# -- XLA and value stream ----------------------------------------------------------------------


async def test_xla_history_falls_when_the_month_end_impact_lands(api: Api) -> None:
    params = {"window": "30d", "step": "1h", "points": 3, "until": "2026-11-30T11:00:00Z"}
    async with api.client() as client:
        history = (await client.get("/v1/services/ledger/xla", params=params)).json()
        older = (await client.get(history["next"])).json()
        bad = await client.get("/v1/services/ledger/xla", params={"step": "-1h"})
    scores = [p["score"] for p in history["items"]]
    assert [p["at"][:16] for p in history["items"]] == [
        "2026-11-30T09:00",
        "2026-11-30T10:00",
        "2026-11-30T11:00",
    ]
    assert scores[0] > scores[2]
    assert history["items"][2]["signals"]["impact_minutes"] == pytest.approx(4500)
    assert older["items"][-1]["at"] < history["items"][0]["at"]
    assert bad.status_code == 422


async def test_value_stream_of_a_domain(api: Api) -> None:
    params = {"domain": "finance", "since": "2026-11-01T00:00Z", "until": "2026-12-01T00:00Z"}
    async with api.client() as client:
        flow = (await client.get("/v1/value-stream", params=params)).json()
    assert flow["incidents"] == 1
    assert flow["time_to_detect"]["median_seconds"] == 600  # failed 09:50, opened 10:00
    assert flow["time_to_acknowledge"]["median_seconds"] == 300
    assert flow["time_to_resolve"]["p90_seconds"] == 1800
    assert flow["business_impact_minutes"] == pytest.approx(4500)
    assert flow["weighted_share"] == pytest.approx(4000 / 4500)
    assert flow["impact_by_period"] == {"month-end-close": 4000, "business-hours": 500}
    (ledger,) = flow["services"]
    assert ledger["slo_met"] is True and ledger["availability"] < 1
    (spender,) = flow["budget_incidents"]
    assert (spender["incident_id"], spender["priority"]) == (INCIDENT, "P1")
    assert spender["unavailable_minutes"] == pytest.approx(10)
    assert spender["budget_share"] == pytest.approx(10 / 43.2, rel=1e-3)
    assert spender["root_cause_candidates"] == ["db-1"]


async def test_value_stream_needs_exactly_one_scope(api: Api) -> None:
    async with api.client() as client:
        neither = await client.get("/v1/value-stream")
        both = await client.get("/v1/value-stream", params={"domain": "x", "service": "y"})
        unknown = await client.get("/v1/value-stream", params={"domain": "astrology"})
        backwards = await client.get(
            "/v1/value-stream",
            params={
                "service": "ledger",
                "since": "2026-12-01T00:00Z",
                "until": "2026-11-01T00:00Z",
            },
        )
    assert (neither.status_code, both.status_code) == (422, 422)
    assert unknown.status_code == 404
    assert backwards.status_code == 422

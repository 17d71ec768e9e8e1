"""A what-if simulation agrees with the real system to the minute.

`db-gl-01` down for two hours from 17:30 on payroll day (Wednesday 25 November 2026: the
payroll run x2 until 19:00, then off-hours x0.3) is simulated in memory, asked of the API's
`/v1/what-if`, and played through the real system: the simulation's telemetry posted to ingest,
correlated and scored by the stream workers on the real broker. Every impact event published
must match a point of the simulated curve: the same services, times, business impact minutes
and priorities. Then the dashboard's what-if form, in a real browser, shows the curve and the
priority of the same failure during the month-end close.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from impactline.core import topics
from impactline.core.catalog import load_catalog
from impactline.core.contracts import ImpactEvent, ImpactReason
from impactline.core.states import State
from impactline.core.whatif import Condition, simulate
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem
from impactline.runtime.whatif import whatif_model
from tests.e2e.test_dashboard_browser import MONTH_END, Browser, browser  # noqa: F401 - fixture
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

START = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
DURATION = timedelta(hours=2)


@pytest.fixture(scope="module")
def e2e_settings(demo_settings: Settings) -> Settings:
    return demo_settings


def curve_of(events: list[ImpactEvent]) -> dict[str, list[tuple[datetime, str, float, str]]]:
    by_service: dict[str, list[tuple[datetime, str, float, str]]] = {}
    for e in sorted({e.id: e for e in events}.values(), key=lambda e: (e.service_id, e.time)):
        by_service.setdefault(e.service_id, []).append(
            (e.time, str(e.reason), round(e.business_impact_minutes, 6), e.priority or "")
        )
    return by_service


async def test_simulation_and_the_real_system_agree(system: RunningSystem, tail) -> None:  # type: ignore[no-untyped-def]
    settings = system.settings
    model = whatif_model(settings, load_catalog(settings.catalog_paths), 1)
    simulated = simulate(model, [Condition("db-gl-01", State.DOWN)], START, DURATION)
    assert {s.service_id for s in simulated.services} == {"financial-close", "bank-reconciliation"}

    headers = {"Authorization": f"Bearer {system.api_key}"}
    request = {
        "cis": [{"ci_id": "db-gl-01", "state": "down"}],
        "start": START.isoformat(),
        "duration": "PT2H",
    }
    async with httpx.AsyncClient(base_url=system.api_url, headers=headers, timeout=30) as api:
        answer = await api.post("/v1/what-if", json=request)
    assert answer.status_code == 200, answer.text
    served = {s["service_id"]: s for s in answer.json()["services"]}

    impacts = await tail(topics.IMPACT)
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as ingest:
        body = [event.model_dump(mode="json") for event in simulated.telemetry]
        response = await ingest.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    for service in ("financial-close", "bank-reconciliation"):
        await impacts.wait_for(
            lambda env, s=service: (
                isinstance(env.event, ImpactEvent)
                and env.event.service_id == s
                and env.event.reason is ImpactReason.RECOVERED
                and env.event.time == START + DURATION
            ),
            timeout_s=120,
        )
    live = [env.event for env, _ in impacts.seen if isinstance(env.event, ImpactEvent)]
    live = [e for e in live if e.started_at == START]

    assert curve_of(live) == curve_of(list(simulated.impacts))
    for outlook in simulated.services:
        final = max((e for e in live if e.service_id == outlook.service_id), key=lambda e: e.time)
        assert round(final.business_impact_minutes) == round(outlook.business_impact_minutes)
        assert served[outlook.service_id]["business_impact_minutes"] == pytest.approx(
            outlook.business_impact_minutes
        )
        assert served[outlook.service_id]["worst_priority"] == outlook.worst_priority
        print(
            f"{outlook.service_id}: simulated {outlook.business_impact_minutes:.2f}, live "
            f"{final.business_impact_minutes:.2f} business impact minutes; worst priority "
            f"{outlook.worst_priority}; {len(outlook.curve)} impact events"
        )


async def test_the_what_if_form_shows_the_curve_and_the_priority(
    system: RunningSystem,
    browser: Browser,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    await browser.open(f"{system.api_url}/")
    await browser.until("!document.getElementById('key-panel').hidden", "the key form")
    await browser.evaluate(
        f"document.getElementById('key-input').value = {json.dumps(system.api_key)};"
        "document.querySelector('#key-form button[type=submit]').click(); true"
    )
    await browser.until(
        "document.querySelector('#whatif-cis option[value=\"db-gl-01\"]') !== null",
        "db-gl-01 among the CIs of the what-if form",
    )
    # db-gl-01 down for two hours from 10:00 on the last day of the November close.
    await browser.evaluate(
        "document.querySelector('#whatif-cis option[value=\"db-gl-01\"]').selected = true;"
        "document.getElementById('whatif-start').value = '2026-11-30T10:00';"
        "document.getElementById('whatif-minutes').value = '120';"
        "document.getElementById('whatif-run').click(); true"
    )
    priority = await browser.until(
        "document.getElementById('whatif-priority')?.textContent", "the simulated priority"
    )
    lines = await browser.until(
        "[...document.querySelectorAll('#whatif-curve path.rate')].map(p => "
        "[p.dataset.service, p.getAttribute('d').split('H').length])",
        "the impact curve",
    )
    shown = await browser.evaluate(
        "[document.getElementById('whatif-visibility')?.textContent, "
        "document.getElementById('whatif-minutes-total').textContent, "
        "document.getElementById('whatif-result').textContent]"
    )
    await browser.screenshot(tmp_path / "what-if.png")
    # Reach 239.25 (CFO office included during the close) is high impact, weight 3 high
    # urgency: P1, and the experience approvers make it high-visibility (docs/scoring.md).
    assert priority == "P1"
    assert shown[0] == "HIGH VISIBILITY"
    services = {service: points for service, points in lines}
    assert {"financial-close", "bank-reconciliation"} <= set(services)
    # The curve is drawn from every impact event: far more than a start and an end.
    assert services["financial-close"] > 10
    assert MONTH_END in shown[2]
    assert not browser.errors, browser.errors


async def test_change_assessment_over_http(system: RunningSystem) -> None:
    body = {
        "cis": [{"ci_id": "db-gl-01"}],
        "start": "2026-11-30T10:00:00Z",
        "duration": "2h",
        "risk": 0.25,
        "search_from": "2026-11-23T00:00:00Z",
        "days": 14,
    }
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.api_url, timeout=30) as api:
        anonymous = await api.post("/v1/changes/assess", json=body)
        answer = await api.post("/v1/changes/assess", json=body, headers=headers)
        wrong = await api.post(
            "/v1/changes/assess",
            json={**body, "cis": [{"ci_id": "db-gl-1"}]},
            headers=headers,
        )
        calendar = await api.get(
            "/v1/services/financial-close/risk-calendar",
            params={"from": "2026-11-23", "days": 14},
            headers=headers,
        )
    assert anonymous.status_code == 401
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    # (159.5 x 1.5 + 5 x 1.2) x 3.0 x 120 during the close (docs/what-if.md), a quarter of it
    # expected at a 25 % risk; the best window off-hours: (141.5 x 1.5 + 5 x 1.2) x 0.3 x 120.
    assert doc["worst_case_business_impact_minutes"] == pytest.approx(88290)
    assert doc["expected_business_impact_minutes"] == pytest.approx(88290 * 0.25)
    assert doc["best"]["business_impact_minutes"] == pytest.approx(7857)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["errors"][0]["pointer"] == "/cis/0/ci_id"
    days = {d["day"]: d for d in calendar.json()["days"]}
    # The close (26, 27, 30 November) is the riskiest: weight 3 with the CFO office.
    assert days["2026-11-26"]["level"] == 4 and days["2026-11-26"]["peak_weight"] == 3.0
    assert days["2026-11-29"]["peak_period"] == "off-hours"  # a Sunday
    assert days["2026-11-29"]["level"] < days["2026-11-25"]["level"]  # payroll day x2


# db-gl-01 down 30 minutes during the close: (159.5 x 1.5 + 5 x 1.2) x 3.0 x 30.
THIRTY_MIN = (159.5 * 1.5 + 5 * 1.2) * 3.0 * 30  # 22,072.5


async def sign_in(page: Browser, system: RunningSystem) -> None:
    await page.open(f"{system.api_url}/")
    await page.until("!document.getElementById('key-panel').hidden", "the key form")
    await page.evaluate(
        f"document.getElementById('key-input').value = {json.dumps(system.api_key)};"
        "document.querySelector('#key-form button[type=submit]').click(); true"
    )


async def test_a_recorded_change_keeps_its_assessment_into_the_incident(
    system: RunningSystem,
    browser: Browser,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """A change assessed, recorded with the answer, then db-gl-01 fails inside its window: the
    incident's suspect change shows the assessment beside the incident's minutes so far."""
    headers = {"Authorization": f"Bearer {system.api_key}"}
    plan = {
        "cis": [{"ci_id": "db-gl-01"}],
        "start": "2026-11-30T10:00:00Z",
        "duration": "2h",
        "risk": 0.25,
        "search_from": "2026-11-23T00:00:00Z",
        "days": 3,
    }
    change_id = f"chg-gl-ledger-{uuid.uuid4().hex[:8]}"
    async with (
        httpx.AsyncClient(base_url=system.api_url, headers=headers, timeout=30) as api,
        httpx.AsyncClient(base_url=system.ingest_url, headers=headers, timeout=30) as ingest,
    ):
        answer = await api.post("/v1/changes/assess", json=plan)
        assert answer.status_code == 200, answer.text
        record = {
            "id": change_id,
            "ci_id": "db-gl-01",
            "summary": "gl-ledger 4.2.1: faster period-close queries",
            "time": "2026-11-30T10:00:00Z",
            "assessment": answer.json(),
        }
        recorded = await ingest.post("/v1/changes", json=record)
        assert recorded.status_code == 202, recorded.text
        # Down from 10:05, inside the assessed window: the incident opens with the suspect.
        down = {"ci_id": "db-gl-01", "state": "down", "time": "2026-11-30T10:05:00Z"}
        assert (await ingest.post("/v1/events", json=down)).status_code == 202

        async def suspect(minutes: float | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
            page = await api.get("/v1/incidents", params={"service": "financial-close"})
            assert page.status_code == 200, page.text
            for incident in page.json()["items"]:
                so_far = incident["business_impact_minutes"]
                for change in incident["suspect_changes"]:
                    if change["change_id"] == change_id and (
                        minutes is None or so_far == pytest.approx(minutes)
                    ):
                        return incident, change
            return None

        incident, _ = await wait_for(
            lambda: suspect(None), timeout=120, interval=0.5, message="the suspect change"
        )
        card = f"#incident-{incident['incident_id']} .suspects .assessed"
        await sign_in(browser, system)
        shown_on_card = await browser.until(
            f"document.querySelector({json.dumps(card)})?.textContent", "the assessment on the card"
        )
        await browser.screenshot(tmp_path / "assessed-change.png")
        up = {"ci_id": "db-gl-01", "state": "ok", "time": "2026-11-30T10:35:00Z"}
        assert (await ingest.post("/v1/events", json=up)).status_code == 202
        # Once the recovery is scored, the whole 30 minutes are charged.
        incident, change = await wait_for(
            lambda: suspect(THIRTY_MIN), timeout=120, interval=0.5, message="30 minutes charged"
        )
        detail = (await api.get(f"/v1/incidents/{incident['incident_id']}")).json()

    kept = change["assessment"]
    # (159.5 x 1.5 + 5 x 1.2) x 3.0 x 120 during the close (docs/what-if.md), a quarter expected.
    assert kept["worst_case_business_impact_minutes"] == pytest.approx(88290)
    assert kept["expected_business_impact_minutes"] == pytest.approx(88290 * 0.25)
    assert kept["start"] == "2026-11-30T10:00:00Z" and kept["risk"] == 0.25
    assert kept["catalog_version"] == answer.json()["catalog_version"]
    assert "simulation" not in kept and "options" not in kept
    check = change["against_assessment"]
    assert check["incident_business_impact_minutes"] == pytest.approx(THIRTY_MIN)
    assert check["share_of_worst_case"] == pytest.approx(0.25)
    assert not check["beyond_worst_case"]
    assert check["note"].startswith("assessed worst case 88,290 business impact minutes")
    assert check["note"].endswith("this incident so far 22,072 (25% of the worst case)")
    [shown] = [c for c in detail["suspect_changes"] if c["change_id"] == change_id]
    assert shown["against_assessment"]["note"].startswith("assessed worst case 88,290")
    assert shown_on_card.startswith("assessed worst case 88,290 business impact minutes")
    assert not browser.errors, browser.errors
    print(check["note"])

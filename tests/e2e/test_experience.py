"""XLA breaches and error-budget burn-rate alerts on the real broker.

Unhappy users of Financial Close push its hour's XLA score below target (a breach event on the
`xla` topic); then its ledger database goes down and the error budget burns: a burn-rate alert
on `alerts`, and impact events whose urgency is raised by the burn. The windows of the burn-rate
rule are shortened (1 minute and 5 seconds) so the test takes seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from impactline.core import topics
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import CONFIG, ROOT, isolated_settings

LONDON = ZoneInfo("Europe/London")
# Mid-month business hours: the calendar alone gives medium urgency (DESIGN section 6).
T0 = datetime(2026, 11, 12, 10, 0, tzinfo=LONDON)
SERVICE = "financial-close"
BURN_KEY = f"{SERVICE}/error-budget/1m-5s"
FAST_RULES = """\
burn_rate_rules:
  - {long_window: PT60S, short_window: PT5S, factor: 14.4, severity: page}
"""


@pytest.fixture(scope="module")
async def e2e_settings(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    scoring = tmp_path_factory.mktemp("scoring") / "scoring.yaml"
    scoring.write_text(FAST_RULES)
    async with isolated_settings(
        kafka_bootstrap,
        database_url,
        tmp_path_factory.mktemp("state"),
        IMPACTLINE_CATALOG=f"{ROOT / 'deploy' / 'catalog'},{CONFIG / 'cascade-catalog.yaml'}",
        IMPACTLINE_CORRELATION_CONFIG=str(CONFIG / "correlation.yaml"),
        IMPACTLINE_SCORING=str(scoring),
        IMPACTLINE_ACCRUAL_SECONDS="2",
        IMPACTLINE_XLA_SECONDS="1",
        IMPACTLINE_BURN_MIN_BAD_SECONDS="2",
    ) as settings:
        yield settings


async def post(system: RunningSystem, path: str, body: Any) -> None:
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        response = await client.post(path, json=body)
    assert response.status_code == 202, response.text


def ours(e: Any) -> bool:
    return e.event.service_id == SERVICE


async def test_unhappy_users_breach_the_xla_and_an_outage_burns_the_error_budget(
    system: RunningSystem, tail
) -> None:
    xla = await tail(topics.XLA)
    alerts = await tail(topics.ALERTS)
    impacts = await tail(topics.IMPACT)

    await post(
        system,
        "/v1/feedback",
        [
            {
                "service_id": SERVICE,
                "csat": 1,
                "comment": "Terrible, the close is broken and I lost my work",
                # Both ratings at the same instant: the score is evaluated in event time, so the
                # first evaluation after that instant sees both (docs/scoring.md, Time).
                "time": (T0 - timedelta(minutes=1)).isoformat(),
            },
            {
                "service_id": SERVICE,
                "csat": 2,
                "comment": "Posting journals is painfully slow, awful morning",
                "time": (T0 - timedelta(minutes=1)).isoformat(),
            },
        ],
    )
    breach = (
        await xla.wait_for(
            lambda e: ours(e) and e.event.window == "PT1H" and e.event.reason.value == "breach",
            timeout_s=90,
        )
    ).event
    # CSAT 1.5 -> 12.5, sentiment -0.784 -> 10.8, availability and impact untouched (100):
    # (0.3 x 100 + 0.3 x 100 + 0.15 x 12.5 + 0.15 x 10.8) / 0.9 = 70.5, below the target of 80
    assert breach.breached and breach.target == 80
    assert breach.components["csat"] == pytest.approx(12.5)
    assert breach.components["sentiment"] == pytest.approx(10.8, abs=0.1)
    assert breach.components["availability"] == 100
    assert breach.score == pytest.approx(70.5, abs=0.1)
    assert breach.weakest == "sentiment"
    assert breach.summary.startswith("Financial Close's experience over the last 1 h fell to 71")

    await post(
        system,
        "/v1/events",
        {"ci_id": "db-gl-01", "state": "down", "time": T0.isoformat(), "summary": "unreachable"},
    )
    opened = (
        await impacts.wait_for(lambda e: ours(e) and e.event.reason.value == "state-change")
    ).event
    # down mid-month: high impact, medium urgency from the calendar, no burn yet: P2
    assert (opened.priority, opened.urgency) == ("P2", 2)

    burning = (
        await alerts.wait_for(lambda e: e.event.dedup_key == BURN_KEY and not e.event.resolved)
    ).event
    assert burning.priority in ("P1", "P2")
    assert burning.summary.startswith("Financial Close is burning its error budget")
    assert "(1 min and 5 s windows)" in burning.summary
    # the burn raises the urgency of the impact itself: high x high = P1
    raised = (
        await impacts.wait_for(
            lambda e: ours(e) and e.event.reason.value == "accrual" and e.event.urgency == 1
        )
    ).event
    assert raised.priority == "P1"
    assert raised.episode_id == opened.episode_id

    # Back up two minutes later: the 5-second window is clean at once, so the alert resolves.
    await post(
        system,
        "/v1/events",
        {"ci_id": "db-gl-01", "state": "ok", "time": (T0 + timedelta(minutes=2)).isoformat()},
    )
    resolved = (
        await alerts.wait_for(lambda e: e.event.dedup_key == BURN_KEY and e.event.resolved)
    ).event
    assert resolved.summary.startswith(
        "Financial Close is no longer burning its error budget faster than allowed"
    )

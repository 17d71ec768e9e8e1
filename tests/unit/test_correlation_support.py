"""Shared builders for the correlation tests: a small catalog, a clock and event factories.

The catalog has two correlation domains:

    financial-close -> web-close --+
    reporting       -> web-report -+-> gl-ledger -> db-gl-01
    budgeting       -> web-budget -+
    reporting       -> report-api -> db-gl-01, sso-01
    financial-close -> sso-01          (no dependency path between sso-01 and db-gl-01)
    payroll         -> pay-app -> db-pay-01
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from impactline.core.catalog import Catalog
from impactline.core.contracts import (
    ChangeEvent,
    ChangeKind,
    IncidentAction,
    IncidentEvent,
    TelemetryEvent,
)
from impactline.core.correlation import (
    CorrelationConfig,
    CorrelationContext,
    CorrelationEngine,
    Suppressions,
)
from impactline.core.states import State

T0 = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
OK, UNKNOWN, DEGRADED, DOWN = State.OK, State.UNKNOWN, State.DEGRADED, State.DOWN
GL_DOMAIN = "dom-budgeting"
PAY_DOMAIN = "dom-payroll"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _ci(ci_id: str, ci_type: str, *needs: str) -> dict[str, Any]:
    deps = [{"to": n} for n in needs]
    return {"id": ci_id, "type": ci_type, "owner": "platform", "dependencies": deps}


def _service(service_id: str, *needs: str) -> dict[str, Any]:
    return {
        "id": service_id,
        "name": service_id.replace("-", " ").title(),
        "owner": "finance",
        "tier": 1,
        "users": 100,
        "domain": "finance",
        "dependencies": [{"to": n} for n in needs],
    }


def build_catalog() -> Catalog:
    document = {
        "version": 1,
        "services": [
            _service("financial-close", "web-close", "sso-01"),
            _service("reporting", "web-report", "report-api"),
            _service("budgeting", "web-budget"),
            _service("payroll", "pay-app"),
        ],
        "cis": [
            _ci("db-gl-01", "database"),
            _ci("gl-ledger", "app", "db-gl-01"),
            _ci("web-close", "app", "gl-ledger"),
            _ci("web-report", "app", "gl-ledger"),
            _ci("web-budget", "app", "gl-ledger"),
            _ci("sso-01", "identity"),
            _ci("report-api", "app", "db-gl-01", "sso-01"),
            _ci("db-pay-01", "database"),
            _ci("pay-app", "app", "db-pay-01"),
        ],
    }
    return Catalog.from_documents([("test-catalog.yaml", document)])


CATALOG = build_catalog()


def context(
    config: CorrelationConfig | None = None, suppressions: Suppressions | None = None
) -> CorrelationContext:
    return CorrelationContext(
        CATALOG.graph, config or CorrelationConfig(), suppressions or Suppressions()
    )


def engine(
    config: CorrelationConfig | None = None, suppressions: Suppressions | None = None
) -> CorrelationEngine:
    return CorrelationEngine(context(config, suppressions))


_counter = iter(range(10**9))


def telemetry(
    ci_id: str,
    state: State,
    seconds: float,
    *,
    event_id: str | None = None,
    summary: str | None = None,
) -> TelemetryEvent:
    return TelemetryEvent(
        id=event_id or f"ev-{ci_id}-{state}-{seconds}-{next(_counter)}",
        ci_id=ci_id,
        state=state,
        time=at(seconds),
        summary=summary if summary is not None else f"{ci_id} is {state}",
    )


def change(
    ci_id: str, seconds: float, kind: ChangeKind = ChangeKind.DEPLOYMENT, change_id: str = ""
) -> ChangeEvent:
    return ChangeEvent(
        id=change_id or f"chg-{ci_id}-{seconds}",
        ci_id=ci_id,
        kind=kind,
        time=at(seconds),
        summary=f"deploy to {ci_id}",
    )


def actions(events: list[IncidentEvent]) -> list[tuple[IncidentAction, str]]:
    return [(e.action, e.incident_id) for e in events]


def of(events: list[IncidentEvent], action: IncidentAction) -> list[IncidentEvent]:
    return [e for e in events if e.action is action]

"""Live service health: one CI change in, only the services that changed out."""

from __future__ import annotations

from typing import Any

import pytest

from impactline.core.catalog import Catalog, ServiceHealth, UnknownNodeError
from impactline.core.states import State

OK, UNKNOWN, DEGRADED, DOWN = State.OK, State.UNKNOWN, State.DEGRADED, State.DOWN


def ci(ci_id: str, *deps: dict[str, Any], type: str = "host") -> dict[str, Any]:
    return {"id": ci_id, "type": type, "owner": "Platform Team", "dependencies": list(deps)}


def service(service_id: str, *deps: dict[str, Any]) -> dict[str, Any]:
    base = {"id": service_id, "name": service_id.title(), "owner": "Finance", "tier": 1}
    return {**base, "users": 120, "domain": "finance", "dependencies": list(deps)}


@pytest.fixture
def health() -> ServiceHealth:
    catalog = Catalog.from_documents(
        [
            (
                "close.yaml",
                {
                    "services": [
                        service("financial-close", {"to": "gl-ledger"}),
                        service(
                            "payroll", {"to": "pay-app"}, {"to": "db-gl-01", "rule": "degrades"}
                        ),
                    ],
                    "cis": [
                        ci(
                            "gl-ledger",
                            {"to": "db-gl-01"},
                            {"group": "app", "quorum": 1, "members": ["app-gl-01", "app-gl-02"]},
                        ),
                        ci("db-gl-01", type="database"),
                        ci("app-gl-01"),
                        ci("app-gl-02"),
                        ci("pay-app", type="app"),
                    ],
                },
            )
        ]
    )
    return ServiceHealth(catalog.graph)


def test_changes_report_only_the_services_whose_state_changed(health: ServiceHealth) -> None:
    assert health.set_ci_state("db-gl-01", DOWN) == {"financial-close": DOWN, "payroll": DEGRADED}
    assert health.set_ci_state("db-gl-01", DOWN) == {}
    assert health.set_ci_state("db-gl-01", DEGRADED) == {"financial-close": DEGRADED}
    assert health.set_ci_state("db-gl-01", OK) == {"financial-close": OK, "payroll": OK}


def test_the_redundant_pair_of_app_servers(health: ServiceHealth) -> None:
    assert health.set_ci_state("app-gl-01", DOWN) == {}
    assert health.state_of("gl-ledger") == OK
    assert health.set_ci_state("app-gl-02", DOWN) == {"financial-close": DOWN}
    assert health.set_ci_state("app-gl-01", OK) == {"financial-close": OK}
    assert health.ci_state("app-gl-02") == DOWN
    assert health.unhealthy() == {"app-gl-02": DOWN}


def test_plain_strings_are_accepted_as_states(health: ServiceHealth) -> None:
    assert health.set_ci_state("pay-app", "unknown") == {"payroll": UNKNOWN}  # type: ignore[arg-type]


def test_a_snapshot_reports_the_net_change(health: ServiceHealth) -> None:
    health.set_ci_state("pay-app", DOWN)
    changed = health.set_ci_states({"pay-app": OK, "db-gl-01": DOWN, "app-gl-01": DOWN})
    assert changed == {"financial-close": DOWN, "payroll": DEGRADED}
    assert health.service_states() == {"financial-close": DOWN, "payroll": DEGRADED}


def test_initial_states_are_applied(health: ServiceHealth) -> None:
    seeded = ServiceHealth(health.graph, {"db-gl-01": DOWN})
    assert seeded.service_states() == {"financial-close": DOWN, "payroll": DEGRADED}
    assert seeded.set_ci_state("db-gl-01", OK) == {"financial-close": OK, "payroll": OK}


def test_unknown_or_non_ci_ids_are_refused_without_changing_anything(health: ServiceHealth) -> None:
    with pytest.raises(KeyError, match="unknown CI 'db-gl-02'"):
        health.set_ci_state("db-gl-02", DOWN)
    with pytest.raises(UnknownNodeError, match="is a business-service"):
        health.set_ci_states({"db-gl-01": DOWN, "payroll": DOWN})
    assert health.service_states() == {"financial-close": OK, "payroll": OK}

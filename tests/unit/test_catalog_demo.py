"""The demo catalog in deploy/catalog: valid, and the worked example behaves as described."""

from __future__ import annotations

from pathlib import Path

import pytest

from impactline.core.catalog import (
    Catalog,
    Lifecycle,
    RedundancyGroup,
    Requires,
    Rule,
    ServiceHealth,
    Stakeholder,
    load_catalog,
)
from impactline.core.states import State

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "catalog"


@pytest.fixture(scope="module")
def demo() -> Catalog:
    return load_catalog([DEMO])


def test_financial_close_is_described_as_the_design_says(demo: Catalog) -> None:
    close = demo.services["financial-close"]
    assert (close.tier, close.domain, close.calendar, close.users) == (
        1,
        "finance",
        "uk-finance",
        126,
    )
    assert {p.stakeholder for p in close.personas} == set(Stakeholder)
    approvers = [p for p in close.personas if p.stakeholder is Stakeholder.EXPERIENCE_APPROVER]
    assert [p.name for p in approvers] == ["CFO office"]
    assert sum(p.users for p in close.personas) == close.users
    # DESIGN.md section 6: 120 finance users mid-month; the CFO office joins during the close.
    assert sum(p.users for p in close.personas if not p.periods) == 120
    assert approvers[0].periods == ["month-end-close"]
    assert close.vip_users
    assert Requires(to="gl-ledger", rule=Rule.REQUIRED) in close.dependencies


def test_gl_ledger_needs_its_database_and_one_of_two_app_servers(demo: Catalog) -> None:
    deps = demo.cis["gl-ledger"].dependencies
    assert Requires(to="db-gl-01") in deps
    assert (
        RedundancyGroup(group="gl-app-servers", quorum=1, members=["app-gl-01", "app-gl-02"])
        in deps
    )


def test_the_design_example_on_the_demo_catalog(demo: Catalog) -> None:
    health = ServiceHealth(demo.graph)
    assert health.set_ci_state("app-gl-01", State.DOWN) == {}
    assert health.set_ci_state("app-gl-02", State.DOWN)["financial-close"] is State.DOWN
    health.set_ci_state("app-gl-01", State.OK)
    health.set_ci_state("app-gl-02", State.OK)
    changed = health.set_ci_state("db-gl-01", State.DOWN)
    assert changed["financial-close"] is State.DOWN
    assert changed["bank-reconciliation"] is State.DOWN
    assert "employee-email" not in changed


def test_the_demo_has_several_domains_and_shared_infrastructure(demo: Catalog) -> None:
    graph = demo.graph
    assert len(graph.domains()) >= 3
    assert graph.domain_of("financial-close") != graph.domain_of("employee-email")
    assert graph.domain_of("warehouse-dispatch") != graph.domain_of("employee-email")
    assert {"financial-close", "payroll", "order-to-cash"} <= graph.services_affected_by(
        "link-ldn-core"
    )
    assert graph.service_states({"bi-reports": State.DOWN})["financial-close"] is State.DEGRADED


def test_the_demo_portfolio_differs_from_the_catalog(demo: Catalog) -> None:
    lifecycles = {s.lifecycle for s in demo.portfolio()}
    assert lifecycles == set(Lifecycle)
    view = {s.id for s in demo.catalog_view()}
    assert {"financial-close", "payroll", "order-to-cash", "employee-email"} <= view
    assert "bank-reconciliation" not in view  # active but not user-facing
    assert len(demo.cis) >= 35

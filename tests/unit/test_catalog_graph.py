"""What a CI can affect, how states propagate, and how the graph splits into domains."""

from __future__ import annotations

from typing import Any

import pytest

from impactline.core.catalog import Catalog, CatalogGraph, UnknownNodeError
from impactline.core.states import State

OK, UNKNOWN, DEGRADED, DOWN = State.OK, State.UNKNOWN, State.DEGRADED, State.DOWN


def ci(ci_id: str, *deps: dict[str, Any], type: str = "host") -> dict[str, Any]:
    return {"id": ci_id, "type": type, "owner": "Platform Team", "dependencies": list(deps)}


def service(service_id: str, *deps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"id": service_id, "name": service_id.title(), "owner": "Finance", "tier": 2}
    return {**base, "users": 10, "domain": "finance", "dependencies": list(deps), **fields}


def needs(target: str, rule: str = "required") -> dict[str, Any]:
    return {"to": target, "rule": rule}


def group(name: str, quorum: int, *members: str) -> dict[str, Any]:
    return {"group": name, "quorum": quorum, "members": list(members)}


def graph_of(**sections: list[dict[str, Any]]) -> CatalogGraph:
    return Catalog.from_documents([("test.yaml", sections)]).graph


@pytest.fixture
def close() -> CatalogGraph:
    """The Financial Close example: gl-ledger needs db-gl-01 and one of two app servers."""
    return graph_of(
        services=[service("financial-close", needs("gl-ledger"), needs("reports", "degrades"))],
        cis=[
            ci(
                "gl-ledger",
                needs("db-gl-01"),
                group("app", 1, "app-gl-01", "app-gl-02"),
                type="app",
            ),
            ci("db-gl-01", type="database"),
            ci("app-gl-01"),
            ci("app-gl-02"),
            ci("reports", type="app"),
        ],
    )


def test_ledger_database_down_takes_financial_close_down(close: CatalogGraph) -> None:
    assert close.service_states({"db-gl-01": DOWN}) == {"financial-close": DOWN}


def test_one_app_server_down_is_absorbed_by_the_redundancy_group(close: CatalogGraph) -> None:
    assert close.service_states({"app-gl-01": DOWN}) == {"financial-close": OK}
    assert close.service_states({"app-gl-02": DOWN}) == {"financial-close": OK}


def test_both_app_servers_down_take_financial_close_down(close: CatalogGraph) -> None:
    states = {"app-gl-01": DOWN, "app-gl-02": DOWN}
    assert close.service_states(states) == {"financial-close": DOWN}


def test_a_degraded_required_database_degrades_the_service(close: CatalogGraph) -> None:
    assert close.service_states({"db-gl-01": DEGRADED}) == {"financial-close": DEGRADED}


def test_a_degrades_edge_caps_an_outage_at_degraded(close: CatalogGraph) -> None:
    assert close.service_states({"reports": DOWN}) == {"financial-close": DEGRADED}
    assert close.service_states({"reports": DEGRADED}) == {"financial-close": DEGRADED}


def test_unknown_travels_up_but_never_hides_something_worse(close: CatalogGraph) -> None:
    assert close.service_states({"db-gl-01": UNKNOWN}) == {"financial-close": UNKNOWN}
    assert close.service_states({"reports": UNKNOWN}) == {"financial-close": UNKNOWN}
    assert close.service_states({"reports": UNKNOWN, "db-gl-01": DOWN}) == {"financial-close": DOWN}


@pytest.mark.parametrize(
    ("members", "quorum", "expected"),
    [
        ((OK, DEGRADED), 1, OK),
        ((DEGRADED, DOWN), 1, DEGRADED),
        ((UNKNOWN, DOWN), 1, UNKNOWN),
        ((UNKNOWN, DEGRADED), 1, UNKNOWN),
        ((OK, UNKNOWN, DOWN), 2, UNKNOWN),
        ((OK, DEGRADED, DOWN), 2, DEGRADED),
        ((OK, DOWN, DOWN), 2, DOWN),
        ((OK, OK, DOWN), 2, OK),
    ],
)
def test_redundancy_group_state_is_its_kth_healthiest_member(
    members: tuple[State, ...], quorum: int, expected: State
) -> None:
    names = [f"m{n}" for n in range(len(members))]
    graph = graph_of(
        services=[service("s", group("pool", quorum, *names))], cis=[ci(n) for n in names]
    )
    assert graph.service_states(dict(zip(names, members, strict=True))) == {"s": expected}


def test_states_reach_services_through_technical_services_and_ci_chains() -> None:
    graph = graph_of(
        services=[service("order-to-cash", needs("erp"))],
        technical_services=[
            {"id": "erp", "name": "ERP", "owner": "ERP", "dependencies": [needs("erp-core")]}
        ],
        cis=[
            ci("erp-core", needs("host-1")),
            ci("host-1", needs("link-1")),
            ci("link-1", type="link"),
        ],
    )
    assert graph.service_states({"link-1": DOWN}) == {"order-to-cash": DOWN}
    assert graph.services_affected_by("link-1") == {"order-to-cash"}
    assert graph.upstream_of("order-to-cash") == {"erp", "erp-core", "host-1", "link-1"}
    assert graph.dependents_of("host-1") == {"erp-core", "erp", "order-to-cash"}
    assert graph.direct_dependencies_of("erp") == {"erp-core"}
    assert graph.direct_dependents_of("erp-core") == {"erp"}


def test_shared_infrastructure_affects_every_service_above_it() -> None:
    graph = graph_of(
        services=[
            service("payroll", needs("app-pay")),
            service("financial-close", needs("app-gl")),
            service("email", needs("mail")),
        ],
        cis=[
            ci("app-pay", needs("sso")),
            ci("app-gl", needs("sso")),
            ci("sso", type="identity"),
            ci("mail", type="saas"),
        ],
    )
    assert graph.services_affected_by("sso") == {"payroll", "financial-close"}
    assert graph.services_affected_by("app-gl") == {"financial-close"}
    assert graph.services_affected_by("mail") == {"email"}


def test_domains_are_connected_components_named_after_their_smallest_service() -> None:
    graph = graph_of(
        services=[
            service("payroll", needs("app-pay")),
            service("financial-close", needs("app-gl")),
            service("email", needs("mail")),
        ],
        cis=[
            ci("app-pay", needs("sso")),
            ci("app-gl", needs("sso")),
            ci("sso", type="identity"),
            ci("mail", type="saas"),
            ci("spare-2", needs("spare-1")),
            ci("spare-1"),
        ],
    )
    assert graph.domains() == {
        "dom-email": {"email", "mail"},
        "dom-financial-close": {"payroll", "financial-close", "app-pay", "app-gl", "sso"},
        "dom-spare-1": {"spare-1", "spare-2"},
    }
    assert graph.domain_of("sso") == "dom-financial-close"
    assert graph.domain_of("spare-2") == "dom-spare-1"


def test_retired_and_pipeline_services_are_left_out_of_the_graph() -> None:
    graph = graph_of(
        services=[
            service("live", needs("h")),
            service("old", needs("h"), lifecycle="retired"),
            service("next", needs("h2"), lifecycle="pipeline"),
        ],
        cis=[ci("h"), ci("h2")],
    )
    assert graph.services_affected_by("h") == {"live"}
    assert graph.service_states({"h": DOWN}) == {"live": DOWN}
    assert graph.domain_of("h2") == "dom-h2"  # the pipeline service does not name its domain
    with pytest.raises(UnknownNodeError, match="'old' is retired; only active services"):
        graph.domain_of("old")


def test_unknown_ids_raise_a_key_error_that_says_what_is_wrong(close: CatalogGraph) -> None:
    with pytest.raises(KeyError) as caught:
        close.services_affected_by("db-gl-99")
    assert isinstance(caught.value, UnknownNodeError)
    assert "no business service, technical service or CI has this id" in str(caught.value)
    with pytest.raises(UnknownNodeError, match="'financial-close' is a business-service; only CIs"):
        close.service_states({"financial-close": DOWN})


def test_node_states_include_every_node(close: CatalogGraph) -> None:
    states = close.node_states({"app-gl-01": DOWN, "app-gl-02": DEGRADED})
    assert states["gl-ledger"] == DEGRADED
    assert states["app-gl-01"] == DOWN
    assert states["financial-close"] == DEGRADED

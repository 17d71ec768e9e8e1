"""Properties of propagation, domains and the incremental tracker over random catalogs."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from impactline.core.catalog import (
    Catalog,
    CatalogGraph,
    RedundancyGroup,
    Requires,
    Rule,
    ServiceHealth,
)
from impactline.core.catalog.generator import generate_catalog
from impactline.core.states import State

STATES = st.sampled_from(list(State))
BY_SEVERITY = sorted(State, key=lambda s: s.severity)


@st.composite
def dependencies(draw: st.DrawFn, pool: list[str]) -> list[dict[str, Any]]:
    if not pool:
        return []
    out: list[dict[str, Any]] = []
    direct = draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
    for target in direct:
        out.append({"to": target, "rule": draw(st.sampled_from(["required", "degrades"]))})
    for n in range(draw(st.integers(0, 2))):
        members = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
        quorum = draw(st.integers(1, len(members)))
        out.append({"group": f"g{n}", "quorum": quorum, "members": members})
    return out


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    """Layered random catalogs: each entry may only need entries drawn before it, so no cycles."""
    cis = [f"ci-{n:02d}" for n in range(draw(st.integers(1, 10)))]
    techs = [f"ts-{n}" for n in range(draw(st.integers(0, 3)))]
    services = [f"bs-{n}" for n in range(draw(st.integers(1, 4)))]
    doc: dict[str, list[dict[str, Any]]] = {"cis": [], "technical_services": [], "services": []}
    for n, ci_id in enumerate(cis):
        deps = draw(dependencies(cis[:n]))
        doc["cis"].append({"id": ci_id, "type": "host", "owner": "o", "dependencies": deps})
    for n, tech_id in enumerate(techs):
        deps = draw(dependencies(cis + techs[:n]))
        doc["technical_services"].append(
            {"id": tech_id, "name": tech_id, "owner": "o", "dependencies": deps}
        )
    for n, service_id in enumerate(services):
        deps = draw(dependencies(cis + techs + services[:n]))
        doc["services"].append(
            {
                "id": service_id,
                "name": service_id,
                "owner": "o",
                "tier": 2,
                "users": 10,
                "domain": "finance",
                "dependencies": deps,
            }
        )
    return Catalog.from_documents([("random.yaml", doc)])


def observed(draw: st.DrawFn, graph: CatalogGraph) -> dict[str, State]:
    chosen = draw(st.lists(st.sampled_from(graph.ci_ids), unique=True))
    return {ci_id: draw(STATES) for ci_id in chosen}


def reference_state(catalog: Catalog, node_id: str, ci_states: dict[str, State]) -> State:
    """The documented rules, written out directly and recursively, as an independent oracle."""
    state = ci_states.get(node_id, State.OK)
    for dep in catalog.node(node_id).dependencies:
        if isinstance(dep, Requires):
            needed = reference_state(catalog, dep.to, ci_states)
            if dep.rule is Rule.DEGRADES and needed is State.DOWN:
                needed = State.DEGRADED
        else:
            assert isinstance(dep, RedundancyGroup)
            members = [reference_state(catalog, m, ci_states) for m in dep.members]
            needed = sorted(members, key=lambda s: s.severity)[dep.quorum - 1]
        state = state.worst(needed)
    return state


@given(st.data())
def test_graph_states_match_the_documented_rules(data: st.DataObject) -> None:
    catalog = data.draw(catalogs())
    states = observed(data.draw, catalog.graph)
    expected = {s: reference_state(catalog, s, states) for s in catalog.graph.service_ids}
    assert catalog.graph.service_states(states) == expected


@given(st.data())
def test_more_cis_down_never_makes_a_service_healthier(data: st.DataObject) -> None:
    graph = data.draw(catalogs()).graph
    before = observed(data.draw, graph)
    worse = dict(before)
    for ci_id in data.draw(st.lists(st.sampled_from(graph.ci_ids), unique=True)):
        worse[ci_id] = worse.get(ci_id, State.OK).worst(data.draw(STATES))
    healthy, hurt = graph.service_states(before), graph.service_states(worse)
    for service_id, state in healthy.items():
        assert hurt[service_id].severity >= state.severity, service_id


@given(
    size=st.integers(1, 6),
    data=st.data(),
)
def test_a_quorum_group_survives_exactly_n_minus_k_members_down(
    size: int, data: st.DataObject
) -> None:
    quorum = data.draw(st.integers(1, size))
    members = [f"m{n}" for n in range(size)]
    order = data.draw(st.permutations(members))
    catalog = Catalog.from_documents(
        [
            (
                "quorum.yaml",
                {
                    "services": [
                        {
                            "id": "s",
                            "name": "S",
                            "owner": "o",
                            "tier": 1,
                            "users": 1,
                            "domain": "d",
                            "dependencies": [{"group": "g", "quorum": quorum, "members": members}],
                        }
                    ],
                    "cis": [{"id": m, "type": "host", "owner": "o"} for m in members],
                },
            )
        ]
    )
    survivable = dict.fromkeys(order[: size - quorum], State.DOWN)
    assert catalog.graph.service_states(survivable) == {"s": State.OK}
    fatal = dict.fromkeys(order[: size - quorum + 1], State.DOWN)
    assert catalog.graph.service_states(fatal) == {"s": State.DOWN}


@given(catalogs())
def test_every_ci_domain_holds_every_service_it_can_affect(catalog: Catalog) -> None:
    graph = catalog.graph
    domains = graph.domains()
    assert sorted(node for members in domains.values() for node in members) == sorted(
        graph.node_ids
    )
    for ci_id in graph.ci_ids:
        domain = domains[graph.domain_of(ci_id)]
        assert ci_id in domain
        assert graph.services_affected_by(ci_id) <= domain
        for service_id in graph.services_affected_by(ci_id):
            assert graph.domain_of(service_id) == graph.domain_of(ci_id)


@given(st.data())
def test_the_incremental_tracker_agrees_with_full_recomputation(data: st.DataObject) -> None:
    graph = data.draw(catalogs()).graph
    current = observed(data.draw, graph)
    health = ServiceHealth(graph, current)
    assert health.service_states() == graph.service_states(current)
    changes = data.draw(
        st.lists(st.tuples(st.sampled_from(graph.ci_ids), STATES), min_size=1, max_size=25)
    )
    for ci_id, state in changes:
        before = graph.service_states(current)
        current[ci_id] = state
        after = graph.service_states(current)
        reported = health.set_ci_state(ci_id, state)
        assert reported == {s: after[s] for s in after if after[s] != before[s]}
        assert health.service_states() == after


@settings(max_examples=15, deadline=None)
@given(
    services=st.integers(1, 60),
    cis=st.integers(1, 400),
    seed=st.integers(0, 2**16),
)
def test_generated_catalogs_are_valid_sized_and_reproducible(
    services: int, cis: int, seed: int
) -> None:
    catalog = generate_catalog(services, cis, seed)
    assert (len(catalog.services), len(catalog.cis)) == (services, cis)
    assert generate_catalog(services, cis, seed).fingerprint == catalog.fingerprint

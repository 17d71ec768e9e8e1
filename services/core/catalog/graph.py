"""The dependency graph of a catalog: what a CI can affect, correlation domains, service states.

The graph holds the active business services, every technical service and every CI; pipeline and
retired services are in the portfolio but are not running, so nothing they need can hurt them.
Nodes are numbered in dependency order (each after everything it needs), so one forward pass
computes every state and a heap of node numbers walks any affected subgraph in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from impactline.core.catalog.bulk import collector_paused
from impactline.core.catalog.errors import UnknownNodeError
from impactline.core.catalog.model import Lifecycle, NodeKind, Requires, Rule
from impactline.core.catalog.propagation import (
    DEGRADES,
    GROUP,
    OK,
    REQUIRED,
    SEVERITY,
    STATES,
    Term,
    evaluate,
)
from impactline.core.states import State

if TYPE_CHECKING:
    from impactline.core.catalog.catalog import Catalog

BUSINESS, TECHNICAL, CI = 0, 1, 2
_KINDS = (NodeKind.BUSINESS_SERVICE, NodeKind.TECHNICAL_SERVICE, NodeKind.CI)
_CODE_OF_KIND = {kind: code for code, kind in enumerate(_KINDS)}
DOMAIN_PREFIX = "dom-"


class CatalogGraph:
    """Read-only queries over the dependency graph of one catalog. Pure: no I/O."""

    def __init__(self, catalog: Catalog) -> None:
        with collector_paused():
            self._build(catalog)

    def _build(self, catalog: Catalog) -> None:
        self.catalog = catalog
        checked = catalog._checked
        services = catalog.services
        ids = [
            node_id
            for node_id in checked.order
            if node_id not in services or services[node_id].lifecycle is Lifecycle.ACTIVE
        ]
        index = {node_id: n for n, node_id in enumerate(ids)}
        code_of_kind = _CODE_OF_KIND
        kinds = [code_of_kind[checked.kinds[node_id]] for node_id in ids]
        terms: list[tuple[Term, ...]] = []
        needs: list[tuple[int, ...]] = []
        needed_by: list[list[int]] = [[] for _ in ids]
        nodes, targets = checked.nodes, checked.targets
        rule_code = {Rule.REQUIRED: REQUIRED, Rule.DEGRADES: DEGRADES}
        for n, node_id in enumerate(ids):
            node_terms: list[Term] = []
            for dep in nodes[node_id].dependencies:
                if type(dep) is Requires:
                    node_terms.append((rule_code[dep.rule], index[dep.to], (), 0))
                else:
                    members = tuple([index[m] for m in dep.members])
                    node_terms.append((GROUP, -1, members, dep.quorum))
            terms.append(tuple(node_terms))
            node_needs = tuple([index[t] for t in targets[node_id]])
            needs.append(node_needs)
            for target in node_needs:
                needed_by[target].append(n)
        self._ids: tuple[str, ...] = tuple(ids)
        self._index = index
        self._kinds = kinds
        self._terms = terms
        self._needs = needs
        self._needed_by: list[list[int]] = needed_by
        self._domain_of = self._label_components()
        self._affected: dict[int, frozenset[str]] = {}
        self._groups_above: dict[int, dict[tuple[int, int], frozenset[int]]] = {}
        self._domains: dict[str, frozenset[str]] | None = None
        self.service_ids: tuple[str, ...] = tuple(
            i for i, k in zip(ids, kinds, strict=True) if k == BUSINESS
        )
        """Active business services, in dependency order."""
        self.ci_ids: tuple[str, ...] = tuple(i for i, k in zip(ids, kinds, strict=True) if k == CI)

    def _label_components(self) -> list[str]:
        """Connected components of the undirected graph, named after their smallest service id."""
        count = len(self._ids)
        component = [-1] * count
        labels: list[str] = []
        for start in range(count):
            if component[start] != -1:
                continue
            label = len(labels)
            component[start] = label
            best_service: str | None = None
            best_any = self._ids[start]
            stack = [start]
            while stack:
                n = stack.pop()
                node_id = self._ids[n]
                if self._kinds[n] == BUSINESS and (best_service is None or node_id < best_service):
                    best_service = node_id
                best_any = min(best_any, node_id)
                for other in self._needs[n]:
                    if component[other] == -1:
                        component[other] = label
                        stack.append(other)
                for other in self._needed_by[n]:
                    if component[other] == -1:
                        component[other] = label
                        stack.append(other)
            labels.append(DOMAIN_PREFIX + (best_service or best_any))
        return [labels[c] for c in component]

    # -- lookups -------------------------------------------------------------------------------

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._index

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Every node of the graph, each after everything it depends on."""
        return self._ids

    def _position(self, node_id: str, expected: str = "node") -> int:
        try:
            return self._index[node_id]
        except KeyError:
            raise UnknownNodeError(node_id, expected, self._why_missing(node_id)) from None

    def _why_missing(self, node_id: str) -> str:
        service = self.catalog.services.get(node_id)
        if service is not None:
            return (
                f"business service {node_id!r} is {service.lifecycle}; only active services "
                "are in the dependency graph"
            )
        return "no business service, technical service or CI has this id in the catalog"

    def _ci_position(self, ci_id: str) -> int:
        n = self._position(ci_id, "CI")
        if self._kinds[n] != CI:
            kind = _KINDS[self._kinds[n]]
            raise UnknownNodeError(
                ci_id, "CI", f"{ci_id!r} is a {kind}; only CIs carry an observed state"
            )
        return n

    def kind_of(self, node_id: str) -> NodeKind:
        return _KINDS[self._kinds[self._position(node_id)]]

    # -- structure -----------------------------------------------------------------------------

    def services_affected_by(self, node_id: str) -> frozenset[str]:
        """Active business services whose state can change when this node's state changes.

        Transitive through every rule; includes the node itself when it is a business service.
        """
        n = self._position(node_id)
        cached = self._affected.get(n)
        if cached is None:
            reached = self._walk(n, self._needed_by)
            cached = frozenset(self._ids[m] for m in reached if self._kinds[m] == BUSINESS)
            self._affected[n] = cached
        return cached

    def redundancy_groups_above(self, node_id: str) -> dict[tuple[str, int], frozenset[str]]:
        """The redundancy groups the node sits under: for each group, keyed by (the node that
        holds the group, the group's position among its dependencies), the members the node
        is or is needed by. Two nodes under different members of one group wear down the same
        redundancy, and only together can they break its quorum."""
        found = self._groups_of(self._position(node_id))
        ids = self._ids
        return {
            (ids[holder], term): frozenset(ids[m] for m in members)
            for (holder, term), members in found.items()
        }

    def _groups_of(self, n: int) -> dict[tuple[int, int], frozenset[int]]:
        cached = self._groups_above.get(n)
        if cached is None:
            grouped: dict[tuple[int, int], set[int]] = {}
            for m in self._walk(n, self._needed_by):
                for holder in self._needed_by[m]:
                    for term, (rule, _, members, _) in enumerate(self._terms[holder]):
                        if rule == GROUP and m in members:
                            grouped.setdefault((holder, term), set()).add(m)
            cached = {key: frozenset(members) for key, members in grouped.items()}
            self._groups_above[n] = cached
        return cached

    def share_redundancy(self, a: str, b: str) -> bool:
        """Whether the two nodes sit under different members of one redundancy group."""
        above_a = self._groups_of(self._position(a))
        if not above_a:
            return False
        above_b = self._groups_of(self._position(b))
        for key, members_a in above_a.items():
            members_b = above_b.get(key)
            if members_b and (len(members_a | members_b) > 1):
                return True
        return False

    def upstream_of(self, node_id: str) -> frozenset[str]:
        """Every node this one depends on, directly or through others (itself excluded)."""
        n = self._position(node_id)
        return frozenset(self._ids[m] for m in self._walk(n, self._needs) if m != n)

    def dependents_of(self, node_id: str) -> frozenset[str]:
        """Every node that depends on this one, directly or through others (itself excluded)."""
        n = self._position(node_id)
        return frozenset(self._ids[m] for m in self._walk(n, self._needed_by) if m != n)

    def direct_dependencies_of(self, node_id: str) -> frozenset[str]:
        return frozenset(self._ids[m] for m in self._needs[self._position(node_id)])

    def direct_dependents_of(self, node_id: str) -> frozenset[str]:
        return frozenset(self._ids[m] for m in self._needed_by[self._position(node_id)])

    @staticmethod
    def _walk(start: int, edges: Sequence[Sequence[int]]) -> set[int]:
        seen = {start}
        stack = [start]
        while stack:
            for other in edges[stack.pop()]:
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        return seen

    def domain_of(self, node_id: str) -> str:
        """The correlation domain: `dom-` + the smallest business service id of the connected
        component (undirected) holding the node, or its smallest node id when it has no service."""
        return self._domain_of[self._position(node_id)]

    def domains(self) -> dict[str, frozenset[str]]:
        """Every correlation domain and the node ids in it."""
        if self._domains is None:
            grouped: dict[str, list[str]] = {}
            for node_id, domain in zip(self._ids, self._domain_of, strict=True):
                grouped.setdefault(domain, []).append(node_id)
            self._domains = {d: frozenset(members) for d, members in sorted(grouped.items())}
        return dict(self._domains)

    # -- states --------------------------------------------------------------------------------

    def severities(self, ci_states: Mapping[str, State]) -> list[int]:
        """Severity of every node (by position) for the given observed CI states."""
        own = [OK] * len(self._ids)
        for ci_id, state in ci_states.items():
            own[self._ci_position(ci_id)] = SEVERITY[State(state)]
        return self._evaluate_all(own)

    def _evaluate_all(self, own: list[int]) -> list[int]:
        states = list(own)
        terms = self._terms
        for n in range(len(states)):
            if terms[n]:
                states[n] = evaluate(own[n], terms[n], states)
        return states

    def service_states(self, ci_states: Mapping[str, State]) -> dict[str, State]:
        """State of every active business service; CIs not in `ci_states` are ok."""
        states = self.severities(ci_states)
        return {
            self._ids[n]: STATES[states[n]]
            for n in range(len(states))
            if self._kinds[n] == BUSINESS
        }

    def node_states(self, ci_states: Mapping[str, State]) -> dict[str, State]:
        """State of every node (services and CIs, dependencies applied); CIs not given are ok."""
        states = self.severities(ci_states)
        return {self._ids[n]: STATES[s] for n, s in enumerate(states)}

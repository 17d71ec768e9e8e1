"""The catalog graph as the correlation rules need it: forgiving and cached.

State outlives catalog versions: a CI in a stored incident may be gone from the current catalog.
The rules must keep working then, so unknown ids here simply have no relations instead of
raising, and the walks the rules repeat for every event are cached per graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from impactline.core.catalog import CatalogGraph, NodeKind, ServiceHealth
from impactline.core.correlation.config import CorrelationConfig
from impactline.core.correlation.suppressions import Suppressions
from impactline.core.states import State

_EMPTY: frozenset[str] = frozenset()
_REACH_CACHE = 4096


class Topology:
    """Cached, never-raising dependency queries over one `CatalogGraph`."""

    def __init__(self, graph: CatalogGraph) -> None:
        self.graph = graph
        self._upstream: dict[str, frozenset[str]] = {}
        self._dependents: dict[str, frozenset[str]] = {}
        self._reach: dict[frozenset[str], frozenset[str]] = {}

    def knows(self, node_id: str) -> bool:
        return node_id in self.graph

    def is_ci(self, node_id: str) -> bool:
        return node_id in self.graph and self.graph.kind_of(node_id) is NodeKind.CI

    def upstream(self, node_id: str) -> frozenset[str]:
        """Everything the node depends on, directly or not."""
        cached = self._upstream.get(node_id)
        if cached is None:
            cached = self.graph.upstream_of(node_id) if node_id in self.graph else _EMPTY
            self._upstream[node_id] = cached
        return cached

    def dependents(self, node_id: str) -> frozenset[str]:
        """Everything that depends on the node, directly or not."""
        cached = self._dependents.get(node_id)
        if cached is None:
            cached = self.graph.dependents_of(node_id) if node_id in self.graph else _EMPTY
            self._dependents[node_id] = cached
        return cached

    def services(self, node_id: str) -> frozenset[str]:
        """Active business services the node can affect."""
        return self.graph.services_affected_by(node_id) if node_id in self.graph else _EMPTY

    def reach(self, nodes: Iterable[str]) -> frozenset[str]:
        """Active business services any of the nodes can affect (an incident's members)."""
        key = frozenset(nodes)
        cached = self._reach.get(key)
        if cached is None:
            if len(self._reach) >= _REACH_CACHE:
                self._reach.clear()  # member sets change slowly; a rare rebuild is cheap
            cached = frozenset().union(*(self.services(n) for n in key))
            self._reach[key] = cached
        return cached

    def related(self, a: str, b: str) -> bool:
        """Whether the failures of the two nodes belong together: a dependency path joins them
        (in either direction), or they sit under different members of one redundancy group,
        the only place where two failures change a common dependent's state together."""
        if a == b or a in self.upstream(b) or b in self.upstream(a):
            return True
        return a in self.graph and b in self.graph and self.graph.share_redundancy(a, b)

    def health(self, ci_states: Mapping[str, State]) -> ServiceHealth:
        """Live service states for the given CI states; ids that are not CIs are left out."""
        return ServiceHealth(self.graph, {ci: s for ci, s in ci_states.items() if self.is_ci(ci)})


@dataclass(frozen=True, eq=False)
class CorrelationContext:
    """What the per-domain rules read besides their state: built once per catalog version,
    configuration or suppression change, and shared by every domain."""

    graph: CatalogGraph
    config: CorrelationConfig = field(default_factory=CorrelationConfig)
    suppressions: Suppressions = field(default_factory=Suppressions)
    catalog_version: int = 0
    """Stamped on the service-health events the domains produce."""
    topology: Topology = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topology", Topology(self.graph))

"""Live business-service health, updated one CI state change at a time.

A change re-evaluates only the nodes above the CI whose inputs actually changed, in dependency
order, so each node is evaluated at most once per change and the walk stops where the change
stops mattering (a second app server going down behind a quorum of one, say).

Only nodes that are not ok are stored, so a tracker costs memory and set-up time in proportion
to what is unhealthy, not to the size of the catalog: one tracker per correlation domain is fine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from heapq import heapify, heappop, heappush

from impactline.core.catalog.graph import BUSINESS, CatalogGraph
from impactline.core.catalog.propagation import OK, SEVERITY, STATES, evaluate
from impactline.core.states import State


class _NotOk(dict[int, int]):
    """Severity by node position, holding only the nodes that are not ok."""

    def __missing__(self, position: int) -> int:
        return OK

    def put(self, position: int, severity: int) -> None:
        if severity == OK:
            self.pop(position, None)
        else:
            self[position] = severity


class ServiceHealth:
    """Holds the observed state of each CI and the resulting state of every node of one graph."""

    def __init__(self, graph: CatalogGraph, ci_states: Mapping[str, State] | None = None) -> None:
        self.graph = graph
        self._own = _NotOk()
        self._states = _NotOk()
        if ci_states:
            self.set_ci_states(ci_states)

    def set_ci_state(self, ci_id: str, state: State) -> dict[str, State]:
        """Record a CI's observed state; return the business services whose state changed, with
        their new state. Raises `UnknownNodeError` (a `KeyError`) for an id that is not a CI."""
        n = self.graph._ci_position(ci_id)
        severity = SEVERITY[State(state)]
        if self._own[n] == severity:
            return {}
        self._own.put(n, severity)
        return self._propagate((n,))

    def set_ci_states(self, ci_states: Mapping[str, State]) -> dict[str, State]:
        """Several observations at once (a snapshot, a replay): the business services whose state
        differs from before the call, with their new state."""
        updates = [
            (self.graph._ci_position(ci_id), SEVERITY[State(state)])
            for ci_id, state in ci_states.items()
        ]
        touched = []
        for n, severity in updates:
            if self._own[n] != severity:
                self._own.put(n, severity)
                touched.append(n)
        return self._propagate(touched)

    def _propagate(self, seeds: Iterable[int]) -> dict[str, State]:
        graph = self.graph
        terms, needed_by, kinds, ids = graph._terms, graph._needed_by, graph._kinds, graph._ids
        own, states = self._own, self._states
        queue = list(dict.fromkeys(seeds))
        queued = set(queue)
        heapify(queue)
        changed: dict[str, State] = {}
        while queue:
            n = heappop(queue)
            severity = evaluate(own[n], terms[n], states)
            if severity == states[n]:
                continue
            states.put(n, severity)
            if kinds[n] == BUSINESS:
                changed[ids[n]] = STATES[severity]
            for parent in needed_by[n]:
                if parent not in queued:
                    queued.add(parent)
                    heappush(queue, parent)
        return changed

    def ci_state(self, ci_id: str) -> State:
        """The state last observed for a CI (ok until told otherwise)."""
        return STATES[self._own[self.graph._ci_position(ci_id)]]

    def state_of(self, node_id: str) -> State:
        """The current state of any node, dependencies applied."""
        return STATES[self._states[self.graph._position(node_id)]]

    def service_states(self) -> dict[str, State]:
        """The current state of every active business service."""
        states = self._states
        index = self.graph._index
        return {s: STATES[states[index[s]]] for s in self.graph.service_ids}

    def unhealthy(self) -> dict[str, State]:
        """Every node not ok right now, for dashboards and root-cause search."""
        ids = self.graph._ids
        return {ids[n]: STATES[s] for n, s in sorted(self._states.items())}

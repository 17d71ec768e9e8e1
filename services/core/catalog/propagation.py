"""How a state travels along a dependency: the one place that defines the propagation rules.

States are handled as severities (ok 0 < unknown 1 < degraded 2 < down 3) so that "the worst of"
is `max`. A node's state is the worst of its own observed state (CIs only) and of what each of
its dependencies contributes:

- `required` passes the needed node's state through unchanged: down => down, degraded =>
  degraded, unknown => unknown.
- `degrades` caps it at degraded: down or degraded => degraded; unknown stays unknown, because a
  node we cannot see may be the reason the dependent is degraded.
- a redundancy group with quorum k contributes the state of its k-th healthiest member, members
  ranked ok, unknown, degraded, down. Counting members: k ok => ok; else k ok-or-unknown =>
  unknown (it may well be healthy); else k ok, unknown or degraded => degraded (a degraded
  member still serves, so it keeps the group up but not healthy); else down. With n members
  and quorum k the group survives exactly n-k members down.

Every rule is monotonic: making any input worse never makes the output better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from impactline.core.states import State

OK, UNKNOWN, DEGRADED, DOWN = 0, 1, 2, 3
SEVERITY: dict[State, int] = {
    State.OK: OK,
    State.UNKNOWN: UNKNOWN,
    State.DEGRADED: DEGRADED,
    State.DOWN: DOWN,
}
STATES: tuple[State, ...] = (State.OK, State.UNKNOWN, State.DEGRADED, State.DOWN)

REQUIRED, DEGRADES, GROUP = 0, 1, 2

Term = tuple[int, int, tuple[int, ...], int]
"""(rule, target, group members, quorum): target is used by REQUIRED/DEGRADES, members by GROUP."""


def evaluate(own: int, terms: Sequence[Term], states: Sequence[int] | Mapping[int, int]) -> int:
    """The severity of a node from its own severity and the current severity of what it needs."""
    worst = own
    for rule, target, members, quorum in terms:
        if worst == DOWN:
            break
        if rule == REQUIRED:
            contributed = states[target]
        elif rule == DEGRADES:
            contributed = min(states[target], DEGRADED)
        else:
            contributed = sorted([states[m] for m in members])[quorum - 1]
        if contributed > worst:
            worst = contributed
    return worst

"""Dependency order and cycle finding over node ids; pure graph algorithms, no catalog rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from impactline.core.catalog.model import Dependency, Requires


def dependency_order(
    ids: list[str], targets: Mapping[str, Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """Order ids so that each comes after every id it needs, and find the loops that prevent it.

    Returns (order, cycles). Targets that are not in `ids` are ignored. When there are cycles,
    the order leaves out the nodes on them and the nodes that need those; each cycle is listed
    once, starting at its smallest id, as the path around it (`[a, b, c]` for a -> b -> c -> a).
    """
    index = {node_id: i for i, node_id in enumerate(ids)}
    needs: list[list[int]] = []
    needed_by: list[list[int]] = [[] for _ in ids]
    for i, node_id in enumerate(ids):
        wanted = [index[t] for t in targets.get(node_id, ()) if t in index]
        needs.append(wanted)
        for t in wanted:
            needed_by[t].append(i)
    waiting = [len(wanted) for wanted in needs]
    order = [i for i, count in enumerate(waiting) if count == 0]
    for i in order:  # the list grows while it is walked: a breadth-first Kahn sort
        for parent in needed_by[i]:
            waiting[parent] -= 1
            if waiting[parent] == 0:
                order.append(parent)
    cycles: list[list[str]] = []
    if len(order) < len(ids):
        done = set(order)
        stuck = [i for i in range(len(ids)) if i not in done]
        cycles = [[ids[i] for i in cycle] for cycle in _cycles(stuck, needs, ids)]
    return [ids[i] for i in order], cycles


def _cycles(stuck: list[int], needs: list[list[int]], ids: list[str]) -> list[list[int]]:
    """One cycle per strongly connected component among the nodes a topological sort left over,
    each starting at its smallest id."""
    members = set(stuck)
    components = _strong_components(stuck, needs, members)
    cycles: list[list[int]] = []
    for component in components:
        inside = set(component)
        start = min(component, key=ids.__getitem__)
        if len(component) == 1 and start not in needs[start]:
            continue  # only waits on a cycle; not part of one
        cycles.append(_cycle_through(start, needs, inside))
    return sorted(cycles, key=lambda cycle: ids[cycle[0]])


def _strong_components(
    nodes: list[int], needs: list[list[int]], members: set[int]
) -> list[list[int]]:
    # Iterative Tarjan: catalog graphs can be deep enough to overflow Python's recursion limit.
    counter = 0
    number: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    for root in nodes:
        if root in number:
            continue
        work = [(root, 0)]
        while work:
            node, next_child = work.pop()
            if next_child == 0:
                number[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = [c for c in needs[node] if c in members]
            for position in range(next_child, len(children)):
                child = children[position]
                if child not in number:
                    work.append((node, position + 1))
                    work.append((child, 0))
                    break
                if child in on_stack:
                    low[node] = min(low[node], number[child])
            else:
                if low[node] == number[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    components.append(component)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return components


def _cycle_through(start: int, needs: list[list[int]], inside: set[int]) -> list[int]:
    """A shortest cycle from `start` back to itself, staying inside one strong component."""
    came_from: dict[int, int] = {}
    frontier = [start]
    while frontier:
        following: list[int] = []
        for node in frontier:
            for child in needs[node]:
                if child not in inside:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError("a strong component always holds a cycle through each member")


def targets_of(dependencies: Sequence[Dependency]) -> tuple[str, ...]:
    """The ids named by a list of dependencies, group members included, each once."""
    out: list[str] = []
    for dep in dependencies:
        if isinstance(dep, Requires):
            out.append(dep.to)
        else:
            out.extend(dep.members)
    return tuple(dict.fromkeys(out)) if len(out) > 1 else tuple(out)

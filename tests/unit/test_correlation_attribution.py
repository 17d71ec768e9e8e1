"""Per domain: which incidents are charged with each impaired service, and when
(docs/correlation.md, sections "Grouping" and "Attribution").

The catalog, one domain:

    pool-svc  -> pool-app -> one of {node-1, node-2}       (redundancy group, quorum 1)
    front-a   -> web-a -+
    front-b   -> web-b -+-> shared-app                     (web-a and web-b: no path between)
    both      -> left, right                               (two independent causes)
    planned   -> plan-db
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impactline.core.catalog import Catalog
from impactline.core.contracts import (
    HealthReason,
    IncidentAction,
    ServiceHealthEvent,
    TelemetryEvent,
)
from impactline.core.correlation import (
    CorrelationContext,
    CorrelationEngine,
    DomainCorrelator,
    Suppressions,
)
from impactline.core.states import State

T0 = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
OK, DEGRADED, DOWN = State.OK, State.DEGRADED, State.DOWN


def _service(service_id: str, *needs: str) -> dict[str, Any]:
    return {
        "id": service_id,
        "name": service_id,
        "owner": "ops",
        "tier": 3,
        "users": 10,
        "domain": "lab",
        "dependencies": [{"to": n} for n in needs],
    }


def _ci(ci_id: str, *needs: str, group: tuple[str, ...] = ()) -> dict[str, Any]:
    deps: list[dict[str, Any]] = [{"to": n} for n in needs]
    if group:
        deps.append({"group": "pool", "quorum": 1, "members": list(group)})
    return {"id": ci_id, "type": "app", "owner": "ops", "dependencies": deps}


CATALOG = Catalog.from_documents(
    [
        (
            "attribution.yaml",
            {
                "version": 1,
                "services": [
                    _service("pool-svc", "pool-app"),
                    _service("front-a", "web-a"),
                    _service("front-b", "web-b"),
                    _service("both", "left", "right"),
                    _service("planned", "plan-db"),
                ],
                "cis": [
                    _ci("node-1"),
                    _ci("node-2"),
                    _ci("pool-app", group=("node-1", "node-2")),
                    _ci("shared-app"),
                    _ci("web-a", "shared-app"),
                    _ci("web-b", "shared-app"),
                    _ci("left"),
                    _ci("right"),
                    _ci("plan-db"),
                ],
            },
        )
    ]
)
WINDOW = Suppressions.from_mapping(
    {
        "maintenance_windows": [
            {
                "id": "db-patching",
                "starts_at": T0.isoformat(),
                "ends_at": (T0 + timedelta(minutes=10)).isoformat(),
                "cis": ["plan-db"],
            }
        ]
    }
)


def engine(suppressions: Suppressions | None = None) -> CorrelationEngine:
    return CorrelationEngine(
        CorrelationContext(CATALOG.graph, suppressions=suppressions or Suppressions())
    )


_n = iter(range(10**6))


def send(e: CorrelationEngine, ci: str, state: State, minutes: float):
    return e.process(
        TelemetryEvent(
            id=f"ev-{next(_n)}", ci_id=ci, state=state, time=T0 + timedelta(minutes=minutes)
        )
    )


def of(health: list[ServiceHealthEvent], service: str) -> list[ServiceHealthEvent]:
    return [h for h in health if h.service_id == service]


# -- grouping: a redundancy group ----------------------------------------------------------------


def test_members_of_one_redundancy_group_are_one_incident_before_the_quorum_breaks() -> None:
    e = engine()
    first = send(e, "node-1", DOWN, 0)
    (opened,) = first.incident_events
    assert opened.action is IncidentAction.OPENED
    assert first.health == []  # one node of two: the pool still serves
    second = send(e, "node-2", DOWN, 1)
    # node-2 has no dependency path to node-1, but both are members of pool-app's group
    assert [(ev.action, ev.incident_id) for ev in second.incident_events] == [
        (IncidentAction.UPDATED, opened.incident_id)
    ]
    assert second.incident_events[0].member_cis == ["node-1", "node-2"]
    (down,) = of(second.health, "pool-svc")
    assert (down.reason, down.state, down.incident_ids) == (
        HealthReason.STATE_CHANGE,
        DOWN,
        [opened.incident_id],
    )


def test_topology_relates_group_siblings_but_not_two_causes_under_one_service() -> None:
    topology = engine().context.topology
    assert topology.related("node-1", "node-2")
    assert not topology.related("left", "right")  # they only share the service
    assert not topology.related("web-a", "web-b")  # they only share a dependency


# -- attribution ---------------------------------------------------------------------------------


def test_a_merge_charges_the_still_impaired_service_to_the_survivor() -> None:
    e = engine()
    a = send(e, "web-a", DOWN, 0)
    b = send(e, "web-b", DOWN, 2)
    incident_a, incident_b = a.incident_events[0].incident_id, b.incident_events[0].incident_id
    assert of(b.health, "front-b")[0].incident_ids == [incident_b]
    merged = send(e, "shared-app", DOWN, 5)
    closed = [ev for ev in merged.incident_events if ev.action is IncidentAction.RESOLVED]
    assert [(ev.incident_id, ev.merged_into) for ev in closed] == [(incident_b, incident_a)]
    survivor = [ev for ev in merged.incident_events if ev.incident_id == incident_a][-1]
    assert survivor.absorbed == [incident_b]
    # front-b stays down; only who is charged changes, stamped with the merge
    (moved,) = merged.health
    assert (moved.service_id, moved.reason, moved.state, moved.previous_state) == (
        "front-b",
        HealthReason.ATTRIBUTION,
        DOWN,
        DOWN,
    )
    assert (moved.incident_id, moved.incident_ids) == (incident_a, [incident_a])
    assert moved.time == T0 + timedelta(minutes=5)


def test_two_causes_of_one_service_are_both_charged_until_one_recovers() -> None:
    e = engine()
    left = send(e, "left", DEGRADED, 0)
    incident_l = left.incident_events[0].incident_id
    assert [(h.reason, h.state, h.incident_ids) for h in left.health] == [
        (HealthReason.STATE_CHANGE, DEGRADED, [incident_l])
    ]
    right = send(e, "right", DOWN, 2)
    incident_r = right.incident_events[0].incident_id
    assert incident_r != incident_l  # no path, no group: two incidents
    # each alone impairs the service: both charged, the one explaining the worse state first
    (worse,) = right.health
    assert (worse.state, worse.incident_ids) == (DOWN, [incident_r, incident_l])
    healed = send(e, "left", OK, 5)
    (moved,) = healed.health
    assert (moved.reason, moved.state, moved.incident_ids) == (
        HealthReason.ATTRIBUTION,
        DOWN,
        [incident_r],
    )
    assert send(e, "left", OK, 6).health == []  # nothing changed: nothing published


def test_planned_work_is_marked_and_the_incident_is_charged_when_the_window_ends() -> None:
    e = engine(WINDOW)
    inside = send(e, "plan-db", DOWN, 6)
    assert inside.incident_events == []
    (planned,) = inside.health
    assert planned.incident_ids == [] and planned.incident_id is None
    assert planned.planned_by == ("maintenance window db-patching until 2026-11-12T10:10:00+00:00")
    ended = e.tick(T0 + timedelta(minutes=11))
    (opened,) = ended.incident_events
    assert opened.action is IncidentAction.OPENED and opened.time == T0 + timedelta(minutes=10)
    (charged,) = ended.health
    assert (charged.reason, charged.time, charged.incident_ids, charged.planned_by) == (
        HealthReason.ATTRIBUTION,
        T0 + timedelta(minutes=10),
        [opened.incident_id],
        None,
    )


def test_a_manual_resolve_leaves_a_still_impaired_service_charged_to_nobody() -> None:
    e = engine()
    incident = send(e, "left", DOWN, 0).incident_events[0].incident_id
    done = e.resolve(incident, T0 + timedelta(minutes=3), command_id="cmd-1")
    (moved,) = done.health
    assert (moved.service_id, moved.reason, moved.incident_ids) == (
        "both",
        HealthReason.ATTRIBUTION,
        [],
    )


def test_service_health_ids_are_those_of_a_replay() -> None:
    def run() -> list[str]:
        e = engine()
        ids = []
        for ci, state, minute in [("web-a", DOWN, 0), ("web-b", DOWN, 2), ("shared-app", DOWN, 5)]:
            ids += [
                h.id
                for h in e.process(
                    TelemetryEvent(
                        id=f"{ci}-{minute}",
                        ci_id=ci,
                        state=state,
                        time=T0 + timedelta(minutes=minute),
                    )
                ).health
            ]
        return ids

    assert run() == run()


@pytest.mark.parametrize("restart_after", [1, 2])
def test_attributions_survive_a_restart(restart_after: int) -> None:
    e = engine()
    steps = [("left", DEGRADED, 0), ("right", DOWN, 2), ("left", OK, 5)]
    published = []
    for n, (ci, state, minute) in enumerate(steps):
        if n == restart_after:
            stored = {k: DomainCorrelator.from_dict(v.to_dict()) for k, v in e.domains.items()}
            e.domains = stored
        published += [(h.reason, h.incident_ids) for h in send(e, ci, state, minute).health]
    assert [reason for reason, _ in published] == [
        HealthReason.STATE_CHANGE,
        HealthReason.STATE_CHANGE,
        HealthReason.ATTRIBUTION,
    ]

"""A known event set over a generated catalog, and what each event must cause. Pure: no I/O.

The catalog pairs every CI with one business service that requires it, each pair its own
correlation domain, so the effect of an event depends only on the events of its own CI before
it. Per CI the events are in time order, a few minutes of event time apart (no flap damping),
with a share that repeats the CI's current state. With confirm_count 1 that makes the expected
outcome of every event a matter of reading the sequence:

- a *state change* (different state from the CI's previous one) is accepted by correlate: one
  `member` entry in the incident timeline and one state-change or recovered row in the impact
  ledger for the CI's service, both carrying the event id as cause;
- a *repeat* of the current state has no effect by design: no timeline entry, no ledger row;
- every CI that fails at least once has exactly one incident, reopened by later failures.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

STATES = ("ok", "degraded", "down")
SPACING = timedelta(minutes=3)
NAMESPACE = uuid.UUID("0f5d8a52-4c1e-4c43-9d0a-7f1b3c2e9a10")


def ci_id(group: str, n: int) -> str:
    return f"{group}-ci-{n:05d}"


def service_id(group: str, n: int) -> str:
    return f"{group}-svc-{n:05d}"


def catalog_document(groups: dict[str, int]) -> dict[str, Any]:
    """One catalog with `count` CI/service pairs for each group name."""
    services: list[dict[str, Any]] = []
    cis: list[dict[str, Any]] = []
    for group, count in groups.items():
        for n in range(count):
            cis.append({"id": ci_id(group, n), "type": "host", "owner": "Fault Team"})
            services.append(
                {
                    "id": service_id(group, n),
                    "name": f"Fault {group} {n}",
                    "owner": "Fault Team",
                    "tier": 3,
                    "users": 10 + n % 90,
                    "domain": "faults",
                    "dependencies": [{"to": ci_id(group, n), "rule": "required"}],
                }
            )
    return {"version": 1, "services": services, "cis": cis}


@dataclass(frozen=True, slots=True)
class Expected:
    ci_id: str
    service_id: str
    state: str


@dataclass
class Workload:
    """The events of one run, in the order each client posts them, and what each must cause."""

    group: str
    cis: list[str]
    clients: list[list[list[dict[str, Any]]]]
    """Per client, its batches in posting order; every CI belongs to exactly one client."""
    changes: dict[str, Expected] = field(default_factory=dict)
    repeats: dict[str, str] = field(default_factory=dict)
    """Event id -> CI id of the events that repeat the current state (no effect expected)."""
    failing_cis: set[str] = field(default_factory=set)

    @property
    def size(self) -> int:
        return len(self.changes) + len(self.repeats)

    @property
    def ids(self) -> set[str]:
        return set(self.changes) | set(self.repeats)


def build_workload(
    group: str,
    n_cis: int,
    events: int,
    *,
    start: datetime,
    clients: int = 4,
    batch_size: int = 500,
    repeat_share: float = 0.25,
    seed: int = 0,
) -> Workload:
    """`events` telemetry events over `n_cis` CIs of `group`, starting at event time `start`."""
    if n_cis < clients:
        raise ValueError(f"need at least one CI per client ({n_cis} CIs, {clients} clients)")
    rng = random.Random(f"{group}/{seed}")
    per_ci = [events // n_cis + (1 if n < events % n_cis else 0) for n in range(n_cis)]
    workload = Workload(group, [ci_id(group, n) for n in range(n_cis)], [])
    streams: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    current: dict[str, str] = {}
    for step in range(max(per_ci)):
        for n in range(n_cis):
            if step >= per_ci[n]:
                continue
            ci, service = ci_id(group, n), service_id(group, n)
            previous = current.get(ci, "ok")
            if rng.random() < repeat_share:
                state = previous
            else:
                state = rng.choice([s for s in STATES if s != previous])
            event_id = str(uuid.uuid5(NAMESPACE, f"{group}/{seed}/{ci}/{step}"))
            at = start + step * SPACING + timedelta(milliseconds=n % 1000)
            event = {
                "id": event_id,
                "ci_id": ci,
                "state": state,
                "time": at.isoformat(),
                "source": "faults",
                "summary": f"{ci} {state} (step {step})",
            }
            streams[n % clients].append(event)
            if state == previous:
                workload.repeats[event_id] = ci
            else:
                workload.changes[event_id] = Expected(ci, service, state)
                current[ci] = state
                if state != "ok":
                    workload.failing_cis.add(ci)
    workload.clients = [
        [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
        for stream in streams
        if stream
    ]
    return workload

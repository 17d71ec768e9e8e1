"""Which incidents are charged with a business service's impairment, and when it is planned.

An active incident is charged with a service while its own failures, on their own, would leave
the service degraded or down: the counterfactual "if only this incident's CIs were failing".
Two incidents can be charged at once (two independent causes under one service); their minutes
are then shared, and the impact engine states the overlap. When no incident on its own explains
the impairment but several do together, each of them is charged. When no incident is charged
and failures covered by a maintenance window or silence explain the impairment, it is planned.

docs/correlation.md, section "Attribution", states the rules with worked examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from impactline.core.catalog import ServiceHealth
from impactline.core.catalog.propagation import SEVERITY
from impactline.core.correlation.incident import Incident
from impactline.core.correlation.records import FailureRecord
from impactline.core.correlation.topology import Topology
from impactline.core.states import State

PLANNED = "\x00planned"
"""Bucket of failures covered by a maintenance window or silence."""
UNATTRIBUTED = "\x00other"
"""Bucket of failures outside any active incident and not covered (e.g. resolved by hand)."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who is charged with a service's impairment. Empty for a service that is not impaired."""

    incidents: tuple[str, ...] = ()
    planned_by: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"incidents": list(self.incidents), "planned_by": self.planned_by}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Attribution:
        incidents = data.get("incidents") or []
        planned = data.get("planned_by")
        if not isinstance(incidents, list) or not all(isinstance(i, str) for i in incidents):
            raise ValueError(f"attribution incidents must be a list of ids, got {incidents!r}")
        if planned is not None and not isinstance(planned, str):
            raise ValueError(f"attribution planned_by must be text, got {planned!r}")
        return cls(tuple(incidents), planned)


NONE = Attribution()


class Attributor:
    """Attributes services for one state of a domain; counterfactual health is computed once
    per bucket and reused for every service asked about."""

    def __init__(
        self,
        topology: Topology,
        records: Mapping[str, FailureRecord],
        active: Iterable[Incident],
        health: ServiceHealth,
        failing_states: Iterable[State],
    ) -> None:
        self.topology = topology
        self.records = records
        self.health = health
        self.failing = frozenset(failing_states)
        self.incidents = {i.id: i for i in active}
        self._buckets: dict[str, dict[str, State]] | None = None
        self._alone: dict[str, ServiceHealth] = {}
        self._reach: dict[str, frozenset[str]] = {}

    def bucket_of(self, record: FailureRecord) -> str:
        if record.incident_id is not None and record.incident_id in self.incidents:
            return record.incident_id
        if record.silence_reason is not None:
            return PLANNED
        return UNATTRIBUTED

    def buckets(self) -> dict[str, dict[str, State]]:
        """CI states of the domain's non-ok CIs, by the bucket each failure belongs to."""
        if self._buckets is None:
            grouped: dict[str, dict[str, State]] = {}
            for ci, record in self.records.items():
                if self.topology.is_ci(ci):
                    grouped.setdefault(self.bucket_of(record), {})[ci] = record.state
            self._buckets = grouped
        return self._buckets

    def attribute(self, service: str) -> Attribution:
        if self.health.state_of(service) not in self.failing:
            return NONE
        buckets = self.buckets()
        reaching = {b: cis for b, cis in buckets.items() if service in self._reach_of(b)}
        if len(reaching) == 1:
            # The only failures that can reach it explain its state.
            alone = {next(iter(reaching)): self.health.state_of(service)}
        else:
            alone = {bucket: self._state_alone(bucket, service) for bucket in reaching}
        explaining = [b for b, state in alone.items() if state in self.failing]
        charged = [b for b in explaining if b in self.incidents]
        if not charged and PLANNED not in explaining:
            # Only together do they impair it (or nothing does on its own): charge them all.
            charged = [
                b
                for b, cis in reaching.items()
                if b in self.incidents and any(service in self.topology.services(c) for c in cis)
            ]
        if charged:
            return Attribution(tuple(sorted(charged, key=lambda b: self._rank(b, alone[b]))))
        if PLANNED in reaching:
            return Attribution((), self._planned_reason(reaching[PLANNED], service))
        return NONE

    def _reach_of(self, bucket: str) -> frozenset[str]:
        """Services the bucket's failures can reach; for an incident its cached reach, which
        also holds what its recovered members reach (harmless: their state alone is ok)."""
        reach = self._reach.get(bucket)
        if reach is None:
            incident = self.incidents.get(bucket)
            if incident is not None:
                reach = incident.reach(self.topology)
            else:
                reach = self.topology.reach(self.buckets()[bucket])
            self._reach[bucket] = reach
        return reach

    def _rank(self, incident_id: str, state: State) -> tuple[int, datetime, str]:
        incident = self.incidents[incident_id]
        return (-SEVERITY[state], incident.opened_at, incident_id)

    def _state_alone(self, bucket: str, service: str) -> State:
        health = self._alone.get(bucket)
        if health is None:
            health = self._alone[bucket] = self.topology.health(self.buckets()[bucket])
        return health.state_of(service)

    def _planned_reason(self, cis: Mapping[str, State], service: str) -> str:
        reasons = sorted(
            {
                reason
                for ci in cis
                if service in self.topology.services(ci)
                and (reason := self.records[ci].silenced_by) is not None
            }
        )
        return "; ".join(reasons)

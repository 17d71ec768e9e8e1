"""One incident: its members, what it affects, its root-cause candidates and suspect changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from impactline.core.contracts import (
    IncidentAction,
    IncidentEvent,
    IncidentState,
    SuspectChange,
    derived_id,
)
from impactline.core.correlation.serial import (
    StateFormatError,
    required_time,
    time_in,
    time_out,
)
from impactline.core.correlation.topology import Topology

ACTIVE = frozenset({IncidentState.OPEN, IncidentState.ACKNOWLEDGED})


def incident_id_for(domain: str, cause_event_id: str) -> str:
    """Derived from the failure that opened it, so a replay opens the same incident."""
    return derived_id("incident", domain, cause_event_id)


@dataclass(slots=True)
class Member:
    """A CI that failed as part of the incident."""

    first_failed: datetime
    last_failed: datetime


@dataclass(slots=True)
class Incident:
    id: str
    domain: str
    opened_at: datetime
    state: IncidentState = IncidentState.OPEN
    members: dict[str, Member] = field(default_factory=dict)
    affected_services: set[str] = field(default_factory=set)
    root_cause_candidates: list[str] = field(default_factory=list)
    suspect_changes: list[SuspectChange] = field(default_factory=list)
    recovered_since: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    reopened: int = 0
    absorbed: list[str] = field(default_factory=list)
    """Ids of incidents merged into this one when a failure joined them together."""
    _reach: tuple[int, Topology, frozenset[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def reach(self, topology: Topology) -> frozenset[str]:
        """Every business service a member can affect; members only ever grow, so their count
        tells whether the cached answer is still right."""
        cached = self._reach
        if cached is None or cached[0] != len(self.members) or cached[1] is not topology:
            cached = (len(self.members), topology, topology.reach(self.members))
            self._reach = cached
        return cached[2]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def view(self) -> tuple[Any, ...]:
        """What consumers see; an `updated` event is due exactly when this changes."""
        return (
            tuple(sorted(self.members)),
            tuple(sorted(self.affected_services)),
            tuple(self.root_cause_candidates),
            tuple(c.change_id for c in self.suspect_changes),
        )

    def add_member(self, ci_id: str, at: datetime) -> None:
        member = self.members.get(ci_id)
        if member is None:
            self.members[ci_id] = Member(at, at)
        else:
            member.first_failed = min(member.first_failed, at)
            member.last_failed = max(member.last_failed, at)

    def rank_root_causes(self, topology: Topology) -> None:
        """Members with no failed member upstream; most depended-on first, then earliest."""
        members = self.members.keys()
        candidates = [m for m in members if topology.upstream(m).isdisjoint(members)]

        def rank(ci_id: str) -> tuple[int, datetime, str]:
            followers = len(topology.dependents(ci_id) & members)  # dict keys act as a set
            return (-followers, self.members[ci_id].first_failed, ci_id)

        self.root_cause_candidates = sorted(candidates, key=rank)

    def collect_suspects(
        self,
        changes: Iterable[SuspectChange],
        topology: Topology,
        lookback: timedelta,
        limit: int,
    ) -> None:
        """Add the changes that happened on a member or anything it needs, at most `lookback`
        before that member failed (and not after its latest failure)."""
        found = {c.change_id: c for c in self.suspect_changes}
        fresh = [c for c in changes if c.change_id not in found]
        if not fresh and not found:
            return
        for change in fresh:
            for ci_id, member in self.members.items():
                if member.first_failed - lookback <= change.time <= member.last_failed and (
                    change.ci_id == ci_id or change.ci_id in topology.upstream(ci_id)
                ):
                    found[change.change_id] = change
                    break
        roots = set(self.root_cause_candidates)
        near_root = roots.union(*(topology.upstream(r) for r in roots)) if roots else set()

        def order(change: SuspectChange) -> tuple[bool, float, str]:
            return (change.ci_id not in near_root, -change.time.timestamp(), change.change_id)

        self.suspect_changes = sorted(found.values(), key=order)[:limit]

    def event(
        self, action: IncidentAction, at: datetime, cause: str, merged_into: str | None = None
    ) -> IncidentEvent:
        """The lifecycle event; its id is derived from the incident, the action and the cause
        (an input event id, a command id or a deterministic decision time)."""
        return IncidentEvent(
            id=derived_id(self.id, action.value, cause),
            incident_id=self.id,
            action=action,
            state=self.state,
            time=at,
            correlation_domain=self.domain,
            affected_services=sorted(self.affected_services),
            member_cis=sorted(self.members),
            root_cause_candidates=list(self.root_cause_candidates),
            suspect_changes=list(self.suspect_changes),
            opened_at=self.opened_at,
            absorbed=list(self.absorbed),
            merged_into=merged_into,
        )

    # -- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "opened_at": self.opened_at.isoformat(),
            "state": self.state.value,
            "members": {
                ci: [m.first_failed.isoformat(), m.last_failed.isoformat()]
                for ci, m in self.members.items()
            },
            "affected_services": sorted(self.affected_services),
            "root_cause_candidates": list(self.root_cause_candidates),
            "suspect_changes": [c.model_dump(mode="json") for c in self.suspect_changes],
            "recovered_since": time_out(self.recovered_since),
            "acknowledged_at": time_out(self.acknowledged_at),
            "resolved_at": time_out(self.resolved_at),
            "reopened": self.reopened,
            "absorbed": list(self.absorbed),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Incident:
        try:
            return cls(
                id=str(d["id"]),
                domain=str(d["domain"]),
                opened_at=required_time(d["opened_at"], "opened_at"),
                state=IncidentState(d["state"]),
                members={
                    ci: Member(
                        required_time(first, f"members.{ci}"), required_time(last, f"members.{ci}")
                    )
                    for ci, (first, last) in d["members"].items()
                },
                affected_services=set(d["affected_services"]),
                root_cause_candidates=list(d["root_cause_candidates"]),
                suspect_changes=[SuspectChange.model_validate(c) for c in d["suspect_changes"]],
                recovered_since=time_in(d["recovered_since"], "recovered_since"),
                acknowledged_at=time_in(d["acknowledged_at"], "acknowledged_at"),
                resolved_at=time_in(d["resolved_at"], "resolved_at"),
                reopened=int(d["reopened"]),
                absorbed=list(d["absorbed"]),
            )
        except StateFormatError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise StateFormatError(f"incident state is incomplete or malformed: {exc!r}") from None

"""Accounting for every event of a workload in the read models and the impact ledger.

What the system shows is read from its own tables: the API's incident read model (timeline
`member` entries, one per CI state change that belongs to an incident, carrying the cause event
id) and the impact worker's ledger (one state-change or recovered row per business service
state change, carrying the cause event id). Accruals and calendar weight changes depend on the
wall clock and are not counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import asyncpg

from tests.faults.load import LoadReport
from tests.faults.workload import Workload

MEMBERS = """
SELECT payload->>'cause_event_id' AS cause, count(*) AS n
FROM incident_timeline
WHERE kind = 'member' AND payload->>'ci_id' LIKE $1
GROUP BY 1
"""
LEDGER = """
SELECT payload->>'cause_event_id' AS cause, service_id, count(*) AS n
FROM impact_ledger
WHERE payload->>'reason' IN ('state-change', 'recovered') AND service_id LIKE $1
GROUP BY 1, 2
"""
INCIDENTS = """
SELECT ci, count(*) AS n
FROM incidents, unnest(member_cis) AS ci
WHERE ci LIKE $1
GROUP BY 1
"""


@dataclass
class Observed:
    members: Counter[str]
    ledger: Counter[tuple[str, str]]
    incidents: Counter[str]


@dataclass(frozen=True)
class Figures:
    """One line of the reliability table."""

    fault: str
    sent: int
    accepted: int
    state_changes: int
    repeats: int
    lost: int
    duplicated: int
    unexpected: int
    incidents: int
    missing_incidents: int
    duplicated_incidents: int
    retried_batches: int
    refusals: dict[str, int]
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def observe(database_url: str, workload: Workload) -> Observed:
    pattern = f"{workload.group}-%"
    conn = await asyncpg.connect(database_url)
    try:
        members = Counter({r["cause"]: r["n"] for r in await conn.fetch(MEMBERS, pattern)})
        ledger = Counter(
            {(r["cause"], r["service_id"]): r["n"] for r in await conn.fetch(LEDGER, pattern)}
        )
        incidents = Counter({r["ci"]: r["n"] for r in await conn.fetch(INCIDENTS, pattern)})
    finally:
        await conn.close()
    return Observed(members, ledger, incidents)


async def wait_until_settled(
    database_url: str,
    workload: Workload,
    timeout_s: float,
    settle_s: float = 3.0,
    alive: Callable[[], None] = lambda: None,
) -> Observed:
    """Poll until every expected effect is there and nothing changed for `settle_s` seconds,
    or until `timeout_s` passed (then the accounting shows what is missing). `alive` raises
    when a process of the system has died: then nothing will settle, and waiting out the
    timeout would only hide why."""
    deadline = time.monotonic() + timeout_s
    expected = len(workload.changes)
    last: tuple[int, int, int] | None = None
    stable_since = time.monotonic()
    while True:
        alive()
        seen = await observe(database_url, workload)
        totals = (seen.members.total(), seen.ledger.total(), seen.incidents.total())
        if totals != last:
            last, stable_since = totals, time.monotonic()
        complete = totals[0] >= expected and totals[1] >= expected
        if complete and time.monotonic() - stable_since >= settle_s:
            return seen
        if time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.5)


def account(
    fault: str, workload: Workload, load: LoadReport, seen: Observed, seconds: float
) -> Figures:
    """Lost: an accepted state change missing from the timeline or the ledger. Duplicated: one
    that shows more than once. Unexpected: an effect of an event that must have none."""
    lost = duplicated = 0
    for event_id, expected in workload.changes.items():
        members = seen.members.get(event_id, 0)
        rows = seen.ledger.get((event_id, expected.service_id), 0)
        if event_id in load.accepted and (members == 0 or rows == 0):
            lost += 1
        if members > 1 or rows > 1:
            duplicated += 1
    known = set(workload.changes)
    unexpected = sum(1 for cause in seen.members if cause not in known)
    unexpected += sum(1 for cause, _ in seen.ledger if cause not in known)
    unexpected += sum(1 for event_id in workload.repeats if event_id in seen.members)
    incidents = sum(seen.incidents.values())
    doubled_incidents = sum(1 for ci in workload.failing_cis if seen.incidents.get(ci, 0) > 1)
    missing_incidents = sum(1 for ci in workload.failing_cis if seen.incidents.get(ci, 0) == 0)
    return Figures(
        fault=fault,
        sent=load.sent,
        accepted=len(load.accepted & workload.ids),
        state_changes=len(workload.changes),
        repeats=len(workload.repeats),
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        incidents=incidents,
        missing_incidents=missing_incidents,
        duplicated_incidents=doubled_incidents,
        retried_batches=load.retried_batches,
        refusals=dict(load.refusals),
        seconds=round(seconds, 1),
    )


def missing_examples(workload: Workload, seen: Observed, limit: int = 5) -> list[str]:
    """A few accepted state changes that left no trace, for the failure message."""
    out = []
    for event_id, expected in workload.changes.items():
        members = seen.members.get(event_id, 0)
        rows = seen.ledger.get((event_id, expected.service_id), 0)
        if members != 1 or rows != 1:
            out.append(
                f"{event_id} ({expected.ci_id} -> {expected.state}): {members} timeline, "
                f"{rows} ledger"
            )
            if len(out) >= limit:
                break
    return out

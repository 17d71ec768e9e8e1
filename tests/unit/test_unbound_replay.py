"""Replaying unbound events: what binds now goes out with its own id, marked bound."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from impactline.core import topics
from impactline.core.binding import Binder
from impactline.core.catalog import Catalog
from impactline.core.contracts import (
    ChangeEvent,
    TelemetryEvent,
    UnboundEvent,
    UnboundKind,
    UnboundStatus,
)
from impactline.ingest.binding import bind_events
from impactline.ingest.unbound import UnboundLog, rebind_all

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RULES = [
    {
        "name": "host",
        "inputs": ["alertmanager"],
        "labels": ["instance"],
        "normalise": ["strip-port"],
    }
]


def catalog(*aliases: str) -> Catalog:
    ci: dict[str, Any] = {"id": "db-late-01", "type": "database", "owner": "DBA"}
    if aliases:
        ci["aliases"] = list(aliases)
    return Catalog.from_documents([("c.yaml", {"cis": [ci], "bindings": RULES})])


def kept(events: list[Any], input_name: str, binder: Binder) -> list[UnboundEvent]:
    result = bind_events(binder, input_name, events, now=NOW)
    return result.unbound


def test_events_that_bind_now_keep_their_id_and_are_marked_bound() -> None:
    alert = TelemetryEvent(
        id="evt-1",
        ci_id="late.corp:9100",
        state="down",
        time=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        attributes={"instance": "late.corp:9100"},
        source="alertmanager",
    )
    # A webhook's key is kept as sent, spaces and all (see adapters.webhook).
    monitor = TelemetryEvent(id="evt-2", ci_id="late", state="ok", time=NOW, source="kuma")
    monitor = monitor.model_copy(update={"ci_id": "Late DB"})
    change = ChangeEvent(id="chg-1", ci_id="late-db", time=NOW, summary="upgrade")
    before = Binder(catalog(), version=1)
    waiting = [
        *kept([alert], "alertmanager", before),
        *kept([monitor], "uptime-kuma", before),
        *kept([change], "changes", before),
    ]
    assert [w.kind for w in waiting] == [
        UnboundKind.TELEMETRY,
        UnboundKind.TELEMETRY,
        UnboundKind.CHANGE,
    ]
    # A person adds aliases; the replay binds with the new version.
    after = Binder(catalog("late.corp", "Late DB"), version=2)
    batches, report = rebind_all(after, waiting, NOW)
    assert (report.bound, report.still_waiting, report.catalog_version) == (2, 1, 2)
    [(key, telemetry), (_, monitor_again)] = batches[topics.TELEMETRY]
    assert isinstance(telemetry, TelemetryEvent) and telemetry.binding is not None
    assert (telemetry.id, telemetry.ci_id, key) == ("evt-1", "db-late-01", "dom-db-late-01")
    assert telemetry.time == alert.time and telemetry.state == alert.state
    assert (telemetry.binding.rule, telemetry.binding.key, telemetry.binding.catalog_version) == (
        "host",
        "late.corp:9100",
        2,
    )
    assert isinstance(monitor_again, TelemetryEvent) and monitor_again.id == "evt-2"
    assert monitor_again.binding is not None and monitor_again.binding.via == "alias"
    marks = [m for _, m in batches[topics.UNBOUND]]
    assert all(isinstance(m, UnboundEvent) for m in marks)
    assert [(m.id, m.status, m.ci_id) for m in marks] == [  # type: ignore[attr-defined]
        ("evt-1", UnboundStatus.BOUND, "db-late-01"),
        ("evt-2", UnboundStatus.BOUND, "db-late-01"),
    ]
    assert report.reasons == {
        "late-db": "no CI id or alias is 'late-db', and no binding rule applies to input 'changes'"
    }
    assert report.by_rule == {"host": 1, "key": 1}


def test_a_bound_record_hides_the_waiting_one_so_a_second_replay_does_nothing() -> None:
    first = UnboundEvent(
        id="evt-1",
        kind=UnboundKind.TELEMETRY,
        input="native",
        key="x",
        event={"id": "evt-1", "ci_id": "x", "state": "down", "time": NOW.isoformat()},
        reason="no",
        catalog_version=1,
        time=NOW,
    )
    log = UnboundLog()
    log.latest["evt-1"] = first
    assert log.waiting() == [first]
    log.latest["evt-1"] = first.model_copy(update={"status": UnboundStatus.BOUND})
    assert log.waiting() == []
    assert log.waiting(input_name="native") == []

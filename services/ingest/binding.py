"""Binding in ingest: each telemetry event and change record is bound to a catalog CI before it
is published; what no binding finds a CI for is kept on the `unbound` topic instead.

The binder follows the catalog ingest holds (`CatalogHolder`, switched by the catalog topic), so
an alias or rule added to the catalog applies to the next event without a restart. Counts per
input and rule, and per input and unmatched key, are Prometheus metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError

from impactline.core.binding import Binder, Bound, Outcome, Subject
from impactline.core.contracts import (
    Binding,
    ChangeEvent,
    Contract,
    Identifier,
    TelemetryEvent,
    UnboundEvent,
    UnboundKind,
)
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion

BOUND_EVENTS = Counter(
    "impactline_ingest_bound_events_total",
    "Events bound to a catalog CI, by input and binding rule (`key`: named by id or alias).",
    ["input", "rule"],
)
UNBOUND_EVENTS = Counter(
    "impactline_ingest_unbound_events_total",
    "Events no binding found a CI for, kept on the unbound topic, by input and the key the "
    f"source named (past {500} keys per input the rest count as `other`).",
    ["input", "key"],
)
MAX_KEYS_PER_INPUT = 500
_MAX_TEXT = 1000
_KINDS: dict[type[Contract], UnboundKind] = {
    TelemetryEvent: UnboundKind.TELEMETRY,
    ChangeEvent: UnboundKind.CHANGE,
}
_CONTRACTS = {kind: contract for contract, kind in _KINDS.items()}
_identifier: TypeAdapter[str] = TypeAdapter(Identifier)


class BindingState:
    """The binder of the catalog version held now, rebuilt when the holder switches."""

    def __init__(self, holder: CatalogHolder) -> None:
        self._binder = _binder(holder.current)
        holder.on_switch(self._switch)

    @property
    def binder(self) -> Binder:
        return self._binder

    def _switch(self, version: CatalogVersion) -> None:
        self._binder = _binder(version)


def _binder(version: CatalogVersion) -> Binder:
    return Binder(version.catalog, version.version)


@dataclass(slots=True)
class BindResult:
    """The events to publish, bound where a CI was found, `UnboundEvent` where not."""

    events: list[Any] = field(default_factory=list)
    bound: int = 0
    unbound: list[UnboundEvent] = field(default_factory=list)


def subject_of(input_name: str, event: TelemetryEvent | ChangeEvent) -> Subject:
    """What binding sees of an event: its attributes as labels, plus `@source` (who reported
    it) and `@metric` for telemetry, `@kind` for a change."""
    if isinstance(event, TelemetryEvent):
        return Subject(
            input_name, event.ci_id, _labels(event.attributes, event.source, event.metric)
        )
    return Subject(input_name, event.ci_id, {"@source": event.source, "@kind": event.kind.value})


def _labels(attributes: dict[str, str], source: str, metric: str | None) -> dict[str, str]:
    labels = {**attributes, "@source": source}
    if metric:
        labels["@metric"] = metric
    return labels


def bind_events(
    binder: Binder | None, input_name: str, events: Iterable[Any], *, now: datetime
) -> BindResult:
    """Bind every telemetry event and change record; other events pass unchanged.

    Without a binder (no catalog: a trial without a broker), events that name a valid id pass
    as they are and the rest wait as unbound."""
    out = BindResult()
    for event in events:
        kind = _KINDS.get(type(event))
        if kind is None:
            out.events.append(event)
            continue
        if binder is None:
            if _valid_id(event.ci_id):
                out.events.append(event)
                continue
            kept = unbound_event(
                event, input_name, None, catalog_version=0, now=now, why="no catalog is loaded"
            )
        else:
            outcome = binder.bind(subject_of(input_name, event))
            if isinstance(outcome, Bound):
                out.events.append(
                    bound_event(event, input_name, event.ci_id, outcome, binder.version)
                )
                out.bound += 1
                BOUND_EVENTS.labels(input_name, outcome.rule).inc()
                continue
            kept = unbound_event(event, input_name, outcome, binder.version, now=now)
        out.events.append(kept)
        out.unbound.append(kept)
        UNBOUND_EVENTS.labels(input_name, _counted_key(input_name, kept.key)).inc()
    return out


def bound_event(
    event: TelemetryEvent | ChangeEvent,
    input_name: str,
    key: str,
    bound: Bound,
    catalog_version: int,
) -> TelemetryEvent | ChangeEvent:
    """The event with its CI and how it was bound; `key` is what the source named."""
    # Built without validation on the hot path: every value is known to fit the contract
    # (texts are cut to their limits, rule names and vias come from the validated catalog).
    binding = Binding.model_construct(
        rule=bound.rule,
        input=input_name,
        key=key[:_MAX_TEXT],
        value=bound.value[:_MAX_TEXT],
        via=bound.via,
        catalog_version=catalog_version,
        correlation_domain=bound.correlation_domain,
    )
    return event.model_copy(update={"ci_id": bound.ci_id, "binding": binding})


def unbound_event(
    event: TelemetryEvent | ChangeEvent,
    input_name: str,
    outcome: Outcome | None,
    catalog_version: int,
    *,
    now: datetime,
    why: str = "",
) -> UnboundEvent:
    reason = why or getattr(outcome, "reason", "")
    return UnboundEvent(
        id=event.id,
        kind=_KINDS[type(event)],
        input=input_name,
        key=event.ci_id[:_MAX_TEXT],
        event=event.model_dump(mode="json", exclude={"binding"}),
        reason=reason,
        candidates=list(getattr(outcome, "candidates", ())),
        catalog_version=catalog_version,
        time=now,
    )


def rebind(binder: Binder, kept: UnboundEvent) -> TelemetryEvent | ChangeEvent | Outcome:
    """The event of an unbound record bound with `binder` (same id, time and content as first
    translated), or the outcome saying why it is still unbound."""
    data = kept.event
    if kept.kind is UnboundKind.TELEMETRY:
        labels = _labels(data.get("attributes") or {}, data.get("source", ""), data.get("metric"))
    else:
        labels = {"@source": data.get("source", ""), "@kind": data.get("kind", "")}
    outcome = binder.bind(Subject(kept.input, kept.key, labels))
    if not isinstance(outcome, Bound):
        return outcome
    event = _CONTRACTS[kept.kind].model_validate({**data, "ci_id": outcome.ci_id})
    assert isinstance(event, TelemetryEvent | ChangeEvent)
    return bound_event(event, kept.input, kept.key, outcome, binder.version)


def summary(result: BindResult, limit: int = 50) -> dict[str, Any]:
    """The members of ingest's answer about binding: how many were bound, how many wait, and
    per waiting key the number of events and the closest CI ids."""
    keys: dict[str, dict[str, Any]] = {}
    for kept in result.unbound:
        entry = keys.get(kept.key)
        if entry is None:
            if len(keys) >= limit:
                continue
            entry = keys[kept.key] = {"key": kept.key, "events": 0, "closest": kept.candidates}
        entry["events"] += 1
    answer: dict[str, Any] = {"bound": result.bound, "unbound": len(result.unbound)}
    if keys:
        answer["unbound_keys"] = list(keys.values())
    return answer


_seen_keys: dict[str, set[str]] = {}


def _counted_key(input_name: str, key: str) -> str:
    """The metric label of a key: itself for the first keys of an input, then `other`, so a
    source sending endless distinct names cannot blow up the metrics."""
    seen = _seen_keys.setdefault(input_name, set())
    if key in seen:
        return key
    if len(seen) >= MAX_KEYS_PER_INPUT:
        return "other"
    seen.add(key)
    return key


def _valid_id(value: str) -> bool:
    try:
        _identifier.validate_python(value)
    except ValidationError:
        return False
    return True

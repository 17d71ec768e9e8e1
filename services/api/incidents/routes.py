"""Incident routes: list and inspect the read model; acknowledge and resolve via commands.

Commands go on the `incident-commands` topic keyed by correlation domain, so the correlate worker
that owns the incident applies them in order with everything else that happens to it; the answer
is 202 and the incident shows the change once the worker has applied it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from impactline.api.incidents.store import IncidentFilter, IncidentStore
from impactline.api.responses import QueryTime
from impactline.core import topics
from impactline.core.contracts import (
    IncidentCommand,
    IncidentCommandAction,
    IncidentState,
    Priority,
    SuspectChange,
)
from impactline.core.whatif.hindsight import weigh
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.kafka import publish
from impactline.runtime.problems import Problem

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


class AssessmentCheckDoc(BaseModel):
    """A suspect change's recorded assessment beside what the incident has cost so far."""

    incident_business_impact_minutes: float
    share_of_worst_case: float | None = Field(
        description="The incident's minutes over the assessed worst case; null if that was 0."
    )
    beyond_worst_case: bool
    note: str = Field(examples=["assessed worst case 88,290 business impact minutes ..."])


class SuspectChangeView(SuspectChange):
    against_assessment: AssessmentCheckDoc | None = Field(
        default=None,
        description="Set when the change was recorded with its assessment (`/v1/changes`).",
    )


def with_assessments(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each assessed suspect change weighed against the incident's minutes."""
    views = []
    for change in row["suspect_changes"]:
        view = SuspectChangeView.model_validate(change)
        if view.assessment is not None:
            check = weigh(view.assessment, row["business_impact_minutes"])
            doc = AssessmentCheckDoc(
                incident_business_impact_minutes=check.incident_minutes,
                share_of_worst_case=check.share_of_worst_case,
                beyond_worst_case=check.beyond_worst_case,
                note=check.note,
            )
            view = view.model_copy(update={"against_assessment": doc})
        views.append(view)
    return {**row, "suspect_changes": views}


class Incident(BaseModel):
    incident_id: str
    correlation_domain: str
    state: IncidentState
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    affected_services: list[str]
    member_cis: list[str]
    root_cause_candidates: list[str]
    suspect_changes: list[SuspectChangeView]
    priority: Priority | None = Field(
        description="The best priority of the impact while charged to this incident (or to "
        "one merged into it)."
    )
    high_visibility: bool
    business_impact_minutes: float = Field(
        description="Every impact episode's minutes charged to this incident or to one merged "
        "into it, summed (docs/correlation.md, Attribution)."
    )
    shared_impact_minutes: float = Field(
        description="The part of `business_impact_minutes` also charged to `shared_with`: "
        "minutes when both incidents' causes, each on its own, impaired the same service."
    )
    shared_with: list[str] = Field(description="Other incidents charged with the same minutes.")
    absorbed: list[str] = Field(description="Incidents merged into this one.")
    merged_into: str | None = Field(
        description="Set when a merge closed this incident: the survivor, which carries its "
        "impact and priority from then on."
    )


class ServiceCharge(BaseModel):
    """The incident's business impact minutes on one business service."""

    service_id: str
    business_impact_minutes: float
    shared_impact_minutes: float
    priority: Priority | None


class TimelineEntry(BaseModel):
    event_id: str
    event_time: datetime
    kind: Literal["incident", "member", "impact"]
    action: str
    summary: str


class IncidentDetail(Incident):
    impact_by_service: list[ServiceCharge]
    timeline: list[TimelineEntry]


class IncidentPage(BaseModel):
    items: list[Incident]
    next: str | None = Field(description="URL of the next page, if any.")


class CommandAccepted(BaseModel):
    command_id: str
    incident_id: str
    action: IncidentCommandAction
    status: Literal["accepted"] = "accepted"


class CommandBody(BaseModel):
    note: str = Field(default="", max_length=2000)


def incident_store(request: Request) -> IncidentStore:
    return request.app.state.incident_store


Store = Annotated[IncidentStore, Depends(incident_store)]
Reader = Annotated[Principal, Depends(require_scope("read"))]
# Deep pages cost the database a scan of everything skipped; filters find old incidents.
MAX_OFFSET = 100_000
Operator = Annotated[Principal, Depends(require_scope("admin"))]


@router.get("", summary="Incidents, newest first, with filters")
async def list_incidents(
    request: Request,
    store: Store,
    _: Reader,
    state: IncidentState | None = None,
    service: str | None = Query(default=None, description="Affected business service id."),
    priority: Priority | None = None,
    since: QueryTime | None = Query(default=None, description="Opened at or after."),
    until: QueryTime | None = Query(default=None, description="Opened before."),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(
        default=0, ge=0, le=MAX_OFFSET, description="Incidents to skip; narrow with filters."
    ),
) -> IncidentPage:
    where = IncidentFilter(
        state=state.value if state else None,
        service=service,
        priority=priority,
        since=since,
        until=until,
    )
    rows = await store.list(where, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    next_url = (
        str(request.url.include_query_params(offset=offset + limit, limit=limit)) if more else None
    )
    return IncidentPage(
        items=[Incident(**with_assessments(r)) for r in rows[:limit]], next=next_url
    )


@router.get("/{incident_id}", summary="One incident with its timeline")
async def get_incident(incident_id: str, store: Store, _: Reader) -> IncidentDetail:
    row = await _existing(store, incident_id)
    timeline = [TimelineEntry(**t) for t in await store.timeline(incident_id)]
    services = [ServiceCharge(**c) for c in await store.by_service(incident_id, row["absorbed"])]
    return IncidentDetail(**with_assessments(row), impact_by_service=services, timeline=timeline)


@router.post("/{incident_id}/ack", status_code=202, summary="Acknowledge an open incident")
async def acknowledge(
    incident_id: str, request: Request, store: Store, who: Operator, body: CommandBody | None = None
) -> CommandAccepted:
    return await _command(request, store, who, incident_id, IncidentCommandAction.ACKNOWLEDGE, body)


@router.post("/{incident_id}/resolve", status_code=202, summary="Resolve an incident by hand")
async def resolve(
    incident_id: str, request: Request, store: Store, who: Operator, body: CommandBody | None = None
) -> CommandAccepted:
    return await _command(request, store, who, incident_id, IncidentCommandAction.RESOLVE, body)


async def _existing(store: IncidentStore, incident_id: str) -> dict[str, Any]:
    row = await store.get(incident_id)
    if row is None:
        raise Problem(404, "Incident not found", f"no incident {incident_id!r}", kind="not-found")
    return row


async def _command(
    request: Request,
    store: IncidentStore,
    who: Principal,
    incident_id: str,
    action: IncidentCommandAction,
    body: CommandBody | None,
) -> CommandAccepted:
    row = await _existing(store, incident_id)
    if row["state"] == IncidentState.RESOLVED.value:
        raise Problem(
            409,
            "Incident already resolved",
            f"incident {incident_id!r} was resolved at {row['resolved_at']:%Y-%m-%d %H:%M:%S %Z}",
            kind="conflict",
        )
    state = request.app.state
    command = IncidentCommand(
        incident_id=incident_id,
        # Stamped on the read model's clock, which follows the incident's own events: an
        # acknowledgement of a replayed incident is not days after it in event time.
        time=await state.health_model.store.now(),
        correlation_domain=row["correlation_domain"],
        action=action,
        requested_by=who.key_id,
        note=body.note if body else "",
    )
    await publish(
        state.producer,
        topics.INCIDENT_COMMANDS,
        command,
        key=command.correlation_domain,
        source="impactline/api",
        prefix=state.settings.topic_prefix,
    )
    return CommandAccepted(command_id=command.id, incident_id=incident_id, action=action)

"""Service status, impact timelines, XLA history, impact minutes and value-stream figures.

Every figure is computed at the read model's current time (`as_of`) unless the request names
another time, so a replay or scenario stamped days away from today reads as it happened.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import TypeAdapter, ValidationError

from impactline.api.health_model.board import HealthModel
from impactline.api.health_model.models import (
    ImpactEntry,
    ImpactSeries,
    ImpactTimeline,
    ServiceStatus,
    ServiceStatusPage,
    ValueStream,
    XlaHistory,
)
from impactline.api.pagination import decode_cursor, encode_cursor, page_after
from impactline.api.responses import READ_ERRORS, QueryTime, problem
from impactline.api.routes_services import current_snapshot
from impactline.core.catalog import BusinessService
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.problems import Problem

router = APIRouter()
Reader = Annotated[Principal, Depends(require_scope("read"))]
NOT_FOUND = {**READ_ERRORS, 404: problem("No such service or incident, or no catalog yet")}

_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([wdhms])$")
_ISO = TypeAdapter(timedelta)


def parse_span(text: str, field: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w`, `45s` or an ISO 8601 duration such as `P30D` or `PT6H`."""
    found = _SPAN.match(text.strip())
    try:
        span = (
            timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})
            if found
            else _ISO.validate_python(text.strip())
        )
    except (ValidationError, ValueError, OverflowError):
        span = timedelta(0)
    if span <= timedelta(0) or span > timedelta(days=3660):
        raise Problem(
            422,
            "Invalid duration",
            f"{field}={text!r}: expected a positive duration up to ten years such as 30d, 12h, "
            "90m or P30D",
            kind="validation",
            errors=[{"pointer": f"#/query/{field}", "field": field, "detail": "invalid duration"}],
        )
    return span


def health_model(request: Request) -> HealthModel:
    return request.app.state.health_model


Model = Annotated[HealthModel, Depends(health_model)]
WindowQuery = Annotated[
    str, Query(description="Rolling window of the XLA score and error budget, e.g. 30d, 12h.")
]


def _service(snapshot_services: dict[str, BusinessService], service_id: str) -> BusinessService:
    service = snapshot_services.get(service_id)
    if service is None:
        raise Problem(
            404,
            "Unknown service",
            f"the catalog has no business service {service_id!r}; GET /v1/services lists them",
            kind="unknown-service",
        )
    return service


def _in_domain(services: list[BusinessService], domain: str | None) -> list[BusinessService]:
    return [s for s in services if domain is None or s.domain == domain]


@router.get(
    "/v1/service-status",
    tags=["service status"],
    summary="Business services with their state, impact, calendar weight, XLA and error budget",
    description="Active, user-facing services sorted by id, optionally of one business domain. "
    "State comes from service-health events, impact from impact events, the calendar period "
    "and weight from the service's business calendar at `as_of`; the XLA score and error "
    "budget cover the rolling `window` ending at `as_of`.",
    responses=NOT_FOUND,
)
async def list_status(
    request: Request,
    model: Model,
    _: Reader,
    domain: Annotated[str | None, Query(description="Business domain, e.g. finance.")] = None,
    window: WindowQuery = "30d",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="From the previous page's `next`.")] = None,
) -> ServiceStatusPage:
    span = parse_span(window, "window")
    snapshot = await current_snapshot(request)
    services = _in_domain(snapshot.views["catalog"][1], domain)
    page = page_after([s.id for s in services], services, cursor, limit)
    now = await model.store.now()
    next_url = None
    if page.next_cursor is not None:
        query = {"window": window, "limit": limit, "cursor": page.next_cursor}
        if domain:
            query["domain"] = domain
        next_url = f"{request.url.path}?{urlencode(query)}"
    return ServiceStatusPage(
        as_of=now,
        window=window,
        total=len(services),
        items=await model.status(page.items, now, span),
        next=next_url,
    )


@router.get(
    "/v1/service-status/{service_id}",
    tags=["service status"],
    summary="One business service's state, impact, calendar weight, XLA and error budget",
    responses=NOT_FOUND,
)
async def one_status(
    request: Request, service_id: str, model: Model, _: Reader, window: WindowQuery = "30d"
) -> ServiceStatus:
    span = parse_span(window, "window")
    snapshot = await current_snapshot(request)
    service = _service(snapshot.catalog.services, service_id)
    (status,) = await model.status([service], await model.store.now(), span)
    return status


def _timeline_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    at, _, event_id = decode_cursor(cursor).partition("|")
    try:
        return datetime.fromisoformat(at), event_id
    except ValueError:
        decode_cursor("")  # raises the invalid-cursor problem
        raise


async def _timeline(
    request: Request,
    model: HealthModel,
    *,
    service_id: str | None = None,
    incident_id: str | None = None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> ImpactTimeline:
    rows = await model.store.impact_timeline(
        service_id=service_id,
        incident_id=incident_id,
        since=since,
        until=until,
        after=_timeline_cursor(cursor),
        limit=limit + 1,
    )
    items = [ImpactEntry(**dict(r), time=r["event_time"]) for r in rows[:limit]]
    next_url = None
    if len(rows) > limit:
        last = items[-1]
        mark = encode_cursor(f"{last.time.isoformat()}|{last.event_id}")
        next_url = str(request.url.include_query_params(cursor=mark, limit=limit))
    return ImpactTimeline(items=items, next=next_url)


Since = Annotated[QueryTime | None, Query(description="At or after this time.")]
Until = Annotated[QueryTime | None, Query(description="Before this time.")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(description="From the previous page's `next`.")]


@router.get(
    "/v1/services/{service_id}/impact",
    tags=["impact"],
    summary="Impact timeline of a business service",
    description="Every impact event of the service (state changes, calendar weight changes, "
    "accruals, recoveries), oldest first.",
    responses=NOT_FOUND,
)
async def service_impact(
    request: Request,
    service_id: str,
    model: Model,
    _: Reader,
    since: Since = None,
    until: Until = None,
    limit: Limit = 200,
    cursor: Cursor = None,
) -> ImpactTimeline:
    snapshot = await current_snapshot(request)
    _service(snapshot.catalog.services, service_id)
    return await _timeline(
        request,
        model,
        service_id=service_id,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/v1/incidents/{incident_id}/impact",
    tags=["impact"],
    summary="Impact timeline of an incident",
    description="The impact events of every business service the incident affected, oldest first.",
    responses=NOT_FOUND,
)
async def incident_impact(
    request: Request,
    incident_id: str,
    model: Model,
    _: Reader,
    limit: Limit = 200,
    cursor: Cursor = None,
) -> ImpactTimeline:
    if not await model.store.impact_exists(incident_id):
        raise Problem(404, "Incident not found", f"no incident {incident_id!r}", kind="not-found")
    return await _timeline(
        request,
        model,
        incident_id=incident_id,
        since=None,
        until=None,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/v1/services/{service_id}/xla",
    tags=["service status"],
    summary="XLA score history of a business service",
    description="`points` scores `step` apart, the last at `until` (default: now), each over "
    "the rolling `window` before it. `next` pages back in time.",
    responses=NOT_FOUND,
)
async def xla_history(
    request: Request,
    service_id: str,
    model: Model,
    _: Reader,
    window: WindowQuery = "30d",
    step: Annotated[str, Query(description="Time between two points, e.g. 1d, 1h.")] = "1d",
    points: Annotated[int, Query(ge=1, le=200)] = 30,
    until: Annotated[QueryTime | None, Query(description="Time of the last point.")] = None,
) -> XlaHistory:
    span, pace = parse_span(window, "window"), parse_span(step, "step")
    snapshot = await current_snapshot(request)
    service = _service(snapshot.catalog.services, service_id)
    end = until or await model.store.now()
    items = await model.xla_history(service, end, span, pace, points)
    earlier = end - pace * points
    query = urlencode(
        {"window": window, "step": step, "points": points, "until": earlier.isoformat()}
    )
    return XlaHistory(
        service_id=service_id,
        window=window,
        step_seconds=pace.total_seconds(),
        items=items,
        next=f"{request.url.path}?{query}",
    )


@router.get(
    "/v1/impact/minutes",
    tags=["impact"],
    summary="Business impact minutes over time",
    description="What accrued in each of `buckets` equal slices of [since, until), across the "
    "active services of a business domain, one service, or all of them. `weighted_minutes` is "
    "the part accrued in calendar periods of weight other than 1.",
    responses=NOT_FOUND,
)
async def impact_minutes(
    request: Request,
    model: Model,
    _: Reader,
    domain: Annotated[str | None, Query(description="Business domain.")] = None,
    service: Annotated[str | None, Query(description="Business service id.")] = None,
    since: Annotated[QueryTime | None, Query(description="Default: 30 days before until.")] = None,
    until: Annotated[QueryTime | None, Query(description="Default: now.")] = None,
    buckets: Annotated[int, Query(ge=1, le=500)] = 30,
) -> ImpactSeries:
    snapshot = await current_snapshot(request)
    scope = _in_domain(snapshot.views["catalog"][1], domain)
    if service is not None:
        scope = [_service(snapshot.catalog.services, service)]
    now = await model.store.now()
    end = until or now
    start = since or end - timedelta(days=30)
    _ordered(start, end)
    total, slices = await model.series(scope, start, end, buckets)
    return ImpactSeries(
        as_of=now,
        since=start,
        until=end,
        total_minutes=total.minutes,
        weighted_minutes=total.weighted_minutes,
        buckets=slices,
    )


def _ordered(since: datetime, until: datetime) -> None:
    if since >= until:
        raise Problem(
            422,
            "Invalid time range",
            f"since ({since.isoformat()}) must be before until ({until.isoformat()})",
            kind="validation",
            errors=[{"pointer": "#/query/since", "field": "since", "detail": "not before until"}],
        )


@router.get(
    "/v1/value-stream",
    tags=["value stream"],
    summary="Time to detect, acknowledge and resolve; availability against the SLO",
    description="For one business service (`service`) or every active service of a business "
    "domain (`domain`) over [since, until) (default: the 30 days before now): median and p90 "
    "time to detect (first accepted CI failure -> incident opened), acknowledge and resolve of "
    "the incidents opened in the window; availability against each service's SLO; every "
    "incident that spent error budget; and the share of business impact minutes that fell in "
    "weighted calendar periods. Services are paged with `limit` and `cursor`; the flow figures "
    "always cover the whole scope.",
    responses={**NOT_FOUND, 422: problem("Neither or both of service and domain, or a bad range")},
)
async def value_stream(
    request: Request,
    model: Model,
    _: Reader,
    service: Annotated[str | None, Query(description="Business service id.")] = None,
    domain: Annotated[str | None, Query(description="Business domain.")] = None,
    since: Annotated[QueryTime | None, Query(description="Default: 30 days before until.")] = None,
    until: Annotated[QueryTime | None, Query(description="Default: now.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> ValueStream:
    if (service is None) == (domain is None):
        raise Problem(
            422,
            "Choose a service or a domain",
            "give exactly one of `service` (a business service id) or `domain` (a business "
            "domain such as finance)",
            kind="validation",
            errors=[{"pointer": "#/query/service", "field": "service", "detail": "one of two"}],
        )
    snapshot = await current_snapshot(request)
    if service is not None:
        scope = [_service(snapshot.catalog.services, service)]
    else:
        scope = _in_domain(snapshot.views["catalog"][1], domain)
        if not scope:
            raise Problem(
                404,
                "Unknown domain",
                f"no active, user-facing service is in business domain {domain!r}",
                kind="unknown-domain",
            )
    end = until or await model.store.now()
    start = since or end - timedelta(days=30)
    _ordered(start, end)
    page = page_after([s.id for s in scope], scope, cursor, limit)
    figures = await model.value_stream(scope, page.items, start, end)
    next_url = (
        str(request.url.include_query_params(cursor=page.next_cursor, limit=limit))
        if page.next_cursor
        else None
    )
    return ValueStream(
        service=service, domain=domain, since=start, until=end, next=next_url, **figures
    )

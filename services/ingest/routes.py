"""HTTP routes of ingest: one thin route per input format, plus health and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from impactline.ingest import formats
from impactline.ingest import openapi as doc
from impactline.ingest.access import IngestPrincipal, PagerDutyPrincipal
from impactline.ingest.intake import Format, handle, state_of
from impactline.runtime.auth import Principal
from impactline.runtime.problems import Problem
from impactline.runtime.tasks import tasks_ready

router = APIRouter()


@router.post(
    "/v1/events",
    status_code=202,
    response_model=None,
    summary="Telemetry in impactline's own format: one event, a JSON array, or NDJSON",
    responses=doc.answers(),
    openapi_extra=doc.with_parameters(doc.NATIVE_BODY),
)
async def post_events(request: Request, principal: Principal = IngestPrincipal) -> Response:
    return await handle(request, principal, formats.NATIVE)


@router.post(
    "/v1/alertmanager",
    status_code=202,
    response_model=None,
    summary="Prometheus Alertmanager webhook (payload version 4)",
    responses=doc.answers(),
    openapi_extra=doc.with_parameters(doc.ALERTMANAGER_BODY),
)
async def post_alertmanager(request: Request, principal: Principal = IngestPrincipal) -> Response:
    return await handle(request, principal, formats.ALERTMANAGER)


@router.post(
    "/v1/cloudevents",
    status_code=202,
    response_model=None,
    summary="CloudEvents 1.0 over HTTP: structured, batched or binary content mode",
    responses=doc.answers(),
    openapi_extra=doc.with_parameters(
        doc.CLOUDEVENTS_BODY,
        *(
            {"name": f"ce-{name}", "in": "header", "required": False, "schema": {"type": "string"}}
            for name in ("specversion", "id", "source", "type", "subject", "time")
        ),
    ),
)
async def post_cloudevents(request: Request, principal: Principal = IngestPrincipal) -> Response:
    return await handle(request, principal, request.app.state.cloudevents)


@router.post(
    "/v1/webhooks/{name}",
    status_code=202,
    response_model=None,
    summary="Any tool's JSON webhook, through the named mapping (JMESPath fields, state table)",
    description="Mappings are YAML files (`IMPACTLINE_INGEST_WEBHOOKS`, by default "
    "`deploy/webhooks/`: `grafana`, `zabbix`, `uptime-kuma`). An unknown name is 404 and "
    "lists the names there are.",
    responses=doc.answers(not_found=True),
    openapi_extra=doc.with_parameters(doc.WEBHOOK_BODY),
)
async def post_webhook(
    name: str, request: Request, principal: Principal = IngestPrincipal
) -> Response:
    found: dict[str, Format] = request.app.state.webhooks
    fmt = found.get(name)
    if fmt is None:
        known = ", ".join(sorted(found)) or "none (see IMPACTLINE_INGEST_WEBHOOKS)"
        raise Problem(
            404,
            "Unknown webhook mapping",
            f"no webhook mapping is named {name!r}; the mappings are: {known}",
            kind="unknown-webhook",
        )
    return await handle(request, principal, fmt)


@router.post(
    "/v2/enqueue",
    status_code=202,
    response_model=None,
    summary="PagerDuty Events API v2-compatible: the API key may be the `routing_key`",
    responses=doc.answers(doc.PAGERDUTY_ACCEPTED, invalid=400),
    openapi_extra=doc.with_parameters(doc.PAGERDUTY_BODY),
)
async def post_pagerduty(request: Request, principal: Principal = PagerDutyPrincipal) -> Response:
    return await handle(request, principal, request.app.state.pagerduty)


@router.post(
    "/v1/changes",
    status_code=202,
    response_model=None,
    summary="Change records from CI/CD pipelines and change tools, to the `changes` topic",
    responses=doc.answers(),
    openapi_extra=doc.with_parameters(doc.CHANGES_BODY),
)
async def post_changes(request: Request, principal: Principal = IngestPrincipal) -> Response:
    return await handle(request, principal, formats.CHANGES)


@router.post(
    "/v1/feedback",
    status_code=202,
    response_model=None,
    summary="User feedback about a business service, to the `feedback` topic",
    responses=doc.answers(),
    openapi_extra=doc.with_parameters(doc.FEEDBACK_BODY),
)
async def post_feedback(request: Request, principal: Principal = IngestPrincipal) -> Response:
    return await handle(request, principal, formats.FEEDBACK)


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", summary="Readiness: the broker accepts events and every background task runs"
)
async def readyz(request: Request) -> dict[str, object]:
    report = tasks_ready(request.app.state)
    if not await state_of(request).sink.ready():
        raise Problem(503, "Not ready", "the broker is not reachable", headers={"Retry-After": "5"})
    return {"status": "ready", "tasks": report}

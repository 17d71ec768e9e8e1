"""Back-sync: what on-call engineers do in PagerDuty, ServiceNow or Jira comes back as incident
commands, exactly as an acknowledge or resolve in the API does (`incident-commands`, keyed by
correlation domain), so the dashboard and the value-stream figures show it.

Every endpoint is authenticated: PagerDuty and Jira by their webhook signatures (the
destination's `webhook_secret`), ServiceNow by an impactline API key with the `admin` scope
(its outbound REST messages cannot sign a body). A vendor's retry of the same event issues the
same command id, which the incident's owner applies once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from impactline.core import topics
from impactline.core.contracts import (
    DestinationKind,
    IncidentCommand,
    IncidentCommandAction,
    derived_id,
)
from impactline.core.delivery import backsync, signing
from impactline.core.delivery.backsync import CallbackError, Sync, SyncAction
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.kafka import publish
from impactline.runtime.problems import Problem

router = APIRouter(prefix="/v1/inbound", tags=["back-sync"])
# Vendors' callbacks are a few kilobytes; anything far larger is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024
Operator = Annotated[Principal, Depends(require_scope("admin"))]


class SyncAnswer(BaseModel):
    status: Literal["accepted", "ignored"]
    reason: str | None = None
    command_id: str | None = None
    incident_id: str | None = None
    action: IncidentCommandAction | None = None


_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": SyncAnswer, "description": "A command was sent to the incident's owner."},
    401: {"description": "The signature or API key is missing or wrong."},
    404: {"description": "No such destination, or it takes no callbacks."},
}


@router.post(
    "/pagerduty/{destination}",
    summary="PagerDuty v3 webhook: acknowledge or resolve the impactline incident",
    response_model=SyncAnswer,
    responses=_RESPONSES,
)
async def pagerduty(destination: str, request: Request) -> JSONResponse:
    secret = _secret(request, destination, DestinationKind.PAGERDUTY, "webhook_secret")
    body = await request.body()
    _verified(
        signing.verify_pagerduty, [secret], request.headers.get(signing.PAGERDUTY_HEADER), body
    )
    return await _apply(request, destination, _read(body, backsync.from_pagerduty))


@router.post(
    "/jira/{destination}",
    summary="Jira webhook (issue updated): acknowledge or resolve the impactline incident",
    response_model=SyncAnswer,
    responses=_RESPONSES,
)
async def jira(destination: str, request: Request) -> JSONResponse:
    secret = _secret(request, destination, DestinationKind.JIRA, "webhook_secret")
    body = await _body(request)
    _verified(signing.verify_jira, [secret], request.headers.get(signing.JIRA_HEADER), body)
    statuses = request.app.state.routes.destinations[destination].acknowledge_statuses
    sync = _read(body, lambda data: backsync.from_jira(data, statuses))
    return await _apply(request, destination, sync)


@router.post(
    "/servicenow/{destination}",
    summary="ServiceNow record update: acknowledge or resolve the impactline incident",
    response_model=SyncAnswer,
    responses=_RESPONSES,
)
async def servicenow(destination: str, request: Request, _: Operator) -> JSONResponse:
    _destination(request, destination, DestinationKind.SERVICENOW)
    return await _apply(request, destination, _read(await _body(request), backsync.from_servicenow))


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Problem(413, "Body too large", f"at most {MAX_BODY_BYTES} bytes are accepted")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise Problem(413, "Body too large", f"at most {MAX_BODY_BYTES} bytes are accepted")
    return body


def _destination(request: Request, name: str, kind: DestinationKind) -> Any:
    found = request.app.state.routes.destinations.get(name)
    if found is None or found.kind is not kind:
        raise Problem(404, "Unknown destination", f"no {kind.value} destination named {name!r}")
    return found


def _secret(request: Request, name: str, kind: DestinationKind, field: str) -> str:
    _destination(request, name, kind)
    secret = request.app.state.secrets.get(name, field)
    if secret is None:
        raise Problem(
            404,
            "Callbacks not configured",
            f"destination {name!r} has no {field}; set one in the route file to accept callbacks",
        )
    return secret


def _verified(check: Any, secrets: list[str], header: str | None, body: bytes) -> None:
    try:
        check(secrets, header, body)
    except signing.SignatureError as exc:
        raise Problem(401, "Invalid signature", str(exc), kind="unauthenticated") from None


def _read(body: bytes, parse: Any) -> Sync | None:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Problem(
            400, "Invalid JSON", f"the body is not JSON: {exc}", kind="validation"
        ) from None
    try:
        return parse(data)
    except CallbackError as exc:
        raise Problem(422, "Invalid callback", str(exc), kind="validation") from None


_COMMANDS = {
    SyncAction.ACKNOWLEDGE: IncidentCommandAction.ACKNOWLEDGE,
    SyncAction.RESOLVE: IncidentCommandAction.RESOLVE,
}


async def _apply(request: Request, destination: str, sync: Sync | None) -> JSONResponse:
    if sync is None:
        return _answer(200, SyncAnswer(status="ignored", reason="not an acknowledge or resolve"))
    state = request.app.state
    store = state.store
    subject = await store.find_subject(destination, sync.key, sync.key_kind)
    target = await store.command_target(destination, subject.subject) if subject else None
    if target is None:
        reason = f"{sync.key} is not an alert or record impactline sent to {destination}"
        return _answer(200, SyncAnswer(status="ignored", reason=reason))
    incident_id, domain, incident_state = target
    action = _COMMANDS[sync.action]
    done = {IncidentCommandAction.ACKNOWLEDGE: ("acknowledged", "resolved")}.get(
        action, ("resolved",)
    )
    if incident_state in done:
        reason = f"incident {incident_id} is already {incident_state}"
        return _answer(
            200, SyncAnswer(status="ignored", reason=reason, incident_id=incident_id, action=action)
        )
    command = IncidentCommand(
        id=derived_id("back-sync", destination, sync.event_id),
        incident_id=incident_id,
        correlation_domain=domain,
        action=action,
        time=await store.now(),
        requested_by=sync.actor[:200],
        note=sync.note[:2000],
    )
    await publish(
        state.producer,
        topics.INCIDENT_COMMANDS,
        command,
        key=domain,
        source="impactline/notify",
        prefix=state.settings.topic_prefix,
    )
    answer = SyncAnswer(
        status="accepted", command_id=command.id, incident_id=incident_id, action=action
    )
    return _answer(202, answer)


def _answer(status: int, answer: SyncAnswer) -> JSONResponse:
    return JSONResponse(answer.model_dump(mode="json", exclude_none=True), status_code=status)

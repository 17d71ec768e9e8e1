"""HTTP routes of ingest: validate, hand to the sink, answer with what was accepted."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import TypeAdapter, ValidationError

from impactline.core import topics
from impactline.core.contracts import TelemetryEvent
from impactline.ingest.sink import EventSink, SinkUnavailable
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.problems import Problem, validation_problem
from impactline.runtime.telemetry import current_trace_id

router = APIRouter()
MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = 5

_batch: TypeAdapter[list[TelemetryEvent]] = TypeAdapter(list[TelemetryEvent])


async def read_json_body(request: Request) -> Any:
    """The request body as JSON, refusing oversized or malformed bodies with a problem."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, "Malformed JSON", f"the body is not valid JSON: {exc}", kind="malformed-json"
        ) from None


def _too_large() -> Problem:
    return Problem(
        413,
        "Body too large",
        f"the body must be at most {MAX_BODY_BYTES} bytes; split the batch",
        kind="too-large",
    )


def parse_events(payload: Any) -> list[TelemetryEvent]:
    """A JSON array is a batch, anything else one event; errors point into the body."""
    if isinstance(payload, list) and not payload:
        raise Problem(422, "Empty batch", "the batch holds no events", kind="validation")
    try:
        if isinstance(payload, list):
            return _batch.validate_python(payload)
        return [TelemetryEvent.model_validate(payload)]
    except ValidationError as exc:
        raise validation_problem(list(exc.errors()), "Invalid event") from None


@router.post(
    "/v1/events",
    status_code=202,
    summary="Submit one telemetry event or a batch",
    responses={
        202: {"description": "Accepted: durably queued for correlation"},
        401: {"description": "No or invalid API key"},
        413: {"description": "Body too large"},
        422: {"description": "Invalid event; the problem names the field"},
        503: {"description": "Broker unavailable; retry after the given seconds"},
    },
)
async def post_events(
    request: Request,
    response: Response,
    _: Annotated[Principal, Depends(require_scope("ingest"))],
) -> dict[str, Any]:
    events = parse_events(await read_json_body(request))
    sink: EventSink = request.app.state.sink
    try:
        await sink.put(topics.TELEMETRY, [(e.ci_id, e) for e in events])
    except SinkUnavailable as exc:
        raise Problem(
            503,
            "Broker unavailable",
            f"events were not accepted, retry later ({exc})",
            kind="unavailable",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    trace_id = current_trace_id()
    return {"accepted": len(events), "ids": [e.id for e in events], "trace_id": trace_id}


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the broker accepts events")
async def readyz(request: Request) -> dict[str, str]:
    if not await request.app.state.sink.ready():
        raise Problem(503, "Not ready", "the broker is not reachable", headers={"Retry-After": "5"})
    return {"status": "ready"}

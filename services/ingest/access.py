"""Who may send to ingest, and how fast: API keys with the `ingest` scope, rate-limited per key."""

from __future__ import annotations

import orjson
from fastapi import Depends, Request

from impactline.ingest.body import read_body
from impactline.ingest.intake import state_of
from impactline.runtime.auth import Principal, authorize_request, presented_key
from impactline.runtime.problems import Problem
from impactline.runtime.ratelimit import retry_after

SCOPE = "ingest"


def limit_rate(request: Request, principal: Principal) -> Principal:
    """Refuse with 429 and Retry-After when the key is over its request rate."""
    limiter = state_of(request).limiter
    wait = limiter.acquire(principal.key_id)
    if wait > 0:
        raise Problem(
            429,
            "Too many requests",
            f"this API key may send {limiter.rate_per_s:g} requests per second "
            f"(bursts of {limiter.burst}); retry after the given seconds or send larger batches",
            kind="rate-limited",
            headers={"Retry-After": retry_after(wait)},
        )
    return principal


async def ingest_principal(request: Request) -> Principal:
    """Dependency of every ingest route: a key with the `ingest` scope, within its rate."""
    principal = await authorize_request(request, presented_key(request), SCOPE)
    return limit_rate(request, principal)


async def pagerduty_principal(request: Request) -> Principal:
    """Like `ingest_principal`, but a PagerDuty client carries the key as `routing_key`.

    A tool pointed at impactline instead of PagerDuty sends no headers of its own; the integration
    key it is configured with is the impactline API key.
    """
    key = presented_key(request)
    if key is None:
        body = await read_body(request, state_of(request).settings.max_body_bytes)
        request.state.raw_body = body
        key = _routing_key(body)
    principal = await authorize_request(request, key, SCOPE)
    return limit_rate(request, principal)


def _routing_key(body: bytes) -> str | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("routing_key") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


IngestPrincipal = Depends(ingest_principal)
PagerDutyPrincipal = Depends(pagerduty_principal)

"""Reading a request body safely: bounded in size, decoded as JSON or NDJSON, errors as problems."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from impactline.ingest.adapters import AdapterError
from impactline.runtime.problems import Problem

NDJSON = "application/x-ndjson"
# Errors listed in one answer at most; the count of the others is given.
MAX_ERRORS_SHOWN = 100


def media_type(request: Request) -> str:
    """The request's media type without parameters, lower-cased ("" when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over `limit` bytes before reading it all."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Problem(
            415,
            "Unsupported content encoding",
            f"Content-Encoding {encoding!r} is not accepted; send the body uncompressed",
            kind="unsupported-media-type",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Body too large",
        f"the body must be at most {limit} bytes; split the batch",
        kind="too-large",
        limit=limit,
    )


def parse_json(body: bytes) -> Any:
    """The body as JSON; a malformed body is a 400 problem saying where it broke."""
    if not body.strip():
        raise Problem(
            400, "Empty body", "the request has no body; send JSON", kind="malformed-json"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, "Malformed JSON", f"the body is not valid JSON: {exc}", kind="malformed-json"
        ) from None


def adapter_problem(
    error: AdapterError, title: str, status: int = 422, **extensions: Any
) -> Problem:
    """An adapter's error as a problem whose `errors` name each field and the rule it broke."""
    fields = error.fields()
    return Problem(status, title, _summary(fields), kind="validation", errors=fields, **extensions)


def rejection_problem(
    fields: list[dict[str, Any]], title: str, rejected: int | None = None
) -> Problem:
    """Every item of a batch was rejected: one problem listing the errors by index (at most
    MAX_ERRORS_SHOWN of them); `rejected_count` says how many items were rejected."""
    extra: dict[str, Any] = {"rejected_count": rejected if rejected is not None else len(fields)}
    if len(fields) > MAX_ERRORS_SHOWN or (rejected or 0) > MAX_ERRORS_SHOWN:
        extra["notes"] = [
            f"{extra['rejected_count']} items were rejected; the errors of the first "
            f"{MAX_ERRORS_SHOWN} are listed"
        ]
    return Problem(
        422,
        title,
        _summary(fields),
        kind="validation",
        errors=fields[:MAX_ERRORS_SHOWN],
        **extra,
    )


def _summary(fields: list[dict[str, Any]], shown: int = 5) -> str:
    parts = [f"{f.get('pointer') or f.get('header') or '(body)'}: {f['detail']}" for f in fields]
    text = "; ".join(parts[:shown])
    if len(parts) > shown:
        text += f"; and {len(parts) - shown} more"
    return text

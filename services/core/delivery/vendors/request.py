"""An HTTP request as data, and how an answer is judged: delivered, worth retrying, or refused."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    @property
    def json(self) -> Any:
        return None if self.content is None else json.loads(self.content)


def json_request(
    method: str, url: str, body: Any, headers: dict[str, str] | None = None
) -> HttpRequest:
    """A JSON request; the body is encoded once here, so what is signed is what is sent."""
    content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    all_headers = {"Accept": "application/json", **(headers or {})}
    if content is not None:
        all_headers["Content-Type"] = "application/json"
    return HttpRequest(method, url, all_headers, content)


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str
    retry_after_s: float | None = None


# Answers that say "not now" rather than "never": timeouts, conflicts of a moment, throttling.
_RETRYABLE = frozenset({408, 409, 423, 425, 429})


def judge(status: int, body: str = "", retry_after: str | None = None) -> Outcome:
    """The verdict on an HTTP answer; `body` (already trimmed) goes into the reason."""
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, f"HTTP {status}")
    detail = f"HTTP {status}" + (f": {body}" if body else "")
    if status in _RETRYABLE or status >= 500:
        return Outcome(Verdict.RETRY, detail, _seconds(retry_after))
    return Outcome(Verdict.REFUSED, detail)


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: the backoff decides instead
    return max(seconds, 0.0)

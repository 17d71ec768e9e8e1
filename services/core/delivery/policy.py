"""How deliveries to one destination are paced: exponential backoff with jitter between tries,
a token bucket for the destination's rate limit, and a circuit breaker that stops hammering a
destination that keeps failing. Times are seconds on a monotonic clock, given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tenacity import RetryCallState, wait_exponential_jitter

from impactline.core.delivery.destinations import Backoff, Circuit, RateLimit


def retry_delay(backoff: Backoff, failures: int, retry_after_s: float | None = None) -> float:
    """Seconds to wait after the `failures`-th failed try: initial x 2^(failures-1) plus up to
    `jitter_seconds` of random jitter, at most `max_seconds`; never sooner than a server's
    Retry-After."""
    wait = wait_exponential_jitter(
        multiplier=backoff.initial_seconds,
        max=backoff.max_seconds,
        jitter=backoff.jitter_seconds,
    )
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = max(failures, 1)
    delay = float(wait(state))
    return max(delay, retry_after_s or 0.0)


class TokenBucket:
    """At most `burst` sends at once, refilled at `per_second`."""

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.rate = limit.per_second
        self.capacity = float(limit.burst)
        self.tokens = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def take(self, now: float) -> float:
        """Take a token if one is there and return 0; else the seconds until one will be."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class CircuitBreaker:
    """Closed: sends flow. After `failures` consecutive failures it opens: nothing is sent for
    `cooldown_seconds` (deliveries wait without spending their retry budget). Then one trial is
    let through (half-open): success closes the circuit, failure opens it again."""

    settings: Circuit
    state: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    opened_at: float | None = None
    trial_running: bool = False

    def allows(self, now: float) -> bool:
        """Whether a send may start now; in half-open state only one at a time."""
        if self.state is CircuitState.OPEN:
            assert self.opened_at is not None
            if now - self.opened_at < self.settings.cooldown_seconds:
                return False
            self.state = CircuitState.HALF_OPEN
        if self.state is CircuitState.HALF_OPEN:
            if self.trial_running:
                return False
            self.trial_running = True
        return True

    def wait_s(self, now: float) -> float:
        """Seconds until the circuit lets a trial through (0 when closed)."""
        if self.state is not CircuitState.OPEN or self.opened_at is None:
            return 0.0
        return max(self.settings.cooldown_seconds - (now - self.opened_at), 0.0)

    def succeeded(self) -> None:
        self.state = CircuitState.CLOSED
        self.consecutive_failures = 0
        self.opened_at = None
        self.trial_running = False

    def failed(self, now: float) -> None:
        self.consecutive_failures += 1
        if (
            self.state is CircuitState.HALF_OPEN
            or self.consecutive_failures >= self.settings.failures
        ):
            self.state = CircuitState.OPEN
            self.opened_at = now
        self.trial_running = False

    def released(self) -> None:
        """A send that neither succeeded nor failed (e.g. refused for its content) ends."""
        self.trial_running = False

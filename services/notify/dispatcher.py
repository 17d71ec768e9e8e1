"""One dispatcher per destination sends that destination's pending deliveries from the log.

Each runs as its own task with its own HTTP client, rate limit and circuit breaker, so a
destination that is down or hangs only delays its own deliveries. A failed try is retried
after an exponential backoff with jitter until the destination's retry budget is spent; then
the delivery is dead (kept, with the reason, for `impactline deliveries replay`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from prometheus_client import Counter, Gauge

from impactline.core.delivery.destinations import DeliveryPolicy
from impactline.core.delivery.policy import CircuitBreaker, CircuitState, TokenBucket, retry_delay
from impactline.notify.rows import Delivery
from impactline.notify.senders import Result, Sender
from impactline.notify.store import NotifyStore
from impactline.runtime.tasks import wait_event

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "impactline_notify_deliveries",
    "Delivery attempts by destination and outcome (sent, skipped, retry, dead).",
    ["destination", "outcome"],
)
CIRCUIT_OPEN = Gauge(
    "impactline_notify_circuit_open", "1 while a destination's circuit is open.", ["destination"]
)
IDLE_POLL_S = 1.0
INCIDENT_WAIT_S = 5.0
"""How long a delivery about an incident waits for the incident itself. Alerts and incidents
come on different topics, read together but from different partitions, so an alert can arrive
a moment before the incident it names; sent then, a page would lack the incident's suspect
changes and state. Past this wait it is sent with what is known."""


class Dispatcher:
    def __init__(
        self,
        sender: Sender,
        store: NotifyStore,
        policy: DeliveryPolicy,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = sender.name
        self.sender = sender
        self.store = store
        self.policy = policy
        self.on_change = on_change
        self.breaker = CircuitBreaker(policy.circuit)
        self.bucket = TokenBucket(policy.rate_limit, time.monotonic())
        self.wake = asyncio.Event()
        # A claimed delivery is ours for this long: all its calls, with room to spare.
        self.lease = timedelta(seconds=policy.timeout_seconds * 3 + 30)

    async def run(self) -> None:
        while True:
            try:
                pause = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away, say: try again shortly
                log.warning("%s: dispatching failed (%s); retrying", self.name, exc)
                pause = 2.0
            if pause > 0:
                await wait_event(self.wake, pause)
            self.wake.clear()

    async def _round(self) -> float:
        """Send what is due; returns how long to wait before looking again."""
        blocked = self.breaker.wait_s(time.monotonic())
        if blocked > 0:
            return blocked
        limit = self.policy.concurrency if self.breaker.state is CircuitState.CLOSED else 1
        batch = await self.store.claim(self.name, limit, self.lease)
        if not batch:
            due = await self.store.next_due(self.name)
            if due is None:
                return IDLE_POLL_S
            return min(max((due - self.store.clock.now()).total_seconds(), 0.01), IDLE_POLL_S)
        await asyncio.gather(*(self._deliver(d) for d in batch))
        return 0.0

    async def _deliver(self, delivery: Delivery) -> None:
        await self._paced()
        if not self.breaker.allows(time.monotonic()):
            await self.store.release(delivery, self.breaker.wait_s(time.monotonic()) or 0.1)
            return
        context = await self.store.incident(delivery.incident_id)
        if context is None and delivery.incident_id is not None and self._young(delivery):
            await self.store.release(delivery, 0.1)
            return
        subject = await self.store.subject(self.name, delivery.subject)
        result = await self.sender.send(delivery, context, subject)
        await self._record(delivery, result)
        self.on_change()

    def _young(self, delivery: Delivery) -> bool:
        age = self.store.clock.now() - delivery.created_at
        return age.total_seconds() < INCIDENT_WAIT_S

    async def _paced(self) -> None:
        """Wait for a token of the destination's rate limit."""
        wait = self.bucket.take(time.monotonic())
        while wait > 0:
            await asyncio.sleep(wait)
            wait = self.bucket.take(time.monotonic())

    async def _record(self, delivery: Delivery, result: Result) -> None:
        now = time.monotonic()
        if result.status in ("sent", "skipped"):
            self.breaker.succeeded()
            await self.store.delivered(
                delivery,
                result.status,
                external_ref=result.external_ref,
                display_ref=result.display_ref,
                subject_state=result.state if result.status == "sent" else None,
                note=None if result.status == "sent" else result.reason,
            )
            DELIVERIES.labels(self.name, result.status).inc()
        elif result.status == "retry":
            self.breaker.failed(now)
            attempts = delivery.attempts + 1
            retry_in = None
            if attempts < self.policy.attempts:
                retry_in = retry_delay(self.policy.backoff, attempts, result.retry_after_s)
            dead = await self.store.failed(delivery, result.reason, retry_in)
            DELIVERIES.labels(self.name, "dead" if dead else "retry").inc()
            if dead:
                log.warning(
                    "%s: %s %s is dead after %d attempts: %s",
                    self.name,
                    delivery.action,
                    delivery.subject,
                    attempts,
                    result.reason,
                )
        else:
            self.breaker.released()
            await self.store.failed(delivery, f"refused: {result.reason}", None)
            DELIVERIES.labels(self.name, "dead").inc()
            log.warning(
                "%s refused %s %s: %s", self.name, delivery.action, delivery.subject, result.reason
            )
        CIRCUIT_OPEN.labels(self.name).set(int(self.breaker.state is CircuitState.OPEN))

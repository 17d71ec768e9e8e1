"""Posting a workload to ingest as a well-behaved client would, and counting what was accepted.

Each client posts its batches one after the other, so the events of one CI reach ingest in time
order. A batch that is not acknowledged (connection refused or reset, 429, 503) is sent again
with the same event ids after the Retry-After the server asked for: nothing counts as accepted
until ingest answered 202 with the event ids, and a retry must not double anything downstream.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.workload import Workload

RETRYABLE = {409, 429, 500, 502, 503, 504}


@dataclass
class LoadReport:
    sent: int = 0
    accepted: set[str] = field(default_factory=set)
    refusals: Counter[str] = field(default_factory=Counter)
    """Why attempts were not acknowledged: HTTP status or transport error name."""
    retry_after: list[str] = field(default_factory=list)
    """Retry-After values of 503 answers."""
    retried_batches: int = 0
    first_refusal: float | None = None
    last_refusal: float | None = None

    def refused(self, reason: str) -> None:
        now = time.monotonic()
        self.refusals[reason] += 1
        self.first_refusal = self.first_refusal or now
        self.last_refusal = now


class LoadRun:
    """Posts a workload in the background; the test waits on its progress to inject a fault."""

    def __init__(
        self,
        url: str,
        api_key: str,
        workload: Workload,
        *,
        give_up_after_s: float = 180.0,
        pause_s: float = 0.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.workload = workload
        self.report = LoadReport(sent=workload.size)
        self.give_up_after_s = give_up_after_s
        self.pause_s = pause_s
        self.max_backoff_s = max_backoff_s
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LoadRun:
        self._task = asyncio.create_task(self._run(), name="fault-load")
        return self

    async def reached(self, fraction: float, timeout_s: float = 300.0) -> None:
        """Return once `fraction` of the events were accepted."""
        wanted = int(self.workload.size * fraction)
        async with asyncio.timeout(timeout_s), self._progress:
            await self._progress.wait_for(
                lambda: len(self.report.accepted) >= wanted or self._finished()
            )

    async def finish(self, timeout_s: float = 600.0) -> LoadReport:
        assert self._task is not None, "start() first"
        async with asyncio.timeout(timeout_s):
            await self._task
        return self.report

    def _finished(self) -> bool:
        return self._task is not None and self._task.done()

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=len(self.workload.clients) + 2)
        async with httpx.AsyncClient(
            base_url=self.url, headers=self.headers, timeout=30.0, limits=limits
        ) as client:
            await asyncio.gather(*(self._client(client, b) for b in self.workload.clients))
        async with self._progress:
            self._progress.notify_all()

    async def _client(self, client: httpx.AsyncClient, batches: list[list[dict[str, Any]]]) -> None:
        for batch in batches:
            await self._post_until_accepted(client, batch)
            if self.pause_s:
                await asyncio.sleep(self.pause_s)

    async def _post_until_accepted(
        self, client: httpx.AsyncClient, batch: list[dict[str, Any]]
    ) -> None:
        deadline = time.monotonic() + self.give_up_after_s
        attempt = 0
        while True:
            attempt += 1
            wait = min(0.2 * 2**attempt, self.max_backoff_s)
            try:
                response = await client.post("/v1/events", json=batch)
            except httpx.TransportError as exc:
                self.report.refused(type(exc).__name__)
            else:
                if response.status_code == 202:
                    ids = response.json()["ids"]
                    async with self._progress:
                        self.report.accepted.update(ids)
                        self._progress.notify_all()
                    if attempt > 1:
                        self.report.retried_batches += 1
                    return
                if response.status_code not in RETRYABLE:
                    raise AssertionError(
                        f"ingest refused a valid batch: {response.status_code} {response.text}"
                    )
                self.report.refused(str(response.status_code))
                after = response.headers.get("retry-after")
                if response.status_code == 503:
                    self.report.retry_after.append(after or "")
                if after and after.isdigit():
                    wait = float(after)
            if time.monotonic() + wait > deadline:
                raise AssertionError(
                    f"a batch was not accepted within {self.give_up_after_s:g}s: "
                    f"{dict(self.report.refusals)}"
                )
            await asyncio.sleep(wait)

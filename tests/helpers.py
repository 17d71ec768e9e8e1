"""Shared test helpers: wait on a condition with a deadline instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from impactline.core import topics
from impactline.core.contracts import Contract
from impactline.runtime.kafka import delete_topics, new_producer, publish
from impactline.runtime.settings import Settings

T = TypeVar("T")


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,  # noqa: ASYNC109 - a polling deadline, not a cancel scope
    interval: float = 0.1,
    message: str = "condition",
) -> T:
    """Poll `predicate` (sync or async) until it returns something truthy, and return that.

    Fails the test with `message` when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout:g}s (last value: {result!r})")
        await asyncio.sleep(interval)


async def publish_events(
    settings: Settings, client_id: str, *events: tuple[topics.Topic, Contract, str]
) -> None:
    """Put (topic, event, key) records on the broker of `settings`, as the services would."""
    producer = new_producer(settings.require_kafka(), client_id)
    await producer.start()
    try:
        for topic, event, key in events:
            await publish(
                producer, topic, event, key=key, source="tests", prefix=settings.topic_prefix
            )
    finally:
        await producer.stop()


@asynccontextmanager
async def scratch_topics(bootstrap: str, prefix: str) -> AsyncIterator[str]:
    """Topics under `prefix` deleted afterwards, so the shared broker does not pile them up
    (thousands of leftover partitions make it slow for every later test and benchmark)."""
    try:
        yield prefix
    finally:
        await delete_topics(bootstrap, prefix)

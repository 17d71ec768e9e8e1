"""A task waiting between rounds stops when it is cancelled, whenever the cancellation lands.

On Python 3.11, `asyncio.wait_for(event.wait(), t)` swallows a cancellation that arrives in the
loop iteration in which the event is set; a loop built on it then never stops, and neither does
the process shutting it down.
"""

from __future__ import annotations

import asyncio

import pytest

from impactline.runtime.tasks import wait_event


async def _loop(wake: asyncio.Event, rounds: list[int]) -> None:
    while True:
        rounds.append(1)
        await wait_event(wake, 5.0)
        wake.clear()


@pytest.mark.parametrize("offset", range(6))
async def test_a_cancellation_landing_as_the_event_is_set_stops_the_loop(offset: int) -> None:
    wake = asyncio.Event()
    rounds: list[int] = []
    task = asyncio.create_task(_loop(wake, rounds))
    await asyncio.sleep(0)  # the loop waits
    wake.set()
    for _ in range(offset):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)
    assert task.cancelled()


async def test_it_answers_whether_the_event_was_set() -> None:
    wake = asyncio.Event()
    assert await wait_event(wake, 0.01) is False
    wake.set()
    assert await wait_event(wake, 5.0) is True

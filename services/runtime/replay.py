"""Recognising an input whose effects a stored state already includes.

Faust flushes table changes before it commits input offsets, but not atomically with them:
after a crash the restored state may be ahead of the input read again, and an upstream replay
repeats events (same ids) after later ones. Each stateful handler therefore stores, next to its
state, the positions of the inputs that state includes and the ids of the latest ones
(`with_applied`), and skips an input it finds there (`already_applied`).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# Where the message a handler is working on sits: "topic:partition" and offset.
_POSITION: ContextVar[tuple[str, int] | None] = ContextVar("input_position", default=None)
APPLIED = "applied"
"""Key, next to a stored state, of the input positions whose effects that state includes."""
RECENT = "recent"
"""Key, next to a stored state, of the ids of the latest inputs applied to it."""
RECENT_KEPT = 128


def input_position() -> tuple[str, int] | None:
    """The topic partition and offset of the message being handled (None in timers)."""
    return _POSITION.get()


def already_applied(stored: object, event_id: str | None = None) -> bool:
    """Whether `stored` (a table value written by `with_applied`) includes the effects of the
    message being handled, or of another one with the same event id.

    Faust flushes table changes before it commits input offsets, but not atomically with them:
    after a crash the restored state may be ahead of the input read again, and an upstream
    replay repeats events (same ids) after later ones. Handlers that store their state only
    once their outputs are durable skip such inputs instead of applying them twice.
    """
    if not isinstance(stored, dict):
        return False
    if event_id is not None and event_id in stored.get(RECENT, ()):
        return True
    position = input_position()
    if position is None:
        return False
    done = stored.get(APPLIED, {}).get(position[0])
    return done is not None and position[1] <= done


def with_applied(
    state: dict[str, Any], previous: object, event_id: str | None = None
) -> dict[str, Any]:
    """`state` to store, carrying what `previous` had applied plus the current message."""
    applied: dict[str, int] = {}
    recent: list[str] = []
    if isinstance(previous, dict):
        applied = dict(previous.get(APPLIED, {}))
        recent = list(previous.get(RECENT, ()))
    position = input_position()
    if position is not None:
        applied[position[0]] = position[1]
    if event_id is not None and event_id not in recent:
        recent = [*recent, event_id][-RECENT_KEPT:]
    return {**state, APPLIED: applied, RECENT: recent}


def handling(topic: str, partition: int, offset: int) -> None:
    """Record where the input the current task is about to handle sits."""
    _POSITION.set((f"{topic}:{partition}", offset))

"""The event clock of a partition: what moves it, when the wall clock may, and the watermark."""

from datetime import UTC, datetime, timedelta

import pytest

from impactline.core.eventtime import EventClock, TimePolicy
from impactline.core.processing import DueIndex

T = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # event time of the stream
WALL = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)  # the machine's clock, far from it
S = timedelta(seconds=1)
POLICY = TimePolicy(allowed_lateness=5 * S, idle_after=1 * S)


def clock() -> EventClock:
    return EventClock(POLICY)


def test_no_event_no_watermark() -> None:
    assert clock().watermark(WALL, caught_up=True) is None


@pytest.mark.parametrize(
    ("events", "wall_after_last", "caught_up", "expected"),
    [
        # Records flowing: the newest event time, less the allowed lateness.
        ([T, T + 30 * S], 0 * S, False, T + 25 * S),
        # An older event does not move the clock back.
        ([T + 30 * S, T], 0 * S, False, T + 25 * S),
        # Behind the partition's end the wall clock never moves event time, however long.
        ([T], 3600 * S, False, T - 5 * S),
        # Read to the end but not yet idle: still the events' time.
        ([T], 1 * S, True, T - 5 * S),
        # Idle: event time moves on with the wall clock from the last event, after idle_after.
        ([T], 61 * S, True, T + 55 * S),
    ],
)
def test_the_watermark_follows_events_and_moves_with_the_wall_only_when_idle(
    events: list[datetime], wall_after_last: timedelta, caught_up: bool, expected: datetime
) -> None:
    c = clock()
    for at in events:
        c.observe(at, WALL)
    assert c.watermark(WALL + wall_after_last, caught_up) == expected


def test_the_watermark_never_goes_back() -> None:
    c = clock()
    c.observe(T, WALL)
    idle = c.watermark(WALL + 61 * S, caught_up=True)
    c.observe(T + 10 * S, WALL + 62 * S)  # a late burst arrives
    assert c.watermark(WALL + 62 * S, caught_up=False) == idle


def test_a_restored_clock_continues_where_it_stopped_not_at_the_wall_clock() -> None:
    c = clock()
    c.restore(T - 5 * S, T, WALL)
    assert c.watermark(WALL + 10 * 3600 * S, caught_up=False) == T - 5 * S
    assert c.watermark(WALL + 11 * S, caught_up=True) == T + 5 * S


def test_the_due_index_hands_out_each_due_key_once_in_deadline_order() -> None:
    due = DueIndex()
    due.set("b", T + 2 * S)
    due.set("a", T + 1 * S)
    due.set("c", T + 9 * S)
    due.set("b", T + 3 * S)  # moved: the earlier deadline no longer counts
    due.set("d", T)
    due.set("d", None)  # nothing to do any more
    assert due.next() == T + S
    assert due.due(T + 3 * S) == ["a", "b"]
    assert due.due(T + 3 * S) == []
    assert "c" in due and "a" not in due
    assert due.next() == T + 9 * S

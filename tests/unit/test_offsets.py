"""Commits held to what the handlers processed: a record Faust acknowledged without handing it
to a handler is never committed past, and a record arriving past a gap is not processed."""

from __future__ import annotations

import time

from impactline.runtime.offsets import Admission, ProcessedOffsets

P0, P1 = ("telemetry", 0), ("telemetry", 1)


def run(offsets: ProcessedOffsets, partition: tuple[str, int], *records: int) -> None:
    for offset in records:
        assert offsets.admit(partition, offset, generation=1, committed=10) is Admission.PROCESS
        offsets.processed(partition, offset)
        offsets.settled(partition, offset)


def test_records_in_order_from_the_committed_offset_are_processed_and_committable() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10, 11, 12)
    allowed, skipped = offsets.committable({P0: 13})
    assert allowed == {P0: 13}
    assert skipped == set()


def test_a_commit_past_the_processed_records_is_held_back_and_reported() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10, 11)
    # Faust acknowledged 12..19 without handing them over (dropped around a rebalance).
    allowed, skipped = offsets.committable({P0: 20})
    assert allowed == {P0: 12}
    assert skipped == {P0}


def test_a_commit_waits_for_the_handled_records_to_settle() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10, 11)
    for offset in (12, 13):
        assert offsets.admit(P0, offset, generation=1, committed=10) is Admission.PROCESS
        offsets.processed(P0, offset)
    # Handled, but their outputs are not acknowledged yet: a crash now must replay them.
    assert offsets.committable({P0: 14}) == ({P0: 12}, set())
    offsets.settled(P0, 13)
    assert offsets.committable({P0: 14}) == ({P0: 14}, set())


def test_a_partition_no_handler_saw_is_not_committed_at_all() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10)
    allowed, skipped = offsets.committable({P0: 11, P1: 7})
    assert allowed == {P0: 11}
    assert skipped == {P1}


def test_a_record_past_a_gap_is_held_until_the_missing_records_are_handled() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10, 11)
    assert offsets.admit(P0, 15, generation=1, committed=10) is Admission.GAP
    assert offsets.committable({P0: 16}) == ({P0: 12}, {P0})
    run(offsets, P0, 12, 13, 14, 15)  # read directly, then the record that showed the gap
    assert offsets.committable({P0: 16}) == ({P0: 16}, set())
    # The fetcher delivering them again later changes nothing.
    assert offsets.admit(P0, 13, generation=1, committed=10) is Admission.SEEN


def test_a_partition_behind_its_end_without_progress_is_reported_as_stalled() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10, 11)
    offsets.assigned(P1, generation=1, committed=3)  # assigned, never delivered a record
    now = time.monotonic()
    assert offsets.stalled({P0: 12, P1: 3}, idle_s=5, now=now + 60) == {}
    assert offsets.stalled({P0: 20, P1: 9}, idle_s=5, now=now) == {}
    assert offsets.stalled({P0: 20, P1: 9}, idle_s=5, now=now + 60) == {P0: 12, P1: 3}


def test_a_new_assignment_counts_again_from_the_committed_offset() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    run(offsets, P0, 10, 11, 12)
    # Another worker had the partition and committed 40; it comes back in generation 2.
    assert offsets.admit(P0, 40, generation=2, committed=40) is Admission.PROCESS
    offsets.processed(P0, 40)
    offsets.settled(P0, 40)
    assert offsets.committable({P0: 41}) == ({P0: 41}, set())
    # A first record past the committed offset of the new assignment is a gap.
    assert offsets.admit(P1, 9, generation=2, committed=5) is Admission.GAP


def test_without_a_committed_offset_the_first_record_starts_the_count() -> None:
    offsets: ProcessedOffsets = ProcessedOffsets()
    assert offsets.admit(P0, 0, generation=1, committed=None) is Admission.PROCESS
    offsets.processed(P0, 0)
    assert offsets.expected(P0) == 1

"""Prometheus metrics of a stream worker (served with `IMPACTLINE_METRICS_PORT`), and the log
filter that turns routine client retries into a count."""

from __future__ import annotations

import logging
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("impactline_stream_records_total", "Input records handled.", ["service"])
WRITTEN = Counter(
    "impactline_stream_records_written_total",
    "Records written (outputs, state and dead letters) in committed transactions.",
    ["service"],
)
DEAD_LETTERS = Counter(
    "impactline_stream_dead_letters_total",
    "Input records sent to the dead-letter topic.",
    ["service"],
)
LATE = Counter(
    "impactline_late_events_total",
    "Events older than what their key had already accounted for: ignored as late (correlate) "
    "or applied at the key's own time as a correction (impact).",
    ["service"],
)
VERIFICATION_RETRIES = Counter(
    "impactline_stream_verification_retries_total",
    "Produce requests the broker asked to retry while the previous transaction was closing.",
    ["service"],
)
TURN_SECONDS = Histogram(
    "impactline_stream_turn_seconds",
    "Time to handle one batch and commit its transaction.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENT_TIME = Gauge(
    "impactline_stream_event_time_seconds",
    "Newest event time read from an input partition (seconds since the epoch).",
    ["service", "partition"],
)


class StreamMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self._records = RECORDS.labels(service)
        self._written = WRITTEN.labels(service)
        self._letters = DEAD_LETTERS.labels(service)
        self._late = LATE.labels(service)
        self._turn = TURN_SECONDS.labels(service)
        self._verification = VERIFICATION_RETRIES.labels(service)

    def turn(self, records: int, written: int, letters: int, seconds: float) -> None:
        self._records.inc(records)
        self._written.inc(written)
        self._letters.inc(letters)
        self._turn.observe(seconds)

    def verification_retry(self) -> None:
        self._verification.inc()

    def late(self, count: int) -> None:
        self._late.inc(count)

    def event_time(self, partition: int, newest: datetime) -> None:
        EVENT_TIME.labels(self.service, str(partition)).set(newest.timestamp())


class VerificationRetries(logging.Filter):
    """Counts, instead of logging, the produce retries Kafka 3.6+ causes at the start of every
    transaction after the first.

    A broker verifies that a transactional write belongs to an open transaction; while the
    coordinator is still writing the markers of the previous one it answers
    CONCURRENT_TRANSACTIONS, which it reports to clients of aiokafka's protocol version as
    NOT_ENOUGH_REPLICAS. aiokafka retries (correctly) and logs a warning per partition: dozens
    a turn, none of them a problem. Any other produce error is still logged."""

    def __init__(self, metrics: StreamMetrics) -> None:
        super().__init__()
        self.metrics = metrics

    def filter(self, record: logging.LogRecord) -> bool:
        if "NotEnoughReplicasError" in str(record.args) and "retrying" in record.msg:
            self.metrics.verification_retry()
            return False
        return True

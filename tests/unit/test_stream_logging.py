"""The stream worker's logs carry what an operator must act on, not the broker's routine retries."""

from __future__ import annotations

import logging

from aiokafka.errors import NotEnoughReplicasError, NotLeaderForPartitionError
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY

from impactline.runtime.stream.metrics import StreamMetrics, VerificationRetries

SENDER_MESSAGE = "Got error produce response on topic-partition %s, retrying. Error: %s"


def _record(error: type[Exception]) -> logging.LogRecord:
    return logging.LogRecord(
        "aiokafka.producer.sender",
        logging.WARNING,
        __file__,
        1,
        SENDER_MESSAGE,
        (TopicPartition("impact.all", 0), error),
        None,
    )


def _retries() -> float:
    labels = {"service": "unit-test"}
    return REGISTRY.get_sample_value("impactline_stream_verification_retries_total", labels) or 0


def test_transaction_verification_retries_are_counted_not_logged() -> None:
    quiet = VerificationRetries(StreamMetrics("unit-test"))
    before = _retries()

    assert quiet.filter(_record(NotEnoughReplicasError)) is False
    assert _retries() == before + 1


def test_other_produce_errors_are_still_logged() -> None:
    quiet = VerificationRetries(StreamMetrics("unit-test"))

    assert quiet.filter(_record(NotLeaderForPartitionError)) is True
    unrelated = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "boom", (), None)
    assert quiet.filter(unrelated) is True

"""A stream worker whose producer gives up carries on, in-process, on the real broker.

aiokafka ends a producer's sender for good when, for one, the broker's connection drops during a
coordinator lookup (seen when the broker stops). The worker must then start a new producer and
go on from its committed state rather than end: nothing lost, nothing produced twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from impactline.core import cloudevents, topics
from impactline.core.contracts import ServiceHealthEvent, TelemetryEvent
from impactline.core.states import State
from impactline.correlate.app import create_process
from impactline.runtime.kafka import open_tail, topic_name
from impactline.runtime.settings import Settings
from tests.helpers import publish_events, scratch_topics, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


async def test_a_worker_whose_producer_gave_up_starts_a_new_one_and_loses_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"it-recover-{uuid.uuid4().hex[:8]}."
    async with scratch_topics(kafka_bootstrap, prefix):
        settings = Settings(
            kafka_bootstrap_servers=kafka_bootstrap,
            IMPACTLINE_TOPIC_PREFIX=prefix,
            IMPACTLINE_CATALOG=str(ROOT / "deploy" / "catalog"),
            IMPACTLINE_STATE_DIR=str(tmp_path),
            IMPACTLINE_PARTITIONS="1",
        )
        process = create_process(settings)
        await process.start()
        tail = await open_tail(kafka_bootstrap, topic_name(topics.SERVICE_HEALTH, prefix))
        seen: list[ServiceHealthEvent] = []

        async def caused_by(event_id: str) -> bool:
            for records in (await tail.getmany(timeout_ms=200)).values():
                for record in records:
                    envelope = cloudevents.decode(topics.SERVICE_HEALTH, record.value, [])
                    assert isinstance(envelope.event, ServiceHealthEvent)
                    seen.append(envelope.event)
            return any(h.cause_event_id == event_id for h in seen)

        try:
            await wait_for(lambda: process.worker.ready.is_set(), 60, message="worker ready")
            down = TelemetryEvent(ci_id="db-gl-01", state=State.DOWN, time=AT)
            await publish_events(settings, "recovery-test", (topics.TELEMETRY, down, "erp"))
            await wait_for(lambda: caused_by(down.id), 60, message="health of the first event")

            # The producer's sender gives up at its next round, as it does when the broker's
            # connection drops under it: every pending and later send fails.
            worker = process.worker
            broken = worker._producer
            assert broken is not None

            def dropped(*_: object, **__: object) -> None:
                raise ConnectionResetError("the broker's connection dropped")

            broken._sender._message_accumulator.drain_by_nodes = dropped  # type: ignore[attr-defined]

            up = TelemetryEvent(ci_id="db-gl-01", state=State.OK, time=AT + timedelta(minutes=5))
            await publish_events(settings, "recovery-test", (topics.TELEMETRY, up, "erp"))
            await wait_for(lambda: caused_by(up.id), 60, message="health after the failure")
            assert worker._producer is not broken, "the worker kept the stopped producer"

            # Exactly once: the turn that failed committed nothing and was read again.
            causes = [h.cause_event_id for h in seen]
            assert len(causes) == len(set(h.id for h in seen))
            assert {down.id, up.id} <= set(causes)
            per_service = {(h.service_id, h.cause_event_id) for h in seen}
            assert len(per_service) == len(seen), "a service-health event was produced twice"
        finally:
            await tail.stop()
            await process.stop()

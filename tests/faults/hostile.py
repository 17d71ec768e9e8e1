"""What the hostile-input tests share: requests as an attacker sends them, where their effects
land, and the rows of the "hostile input" table (input -> answer -> what kept working)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from impactline.core import cloudevents, topics
from impactline.core.contracts import DeadLetter, TelemetryEvent
from impactline.runtime.clock import SYSTEM
from impactline.runtime.kafka import message_for, new_producer, topic_name
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import TopicTail
from tests.faults.accounting import observe
from tests.faults.conftest import Measurements
from tests.faults.workload import Expected, Workload, ci_id, service_id
from tests.helpers import wait_for

# Short limits, so that the slow-client and revocation cases take seconds.
HTTP_ENVIRONMENT = {
    "IMPACTLINE_HTTP_HEADER_TIMEOUT_S": "2",
    "IMPACTLINE_HTTP_BODY_TIMEOUT_S": "2",
    "IMPACTLINE_HTTP_STREAM_RECHECK_S": "1",
    "IMPACTLINE_HTTP_BURST": "100",
    "IMPACTLINE_HTTP_RATE_PER_S": "20",
    "IMPACTLINE_HTTP_AUTH_FAILURES_PER_MIN": "20",
}


@dataclass
class Row:
    """One line of the table: what was sent, what came back, what kept working."""

    case: str
    input: str
    answer: str
    kept: str

    def record(self, measurements: Measurements) -> None:
        measurements.note(
            f"hostile: {self.case}", input=self.input, answer=self.answer, kept=self.kept
        )


@dataclass
class Probe:
    """Valid state changes sent between the hostile requests, accounted for at the end."""

    group: str
    cis: int
    sent: list[TelemetryEvent] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)

    def next_event(self) -> TelemetryEvent:
        """The next state change: the next CI in turn goes down, or back to ok."""
        ci = ci_id(self.group, len(self.sent) % self.cis)
        state = "ok" if self.state.get(ci) == "down" else "down"
        return TelemetryEvent(ci_id=ci, state=state, time=SYSTEM.now() - timedelta(seconds=1))

    def accepted(self, event: TelemetryEvent) -> None:
        self.state[event.ci_id] = event.state.value
        self.sent.append(event)

    async def send(self, system: RunningSystem) -> TelemetryEvent:
        """The next state change, accepted by ingest."""
        event = self.next_event()
        async with client(system.ingest_url, system.api_key) as http:
            answer = await http.post("/v1/events", json=[event.model_dump(mode="json")])
        assert answer.status_code == 202, answer.text
        self.accepted(event)
        return event

    def workload(self) -> Workload:
        changes = {
            e.id: Expected(
                e.ci_id, service_id(self.group, int(e.ci_id.rsplit("-", 1)[1])), e.state.value
            )
            for e in self.sent
        }
        failing = {e.ci_id for e in self.sent if e.state.value == "down"}
        return Workload(
            self.group, sorted({e.ci_id for e in self.sent}), [], changes, failing_cis=failing
        )

    async def through(self, system: RunningSystem, event: TelemetryEvent, timeout_s: float) -> None:
        """Wait until `event` reached the incident read model and the impact ledger."""
        probe = Workload(
            self.group, [event.ci_id], [], {event.id: self.workload().changes[event.id]}
        )

        async def arrived() -> bool:
            seen = await observe(system.settings.require_database(), probe)
            return seen.members.total() > 0 and seen.ledger.total() > 0

        await wait_for(arrived, timeout=timeout_s, interval=0.5, message=f"{event.id} through")


def client(base_url: str, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0, **kwargs)


def pointers(problem: dict[str, Any]) -> list[str]:
    return [e.get("pointer") or e.get("header") or e.get("path", "") for e in problem["errors"]]


async def produce(
    system: RunningSystem, topic: topics.Topic, value: bytes, headers: list
) -> tuple[str, int, int]:
    """Put one message on `topic` as another process would; returns where it landed."""
    producer = new_producer(system.settings.require_kafka(), "faults-hostile")
    await producer.start()
    try:
        name = topic_name(topic, system.settings.topic_prefix)
        meta = await producer.send_and_wait(name, value=value, headers=headers, key=b"hostile")
    finally:
        await producer.stop()
    return name, meta.partition, meta.offset


def encoded(topic: topics.Topic, event: Any) -> tuple[bytes, list]:
    return message_for(topic, event, source="faults-hostile")


async def dead_letter_for(
    letters: TopicTail, where: tuple[str, int, int], source_prefix: str, timeout_s: float
) -> DeadLetter:
    """The dead letter a reader wrote for the message at `where`."""

    def match(envelope: cloudevents.Envelope) -> bool:
        letter = envelope.event
        return (
            isinstance(letter, DeadLetter)
            and (letter.original_topic, letter.original_partition, letter.original_offset) == where
            and letter.source.startswith(source_prefix)
        )

    envelope = await letters.wait_for(match, timeout_s=timeout_s)
    assert isinstance(envelope.event, DeadLetter)
    return envelope.event


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = await call()
    return result, time.monotonic() - started


def pid_alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to read its status counts as ended)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"

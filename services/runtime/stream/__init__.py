"""The stream runtime shared by correlate and impact: batch-at-a-time, transactional, with
event-time watermarks (see `worker` and `impactline.core.eventtime`)."""

from __future__ import annotations

import logging
import os
import socket

from aiokafka import ConsumerRecord
from mode import Service, Worker

from impactline.core import topics
from impactline.runtime.catalog_source import CatalogHolder, follow_catalog
from impactline.runtime.kafka import dead_letter_for, new_producer, publish
from impactline.runtime.metrics import serve, watch_lag
from impactline.runtime.settings import Settings
from impactline.runtime.stream.changelog import state_topic
from impactline.runtime.stream.worker import Stage, StreamWorker, Task
from impactline.runtime.tasks import BackgroundTasks

__all__ = [
    "Stage",
    "StreamProcess",
    "StreamWorker",
    "Task",
    "run_stream",
    "state_topic",
    "worker_id",
]

log = logging.getLogger(__name__)


def worker_id(settings: Settings) -> str:
    """The configured worker id, else one unique to this process."""
    return settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"


class StreamProcess(Service):
    """A stream worker with what runs beside it: the catalog follower and the metrics."""

    def __init__(self, worker: StreamWorker, holder: CatalogHolder, settings: Settings) -> None:
        super().__init__()
        self.worker = worker
        self.holder = holder
        self.settings = settings

    def on_init_dependencies(self) -> list[Service]:
        return [self.worker]

    async def on_start(self) -> None:
        # Watched: a task that fails is logged, counted (impactline_task_failures_total,
        # impactline_task_up) and started again; one that keeps failing stops the process.
        self.tasks = BackgroundTasks(self.worker.stage.name)
        self.tasks.start("catalog", self._follow_catalog)
        if self.settings.metrics_port is not None:
            port = serve(self.settings.metrics_port or 0, self.settings.metrics_host)
            log.info("metrics on http://%s:%d/metrics", self.settings.metrics_host, port)
            group = self.worker.group
            self.tasks.start("lag", lambda: watch_lag(self.settings.require_kafka(), group))

    async def on_stop(self) -> None:
        await self.tasks.stop()

    async def _follow_catalog(self) -> None:
        settings = self.settings
        name = self.worker.stage.name
        producer = new_producer(settings.require_kafka(), f"impactline-{name}-catalog")
        await producer.start()

        async def dead_letter(msg: ConsumerRecord, reason: str) -> None:
            # Every worker reads the whole catalog topic, so each reports a bad message once.
            letter = dead_letter_for(
                reason=reason,
                source=name,
                value=msg.value,
                headers=msg.headers,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
            )
            await publish(
                producer,
                topics.DEAD_LETTERS,
                letter,
                key=name,
                source=f"impactline/{name}",
                prefix=settings.topic_prefix,
            )

        try:
            await follow_catalog(
                self.holder,
                settings.require_kafka(),
                settings.topic_prefix,
                on_invalid=dead_letter,
            )
        finally:
            await producer.stop()


def run_stream(process: StreamProcess, loglevel: str = "info") -> None:
    """Run a stream process in the foreground until SIGINT/SIGTERM, then stop it cleanly (the
    turn in progress commits first)."""
    Worker(
        process, loglevel=loglevel, quiet=True, redirect_stdouts=False
    ).execute_from_commandline()

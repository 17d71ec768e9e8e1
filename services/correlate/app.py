"""The correlate process: telemetry, change records and incident commands in (keyed by
correlation domain); incidents, CI annotations and business service health out.

Both correlation stages run in one step per input partition (`CorrelationProcessor`); this
module only says which processor serves a partition and keeps it on the current catalog.
"""

from __future__ import annotations

import weakref

from impactline.core import topics
from impactline.core.correlation import CorrelationConfig, CorrelationContext, Suppressions
from impactline.core.correlation.processor import CorrelationProcessor
from impactline.core.processing import Output
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion
from impactline.runtime.settings import Settings
from impactline.runtime.stream import StreamProcess, StreamWorker, worker_id
from impactline.runtime.telemetry import setup_tracing


def load_rules(settings: Settings) -> tuple[CorrelationConfig, Suppressions]:
    config = (
        CorrelationConfig.from_yaml(
            settings.correlation_config.read_text(), str(settings.correlation_config)
        )
        if settings.correlation_config
        else CorrelationConfig()
    )
    suppressions = (
        Suppressions.from_yaml(settings.suppressions.read_text(), str(settings.suppressions))
        if settings.suppressions
        else Suppressions()
    )
    return config, suppressions


class CorrelateStage:
    name = "correlate"
    inputs = (topics.TELEMETRY, topics.CHANGES, topics.INCIDENT_COMMANDS)

    def __init__(
        self, holder: CatalogHolder, config: CorrelationConfig, suppressions: Suppressions
    ) -> None:
        self.holder = holder
        self.config = config
        self.suppressions = suppressions
        self._tasks: weakref.WeakSet[CorrelationProcessor] = weakref.WeakSet()
        holder.on_switch(self._switch)

    def _context(self, current: CatalogVersion) -> CorrelationContext:
        return CorrelationContext(
            current.graph, self.config, self.suppressions, catalog_version=current.version
        )

    def _switch(self, current: CatalogVersion) -> None:
        context = self._context(current)
        for task in self._tasks:
            task.use(context)

    def task(self) -> CorrelationProcessor:
        current = self.holder.current
        task = CorrelationProcessor(self._context(current))
        self._tasks.add(task)
        return task

    def collect(self, outputs: list[Output], traceparent: str | None) -> None:
        """Correlate has no side effects outside its transaction."""

    async def start(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def create_process(settings: Settings, holder: CatalogHolder | None = None) -> StreamProcess:
    setup_tracing("correlate", settings.otel_exporter)
    holder = holder or CatalogHolder.from_files(settings.catalog_paths)
    config, suppressions = load_rules(settings)
    stage = CorrelateStage(holder, config, suppressions)
    worker = StreamWorker(stage, settings, worker_id=worker_id(settings))
    return StreamProcess(worker, holder, settings)

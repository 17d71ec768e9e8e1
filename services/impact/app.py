"""The impact process: business service health and user feedback in (keyed by service id);
experience-impact events, prioritised alerts, ITSM incident records, XLA reports and the impact
ledger out.

Impact and experience run per input partition in `ImpactProcessor`; this module says which
processor serves a partition, keeps the engine on the current catalog and writes the ledger.
"""

from __future__ import annotations

import weakref
from datetime import timedelta

from impactline.core import topics
from impactline.core.calendar import load_calendars
from impactline.core.contracts import ImpactEvent
from impactline.core.experience import ExperiencePolicy
from impactline.core.impact import (
    DEFAULT_ROUTING,
    ImpactEngine,
    load_routing_rules,
    load_scoring_config,
)
from impactline.core.impact.processor import ImpactProcessor
from impactline.core.processing import Output
from impactline.core.scoring import DEFAULT_CONFIG, ScoringConfig
from impactline.impact.ledger import ImpactLedger
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion
from impactline.runtime.settings import Settings
from impactline.runtime.stream import StreamProcess, StreamWorker, worker_id
from impactline.runtime.telemetry import setup_tracing, trace_id_of


def create_engine(settings: Settings, holder: CatalogHolder) -> ImpactEngine:
    """The engine with the configured calendars, scoring and routing (defaults where unset)."""
    current = holder.current
    return ImpactEngine(
        current.catalog,
        load_calendars(settings.calendars_dir) if settings.calendars_dir else {},
        load_scoring_config(settings.scoring_config) if settings.scoring_config else DEFAULT_CONFIG,
        load_routing_rules(settings.impact_routing) if settings.impact_routing else DEFAULT_ROUTING,
        catalog_version=current.version,
        accrual_period=timedelta(seconds=settings.accrual_seconds),
    )


def experience_policy(settings: Settings, config: ScoringConfig) -> ExperiencePolicy:
    """Windows and SLO period from the settings; burn-rate rules and XLA weights from the
    scoring configuration."""
    return ExperiencePolicy(
        windows=settings.xla_window_spans(),
        slo_period=settings.slo_period_span(),
        rules=config.rules(),
        weights=config.xla,
        min_bad=timedelta(seconds=settings.burn_min_bad_seconds),
    )


class ImpactStage:
    name = "impact"
    inputs = (topics.SERVICE_HEALTH, topics.FEEDBACK)

    def __init__(
        self,
        holder: CatalogHolder,
        engine: ImpactEngine,
        policy: ExperiencePolicy,
        every: timedelta,
        ledger: ImpactLedger,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.every = every
        self.ledger = ledger
        self._tasks: weakref.WeakSet[ImpactProcessor] = weakref.WeakSet()
        holder.on_switch(self._switch)

    def _switch(self, current: CatalogVersion) -> None:
        self.engine.use(current.catalog, current.version)
        for task in self._tasks:
            task.use_catalog()

    def task(self) -> ImpactProcessor:
        task = ImpactProcessor(self.engine, self.policy, self.every)
        self._tasks.add(task)
        return task

    def collect(self, outputs: list[Output], traceparent: str | None) -> None:
        """Every impact event once in the ledger, written before the transaction commits."""
        trace_id = trace_id_of(traceparent)
        for output in outputs:
            if output.topic is topics.IMPACT and isinstance(output.event, ImpactEvent):
                self.ledger.stage(output.event, trace_id)

    async def start(self) -> None:
        await self.ledger.start()

    async def flush(self) -> None:
        await self.ledger.flush(self.ledger.freeze())

    async def stop(self) -> None:
        await self.ledger.stop()


def create_process(
    settings: Settings, holder: CatalogHolder | None = None, ledger: ImpactLedger | None = None
) -> StreamProcess:
    setup_tracing("impact", settings.otel_exporter)
    holder = holder or CatalogHolder.from_files(settings.catalog_paths)
    engine = create_engine(settings, holder)
    stage = ImpactStage(
        holder,
        engine,
        experience_policy(settings, engine.config),
        timedelta(seconds=settings.xla_seconds),
        ledger or ImpactLedger(settings.require_database()),
    )
    worker = StreamWorker(stage, settings, worker_id=worker_id(settings))
    return StreamProcess(worker, holder, settings)

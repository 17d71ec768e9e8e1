"""The correlation rules: pure, deterministic and serialisable.

Stage 1, keyed by CI id: `CITracker` de-duplicates telemetry, damps flapping and marks silent
CIs unknown; its accepted `StateChange`s become `CIStateChanged` records keyed by correlation
domain. Stage 2, keyed by domain: `DomainCorrelator` groups failures into incidents with
root-cause candidates and suspect changes and runs their lifecycle. `CorrelationEngine` chains
both in memory. docs/correlation.md explains every rule and default.
"""

from impactline.core.correlation.ci_tracker import CITracker
from impactline.core.correlation.config import (
    CorrelationConfig,
    CorrelationConfigInvalid,
    DampingConfig,
    DedupConfig,
    GroupingConfig,
    LifecycleConfig,
    StalenessConfig,
    SuspectConfig,
)
from impactline.core.correlation.domain import (
    DomainCorrelator,
    IncidentCommandRejected,
    IncidentNotFound,
)
from impactline.core.correlation.durations import Duration, format_duration, parse_duration
from impactline.core.correlation.engine import CorrelationEngine, EngineResult
from impactline.core.correlation.incident import Incident, Member, incident_id_for
from impactline.core.correlation.outcomes import CIOutcome, StateChange, Verdict, changes_of
from impactline.core.correlation.records import Annotation, DomainResult, FailureRecord, Note
from impactline.core.correlation.serial import StateFormatError
from impactline.core.correlation.suppressions import (
    MaintenanceWindow,
    Silence,
    SuppressionMatch,
    Suppressions,
    SuppressionsInvalid,
)
from impactline.core.correlation.topology import CorrelationContext, Topology

__all__ = [
    "Annotation",
    "CIOutcome",
    "CITracker",
    "CorrelationConfig",
    "CorrelationConfigInvalid",
    "CorrelationContext",
    "CorrelationEngine",
    "DampingConfig",
    "DedupConfig",
    "DomainCorrelator",
    "DomainResult",
    "Duration",
    "EngineResult",
    "FailureRecord",
    "GroupingConfig",
    "Incident",
    "IncidentCommandRejected",
    "IncidentNotFound",
    "LifecycleConfig",
    "MaintenanceWindow",
    "Member",
    "Note",
    "Silence",
    "StalenessConfig",
    "StateChange",
    "StateFormatError",
    "SuppressionMatch",
    "Suppressions",
    "SuppressionsInvalid",
    "SuspectConfig",
    "Topology",
    "Verdict",
    "changes_of",
    "format_duration",
    "incident_id_for",
    "parse_duration",
]

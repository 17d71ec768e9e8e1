"""Experience tracking per business service: XLA scores over rolling windows with target
breaches as events, and the SLO error budget with multi-window burn-rate alerts.

Pure code. The streaming shell keeps one `ExperienceState` per business service (as the plain
mapping `to_dict` gives), feeds it with `record_health`, `record_feedback` and `record_impact`,
and periodically calls `evaluate` and `publish`; `fastest_burn_rate` is the error-budget burn
the impact engine takes for urgency.
"""

from impactline.core.experience.evaluation import (
    Evaluation,
    WindowScore,
    evaluate,
    fastest_burn_rate,
    window_profile,
    window_signals,
)
from impactline.core.experience.policy import (
    DEFAULT_MIN_BAD,
    DEFAULT_SLO_PERIOD,
    DEFAULT_WINDOWS,
    ExperiencePolicy,
    PolicyError,
    iso_duration,
    rule_key,
    span_phrase,
)
from impactline.core.experience.reports import (
    PAGE_PRIORITY,
    TICKET_PRIORITY,
    Outcome,
    ServiceRef,
    alert_priority,
    budget_status,
    close_all,
    dedup_key,
    publish,
)
from impactline.core.experience.state import (
    ExperienceState,
    ExperienceStateError,
    compacted,
    record_feedback,
    record_health,
    record_impact,
)
from impactline.core.experience.timeline import Bucket, Timeline, TimelineIndex

__all__ = [
    "DEFAULT_MIN_BAD",
    "DEFAULT_SLO_PERIOD",
    "DEFAULT_WINDOWS",
    "PAGE_PRIORITY",
    "TICKET_PRIORITY",
    "Bucket",
    "Evaluation",
    "ExperiencePolicy",
    "ExperienceState",
    "ExperienceStateError",
    "Outcome",
    "PolicyError",
    "ServiceRef",
    "Timeline",
    "TimelineIndex",
    "WindowScore",
    "alert_priority",
    "budget_status",
    "close_all",
    "compacted",
    "dedup_key",
    "evaluate",
    "fastest_burn_rate",
    "iso_duration",
    "publish",
    "record_feedback",
    "record_health",
    "record_impact",
    "rule_key",
    "span_phrase",
    "window_profile",
    "window_signals",
]

"""Scoring: who an impact reaches, how much it weighs, its priority, and experience scores.

Pure functions over small value types; formulas are documented in docs/scoring.md and in each
module's docstring.
"""

from impactline.core.scoring.accrual import ImpactAccrual, WeightSource
from impactline.core.scoring.assessment import ImpactAssessment, assess_impact
from impactline.core.scoring.config import DEFAULT_CONFIG, ScoringConfig, ScoringConfigError
from impactline.core.scoring.error_budget import (
    DEFAULT_BURN_RATE_RULES,
    AlertSeverity,
    AvailabilitySample,
    BurnRateAlert,
    BurnRateRule,
    ErrorBudget,
    SampleWindow,
    burn_rate,
    burn_rate_alerts,
    error_budget,
    fastest_burn_rate,
)
from impactline.core.scoring.impact import (
    DEFAULT_FACTORS,
    ImpactFactors,
    ImpactRate,
    RateFunction,
    affected_personas,
    impact_rate,
    rate_function,
)
from impactline.core.scoring.priority import (
    DEFAULT_POLICY,
    Level,
    PriorityAssessment,
    PriorityPolicy,
    assess_priority,
    impact_level,
    urgency_level,
)
from impactline.core.scoring.profile import Persona, ServiceProfile, StakeholderType, Vip
from impactline.core.scoring.sentiment import comment_sentiment, feedback_sentiment
from impactline.core.scoring.visibility import Visibility, assess_visibility
from impactline.core.scoring.xla import (
    DEFAULT_WEIGHTS,
    XlaBreach,
    XlaScore,
    XlaSignals,
    XlaWeights,
    mean_csat,
    xla_score,
)

__all__ = [
    "DEFAULT_BURN_RATE_RULES",
    "DEFAULT_CONFIG",
    "DEFAULT_FACTORS",
    "DEFAULT_POLICY",
    "DEFAULT_WEIGHTS",
    "AlertSeverity",
    "AvailabilitySample",
    "BurnRateAlert",
    "BurnRateRule",
    "ErrorBudget",
    "ImpactAccrual",
    "ImpactAssessment",
    "ImpactFactors",
    "ImpactRate",
    "Level",
    "Persona",
    "PriorityAssessment",
    "PriorityPolicy",
    "RateFunction",
    "SampleWindow",
    "ScoringConfig",
    "ScoringConfigError",
    "ServiceProfile",
    "StakeholderType",
    "Vip",
    "Visibility",
    "WeightSource",
    "XlaBreach",
    "XlaScore",
    "XlaSignals",
    "XlaWeights",
    "affected_personas",
    "assess_impact",
    "assess_priority",
    "assess_visibility",
    "burn_rate",
    "burn_rate_alerts",
    "comment_sentiment",
    "error_budget",
    "fastest_burn_rate",
    "feedback_sentiment",
    "impact_level",
    "impact_rate",
    "mean_csat",
    "rate_function",
    "urgency_level",
    "xla_score",
]

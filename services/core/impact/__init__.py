"""The impact engine: business service health and the clock in; experience-impact events,
prioritised alerts and ITSM incident records out.

Pure code: the streaming shell keeps one `EpisodeState` per business service (as the plain
mapping `to_dict` gives) and calls `ImpactEngine.on_health` for each service-health event and
`ImpactEngine.on_tick` periodically for every open episode. `loader` is the one module that
reads files.
"""

from impactline.core.impact.engine import (
    DEFAULT_ACCRUAL_PERIOD,
    ImpactEngine,
    RoutedImpact,
    Step,
    UnknownService,
)
from impactline.core.impact.episode import CalendarMark, EpisodeState, EpisodeStateError, Notice
from impactline.core.impact.loader import load_routing_rules, load_scoring_config
from impactline.core.impact.profile import ProfileError, profile_for
from impactline.core.impact.routing import (
    DEFAULT_ROUTING,
    RouteMatch,
    RoutingError,
    RoutingRule,
    RoutingRules,
)

__all__ = [
    "DEFAULT_ACCRUAL_PERIOD",
    "DEFAULT_ROUTING",
    "CalendarMark",
    "EpisodeState",
    "EpisodeStateError",
    "ImpactEngine",
    "Notice",
    "ProfileError",
    "RouteMatch",
    "RoutedImpact",
    "RoutingError",
    "RoutingRule",
    "RoutingRules",
    "Step",
    "UnknownService",
    "load_routing_rules",
    "load_scoring_config",
    "profile_for",
]

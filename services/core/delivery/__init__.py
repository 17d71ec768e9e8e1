"""Delivery to pagers, chat and ITSM tools, as pure code: the route file, routing of notices
to destinations, the readable impact explanation, the vendors' request formats, signatures,
retry pacing, escalation and what comes back (back-sync). The notify process is the shell.
"""

from impactline.core.delivery.config import ACCEPTS, DeliveryConfigError, RouteFile, Source
from impactline.core.delivery.destinations import DeliveryPolicy, SecretRef
from impactline.core.delivery.explain import Explained, IncidentContext, explain
from impactline.core.delivery.loader import load_route_file
from impactline.core.delivery.notice import Action, Notice, from_alert, from_incident, from_itsm
from impactline.core.delivery.routing import Holding, Holdings, Planned, plan

__all__ = [
    "ACCEPTS",
    "Action",
    "DeliveryConfigError",
    "DeliveryPolicy",
    "Explained",
    "Holding",
    "Holdings",
    "IncidentContext",
    "Notice",
    "Planned",
    "RouteFile",
    "SecretRef",
    "Source",
    "explain",
    "from_alert",
    "from_incident",
    "from_itsm",
    "load_route_file",
    "plan",
]

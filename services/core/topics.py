"""The topic registry: every topic's name, contract, partitioning and retention in one place.

Processes, the AsyncAPI document and the deployment manifests all read this table, so a topic is
added or re-partitioned here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from impactline.core import contracts as c


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    contract: type[c.Contract]
    ce_type: str
    key: str
    description: str
    compacted: bool = False
    partitions: int | None = None  # None: the deployment's default partition count
    # Broker-side `max.message.bytes`; None: the broker default (about 1 MiB).
    max_message_bytes: int | None = None
    # Broker-side `retention.ms`; None: the broker default.
    retention_ms: int | None = None

    def __str__(self) -> str:
        return self.name


TELEMETRY = Topic(
    "telemetry",
    c.TelemetryEvent,
    "io.impactline.telemetry.v1",
    "correlation_domain",
    "Validated CI observations from every source, keyed by the correlation domain of the CI "
    "(its own id when the catalog does not know it).",
)
CHANGES = Topic(
    "changes",
    c.ChangeEvent,
    "io.impactline.change.v1",
    "correlation_domain",
    "Change records (deployments, configuration) on CIs, keyed by the correlation domain of "
    "the CI.",
)
FEEDBACK = Topic(
    "feedback",
    c.FeedbackEvent,
    "io.impactline.feedback.v1",
    "service_id",
    "User feedback: CSAT and comments per business service.",
)
RAW = Topic(
    "raw",
    c.TelemetryEvent,
    "io.impactline.telemetry.v1",
    "ci_id",
    "Native events from other producers (CloudEvents binary mode or plain TelemetryEvent JSON); "
    "ingest validates them and forwards them to telemetry, changes or feedback.",
)
INCIDENT_COMMANDS = Topic(
    "incident-commands",
    c.IncidentCommand,
    "io.impactline.incident-command.v1",
    "correlation_domain",
    "Acknowledge and resolve commands from the API, keyed by correlation domain.",
)
CI_ANNOTATIONS = Topic(
    "ci-annotations",
    c.CIAnnotation,
    "io.impactline.ci-annotation.v1",
    "correlation_domain",
    "How each CI state change was handled: opened, joined, silenced (with the reason).",
)
SERVICE_HEALTH = Topic(
    "service-health",
    c.ServiceHealthEvent,
    "io.impactline.service-health.v1",
    "service_id",
    "Business service state changes derived from CI states and the catalog graph.",
)
INCIDENTS = Topic(
    "incidents",
    c.IncidentEvent,
    "io.impactline.incident.v1",
    "incident_id",
    "Incident lifecycle: opened, updated, acknowledged, resolved, reopened.",
)
IMPACT = Topic(
    "impact.all",
    c.ImpactEvent,
    "io.impactline.impact.v1",
    "service_id",
    "Experience-impact events of every business domain.",
)
ALERTS = Topic(
    "alerts",
    c.AlertEvent,
    "io.impactline.alert.v1",
    "dedup_key",
    "Alerts prioritised by business impact for on-call engineers.",
)
XLA = Topic(
    "xla",
    c.XlaReport,
    "io.impactline.xla.v1",
    "service_id",
    "Experience scores per business service and rolling window: target breaches and "
    "recoveries as events, and periodic updates.",
)
ITSM = Topic(
    "itsm",
    c.ItsmIncidentEvent,
    "io.impactline.itsm-incident.v1",
    "incident_id",
    "Incident create/update/resolve records for ITSM tools.",
)
DELIVERIES = Topic(
    "deliveries",
    c.DeliveryRecord,
    "io.impactline.delivery.v1",
    "incident_id",
    "What notify delivered to pagers, chat and ITSM tools: the latest state of each delivery "
    "(pending, sent, skipped, dead) with attempts and the destination's own reference.",
)
DEAD_LETTERS = Topic(
    "dead-letters",
    c.DeadLetter,
    "io.impactline.dead-letter.v1",
    "source",
    "Input that could not be processed, with the reason.",
)
UNBOUND_RETENTION_DAYS = 30
UNBOUND = Topic(
    "unbound",
    c.UnboundEvent,
    "io.impactline.unbound.v1",
    "key",
    "Events whose CI no binding rule found, kept for replay once a binding is added "
    f"({UNBOUND_RETENTION_DAYS} days); a replay adds a `bound` record under the same id.",
    retention_ms=UNBOUND_RETENTION_DAYS * 24 * 3600 * 1000,
)
CATALOG = Topic(
    "catalog",
    c.CatalogPublished,
    "io.impactline.catalog.v1",
    "catalog",
    "The current service catalog; compacted so the latest version is always there.",
    compacted=True,
    partitions=1,
    # A large catalog is tens of MB of JSON; gzip brings 100k CIs to a few MB per message.
    max_message_bytes=64 * 1024 * 1024,
)

REGISTRY: tuple[Topic, ...] = (
    TELEMETRY,
    CHANGES,
    FEEDBACK,
    RAW,
    INCIDENT_COMMANDS,
    CI_ANNOTATIONS,
    SERVICE_HEALTH,
    INCIDENTS,
    IMPACT,
    ALERTS,
    ITSM,
    XLA,
    DELIVERIES,
    DEAD_LETTERS,
    UNBOUND,
    CATALOG,
)


def impact_topic(name: str) -> Topic:
    """An impact topic by name: `impact.all`, `impact.<domain>` or one a routing rule names."""
    if name == IMPACT.name:
        return IMPACT
    return Topic(
        name, c.ImpactEvent, IMPACT.ce_type, IMPACT.key, f"Experience-impact events: {name}."
    )


def impact_domain_topic(business_domain: str) -> Topic:
    """The per-domain impact topic SRE teams subscribe to, e.g. `impact.finance`."""
    return Topic(
        f"impact.{business_domain}",
        c.ImpactEvent,
        IMPACT.ce_type,
        IMPACT.key,
        f"Experience-impact events of the {business_domain} business domain.",
    )

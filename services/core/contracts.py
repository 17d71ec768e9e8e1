"""Event contracts: one pydantic model per topic.

These models are the shared language of every process. The JSON Schemas and the AsyncAPI
document under docs/ are generated from them (`impactline schemas write`), and a test fails when
the committed documents drift from the models.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from impactline.core.states import State
from impactline.core.values import (
    ID_PATTERN,
    TEXT_PATTERN,
    clean_labels,
    clean_text,
    printable_id,
    rfc3339,
    within_window,
)

# Event ids derived from other events use this namespace, so that replaying an input yields the
# same derived id and idempotent sinks see a duplicate instead of a new event.
EVENT_NAMESPACE = uuid.UUID("5b0c5e46-8f43-4b0e-9a51-6b1f0a6c1d2e")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def derived_id(*parts: str) -> str:
    """A stable id for an event caused by `parts` (e.g. the source event id and a service id):
    the name-based UUID (version 5, RFC 9562) of `parts` in EVENT_NAMESPACE.

    Computed from the SHA-1 digest directly rather than through `uuid.uuid5`: the same value,
    without building a UUID object, on a path taken several times per input event."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id() -> str:
    return str(uuid.uuid4())


def _require_timezone(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone offset, e.g. 2026-11-30T10:00:00Z")
    return value


AwareDatetime = Annotated[
    datetime,
    BeforeValidator(rfc3339),
    AfterValidator(_require_timezone),
    Field(json_schema_extra={"format": "date-time"}),
]
# The time an input event happened: also within the window ingest accepts (see core.values).
EventTime = Annotated[AwareDatetime, AfterValidator(within_window)]
Identifier = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
]
# Ids of events and incidents, names of domains: anything printable, never a control character.
# The patterns are documentation; the validators give the error a client can act on.
EventId = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(printable_id),
]
Reference = Annotated[
    str,
    Field(max_length=200, json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(printable_id),
]
Text = Annotated[
    str, Field(json_schema_extra={"pattern": TEXT_PATTERN}), AfterValidator(clean_text)
]
Labels = Annotated[dict[str, str], AfterValidator(clean_labels)]
Count = Annotated[int, Field(strict=True)]
Number = Annotated[float, Field(strict=True)]


class Contract(BaseModel):
    """Base of every topic payload: strict about unknown fields so typos are caught at the edge."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Binding(Contract):
    """How ingest found the catalog CI of an event (`impactline.core.binding`)."""

    rule: str = Field(
        max_length=100,
        description="The binding rule that matched; `key` when what the source named is a CI id "
        "or alias as it is.",
    )
    input: str = Field(
        max_length=100,
        description="The input the event came through: `alertmanager`, `native`, `cloudevents`, "
        "`pagerduty`, `changes`, `raw`, or a webhook mapping's name.",
    )
    key: str = Field(max_length=1000, description="What the source named the CI, as sent.")
    value: str = Field(
        max_length=1000, description="What was looked up, after templates and normalisation."
    )
    via: str = Field(
        max_length=200,
        description="How the value names the CI: `id`, `alias` or `attribute:<name>`.",
    )
    catalog_version: int = Field(ge=0, description="The catalog version that bound it.")
    correlation_domain: str | None = Field(
        default=None,
        max_length=200,
        description="The CI's correlation domain in that catalog version: where it is grouped.",
    )


class TelemetryEvent(Contract):
    """One observation about a CI, as normalised by ingest."""

    id: EventId = Field(
        default_factory=new_id, description="Unique event id; reused ids are duplicates."
    )
    ci_id: Identifier = Field(description="The configuration item observed, e.g. `db-gl-01`.")
    state: State = Field(description="The CI state this observation indicates.")
    time: EventTime = Field(description="When it was observed.")
    source: Reference = Field(default="api", description="Who reported it.")
    summary: Text = Field(default="", max_length=2000, description="Human-readable description.")
    metric: Reference | None = Field(default=None, description="Metric name, if any.")
    value: Number | None = Field(default=None, description="Metric value, if any.")
    attributes: Labels = Field(default_factory=dict, description="Free-form labels.")
    binding: Binding | None = Field(
        default=None, description="How ingest bound the event to `ci_id`; set by ingest."
    )


class ChangeKind(StrEnum):
    DEPLOYMENT = "deployment"
    CONFIGURATION = "configuration"
    INFRASTRUCTURE = "infrastructure"
    OTHER = "other"


class ChangeAssessmentSummary(Contract):
    """The figures of a planned change's risk assessment (`POST /v1/changes/assess`), kept with
    the change record so an incident it is suspected of can be weighed against them. The field
    names are the assessment answer's, so that answer can be passed along as it is."""

    start: AwareDatetime = Field(description="Start of the assessed window.")
    end: AwareDatetime = Field(description="End of the assessed window.")
    worst_case_business_impact_minutes: float = Field(
        ge=0, allow_inf_nan=False, description="If the CIs fail for the whole window."
    )
    expected_business_impact_minutes: float = Field(
        ge=0, allow_inf_nan=False, description="Risk of failure x the cost of the assumed outage."
    )
    risk: float | None = Field(default=None, ge=0, le=1, description="Probability of failure.")
    periods: list[Text] = Field(
        default_factory=list, max_length=50, description="Periods crossed, as `name xweight`."
    )
    users_affected: int | None = Field(default=None, ge=0)
    worst_priority: Priority | None = None
    assessed_at: AwareDatetime | None = Field(default=None, description="When it was assessed.")
    catalog_version: int | None = Field(default=None, ge=0, description="Catalog assessed on.")

    @model_validator(mode="after")
    def _ordered(self) -> ChangeAssessmentSummary:
        if self.end <= self.start:
            raise ValueError("the assessed window must end after it starts")
        return self


class ChangeEvent(Contract):
    """A change record on a CI: a deployment or a configuration change."""

    id: EventId = Field(default_factory=new_id)
    ci_id: Identifier
    kind: ChangeKind = ChangeKind.DEPLOYMENT
    time: EventTime
    summary: Text = Field(default="", max_length=2000)
    author: Reference | None = None
    reference: Reference | None = Field(
        default=None, max_length=500, description="Pipeline run or ticket."
    )
    source: Reference = "api"
    binding: Binding | None = Field(
        default=None, description="How ingest bound the change to `ci_id`; set by ingest."
    )
    assessment: ChangeAssessmentSummary | None = Field(
        default=None, description="The planned change's risk assessment, as the client had it."
    )


class FeedbackEvent(Contract):
    """What a user said about a business service."""

    id: EventId = Field(default_factory=new_id)
    service_id: Identifier
    time: EventTime
    csat: Count | None = Field(default=None, ge=1, le=5, description="Satisfaction 1 (worst) to 5.")
    comment: Text | None = Field(default=None, max_length=5000)
    user_id: Reference | None = None
    source: Reference = "api"


class CIStateChanged(Contract):
    """A CI's state changed; re-keyed by correlation domain so a domain is handled in one place."""

    id: EventId
    ci_id: Identifier
    state: State
    previous_state: State
    time: AwareDatetime
    correlation_domain: Reference
    cause_event_id: EventId


class HealthReason(StrEnum):
    """Why a service-health event was emitted."""

    STATE_CHANGE = "state-change"
    """The service's state changed."""
    ATTRIBUTION = "attribution"
    """Same state, but the incidents charged with it (or its planned status) changed: a merge,
    an incident opened when a maintenance window ended, a cause that recovered while another
    one still holds the service down."""


class ServiceHealthEvent(Contract):
    """A business service changed state because a CI under it changed state, or the incidents
    charged with its impairment changed (docs/correlation.md, "Attribution")."""

    id: EventId
    reason: HealthReason = HealthReason.STATE_CHANGE
    service_id: Identifier
    state: State
    previous_state: State
    time: AwareDatetime
    correlation_domain: Reference = Field(description="Connected component of the catalog graph.")
    cause_ci_id: Identifier
    cause_event_id: EventId
    incident_id: Reference | None = Field(
        default=None, description="The first of `incident_ids`: the incident charged first."
    )
    incident_ids: list[Reference] = Field(
        default_factory=list,
        description="Every active incident charged with the service's impairment from now on: "
        "those whose own failures would leave it degraded or down; worst explained state first.",
    )
    planned_by: Text | None = Field(
        default=None,
        description="Set when only planned work impairs the service (no incident is charged): "
        "the maintenance windows or silences covering it.",
    )
    catalog_version: Count = Field(ge=0)


class CIAnnotation(Contract):
    """How correlate handled one CI state change: joined or opened an incident, or silenced.

    Silenced failures are kept here with the reason, never dropped.
    """

    id: EventId
    ci_id: Identifier
    state: State
    time: AwareDatetime
    cause_event_id: EventId
    correlation_domain: Reference
    note: Text
    incident_id: Reference | None = None
    silenced_by: Reference | None = None


class IncidentCommandAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class IncidentCommand(Contract):
    """An operator's acknowledge or resolve, routed to the worker that owns the incident."""

    id: EventId = Field(default_factory=new_id)
    incident_id: Reference
    correlation_domain: Reference
    action: IncidentCommandAction
    time: AwareDatetime
    requested_by: Reference
    note: Text = Field(default="", max_length=2000)


class IncidentAction(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    REOPENED = "reopened"


class IncidentState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class SuspectChange(Contract):
    change_id: EventId
    ci_id: Identifier
    kind: ChangeKind
    time: AwareDatetime
    summary: Text = ""
    assessment: ChangeAssessmentSummary | None = None


class IncidentEvent(Contract):
    """Lifecycle of an incident: a group of correlated CI events."""

    id: EventId
    incident_id: Reference
    action: IncidentAction
    state: IncidentState
    time: AwareDatetime
    correlation_domain: Reference
    affected_services: list[Identifier] = Field(default_factory=list)
    member_cis: list[Identifier] = Field(default_factory=list)
    root_cause_candidates: list[Identifier] = Field(default_factory=list)
    suspect_changes: list[SuspectChange] = Field(default_factory=list)
    opened_at: AwareDatetime
    absorbed: list[str] = Field(
        default_factory=list,
        description="Incidents merged into this one; their impact counts as this incident's.",
    )
    merged_into: str | None = Field(
        default=None,
        description="On the `resolved` event of an incident closed by a merge: the survivor.",
    )


class Weighting(StrEnum):
    """How an impact figure was weighted; `unweighted` says plainly that no calendar applied."""

    CALENDAR = "calendar"
    UNWEIGHTED = "unweighted"


class CalendarContext(Contract):
    calendar: str
    period: str
    active_periods: list[str]
    weight: float = Field(ge=0)
    local_time: str


class ImpactReason(StrEnum):
    """Why an impact event was emitted."""

    STATE_CHANGE = "state-change"
    WEIGHT_CHANGE = "weight-change"
    ACCRUAL = "accrual"
    RECOVERED = "recovered"
    ATTRIBUTION = "attribution"
    """The incidents charged with the impact changed (a merge, an incident opened when planned
    work ended, one of two causes recovered), or it stopped or started being planned."""
    VIP_REPORT = "vip-report"
    """A VIP of the service reported a problem (negative feedback) during the impact."""


Priority = Literal["P1", "P2", "P3", "P4", "P5"]


class ImpactShare(Contract):
    """Part of an episode's business impact minutes, by who is charged with it."""

    incident_ids: list[str] = Field(
        description="The incidents charged with these minutes; several: shared (overlap); "
        "none: planned work, or no active incident explains the impairment."
    )
    planned: bool = Field(default=False, description="Accrued during planned work.")
    business_impact_minutes: float = Field(ge=0)


class ImpactEvent(Contract):
    """The experience impact of a business service's state, right now."""

    id: EventId
    reason: ImpactReason = ImpactReason.STATE_CHANGE
    episode_id: str | None = Field(
        default=None,
        description="One impact episode: from the service leaving `ok` until it is `ok` again.",
    )
    started_at: AwareDatetime | None = Field(default=None, description="When the episode began.")
    service_id: Identifier
    service_name: str
    business_domain: str
    correlation_domain: Reference
    state: State
    time: AwareDatetime
    cause_ci_id: Identifier
    cause_event_id: EventId = Field(description="The telemetry event that started the chain.")
    incident_id: Reference | None = Field(
        default=None, description="The incident charged first with the impact right now."
    )
    incident_ids: list[Reference] = Field(
        default_factory=list, description="Every incident charged with the impact right now."
    )
    planned: bool = Field(
        default=False, description="Only planned work causes the impact now: nothing pages."
    )
    planned_by: Text | None = Field(default=None, description="The windows or silences.")
    users_affected: int = Field(ge=0)
    personas_affected: list[str] = Field(default_factory=list)
    tier: int = Field(ge=1, le=4)
    weighting: Weighting
    calendar: CalendarContext | None = None
    impact_rate: float = Field(ge=0, description="Weighted affected user-minutes per minute.")
    business_impact_minutes: float = Field(ge=0, description="Accrued so far for this impact.")
    attribution: list[ImpactShare] = Field(
        default_factory=list,
        description="`business_impact_minutes` split by the incidents charged when they "
        "accrued; the shares add up to the total.",
    )
    priority: Priority | None = None
    impact_level: int | None = Field(default=None, ge=1, le=3, description="ITIL impact 1-3.")
    urgency: int | None = Field(default=None, ge=1, le=3, description="ITIL urgency 1-3.")
    high_visibility: bool = False
    visibility_reasons: list[str] = Field(default_factory=list)
    catalog_version: Count = Field(ge=0)


class ImpactExplanation(Contract):
    """Why an alert or ITSM record says what it says, in business terms, for the people it
    reaches: which service, how many users and which personas, the calendar period and its
    weight, the business impact minutes so far, and the correlated incident it belongs to.

    Resolutions carry what the episode still knows (no users or personas: nobody is affected).
    """

    episode_id: str = Field(description="The impact episode the alert or record stands for.")
    incident_id: str | None = Field(default=None, description="The correlated incident.")
    correlation_domain: str
    started_at: AwareDatetime = Field(description="When the episode began.")
    cause_ci_id: Identifier
    service_name: str | None = None
    business_domain: str | None = None
    users_affected: int | None = Field(default=None, ge=0)
    personas_affected: list[str] = Field(default_factory=list)
    calendar_period: str | None = Field(default=None, description="e.g. `month-end-close`.")
    active_periods: list[str] = Field(default_factory=list)
    calendar_weight: float | None = Field(default=None, ge=0)
    impact_rate: float | None = Field(default=None, ge=0)
    business_impact_minutes: float = Field(ge=0)
    visibility_reasons: list[str] = Field(default_factory=list)


class AlertEvent(Contract):
    """A prioritised alert for the on-call engineer."""

    id: EventId
    dedup_key: str
    priority: Priority
    service_id: Identifier
    owner_team: str
    summary: str
    high_visibility: bool = False
    incident_id: Reference | None = None
    time: AwareDatetime
    resolved: bool = False
    explanation: ImpactExplanation | None = Field(
        default=None, description="The business impact behind the alert, when one is known."
    )


class XlaReportReason(StrEnum):
    """Why an XLA report was emitted."""

    BREACH = "breach"
    RECOVERED = "recovered"
    UPDATE = "update"


class ErrorBudgetStatus(Contract):
    """The SLO error budget of a business service over its SLO period."""

    slo: float = Field(gt=0, lt=1, description="Availability objective, e.g. 0.999.")
    period: str = Field(description="The SLO period as an ISO 8601 duration, e.g. `P30D`.")
    consumed: float = Field(
        ge=0, description="Share of the budget spent; above 1 the SLO is missed."
    )
    remaining: float = Field(description="1 - consumed; negative once the budget is overspent.")
    burn_rate: float | None = Field(
        default=None,
        ge=0,
        description="Fastest burn rate sustained over a rule's window pair; null: no evidence.",
    )


class XlaReport(Contract):
    """The experience (XLA) score of a business service over a rolling window.

    `breach` and `recovered` reports are events: emitted once when the score crosses below its
    target and once when it is back at or above it. `update` reports are periodic, at most
    once per window step (a sixtieth of the window by default).
    """

    id: EventId
    reason: XlaReportReason
    service_id: Identifier
    service_name: str
    window: str = Field(description="Window length as an ISO 8601 duration: `PT1H`, `P30D`.")
    window_start: AwareDatetime
    time: AwareDatetime = Field(description="End of the window: the instant scored.")
    score: float = Field(ge=0, le=100)
    target: float = Field(ge=0, le=100)
    breached: bool = Field(description="Whether the score is below the target.")
    weakest: str | None = Field(default=None, description="Lowest component when breached.")
    components: dict[str, float] = Field(description="Component -> 0-100 score.")
    weights: dict[str, float] = Field(description="Component -> weight after re-normalising.")
    availability: float | None = Field(default=None, ge=0, le=1)
    impact_minutes: float = Field(ge=0, description="Business impact minutes in the window.")
    csat: float | None = Field(default=None, ge=1, le=5, description="Mean rating 1-5.")
    sentiment: float | None = Field(default=None, ge=-1, le=1, description="Mean compound.")
    error_budget: ErrorBudgetStatus
    summary: str


class ItsmAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RESOLVE = "resolve"


class ItsmIncidentEvent(Contract):
    """An incident record for downstream ITSM tools."""

    id: EventId
    action: ItsmAction
    incident_id: Reference = Field(description="The record's own id: the impact episode's id.")
    correlated_incident_id: Reference | None = Field(
        default=None,
        description="The impactline incident charged with the impact (after a merge: the "
        "surviving one).",
    )
    short_description: str
    impact: int = Field(ge=1, le=3)
    urgency: int = Field(ge=1, le=3)
    priority: Priority
    affected_services: list[Identifier]
    business_impact_minutes: float = Field(
        ge=0, description="Accrued since the record was created; planned work is not counted."
    )
    time: AwareDatetime
    explanation: ImpactExplanation | None = Field(
        default=None, description="The business impact behind the record, when one is known."
    )


class DestinationKind(StrEnum):
    """The tools notify delivers to."""

    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"
    SLACK = "slack"
    TEAMS = "teams"
    SERVICENOW = "servicenow"
    JIRA = "jira"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its first attempt, or for the next one after a failure."""
    SENT = "sent"
    """The destination accepted it."""
    SKIPPED = "skipped"
    """Nothing to do at the destination (e.g. resolving a record that was never created)."""
    DEAD = "dead"
    """Refused for good or out of retries; kept with the reason and replayable."""


class DeliveryRecord(Contract):
    """The latest state of one delivery to one destination: published by notify on every change,
    so other processes (the API's delivery view) know what reached whom without reading notify's
    tables. `version` grows with every change; a reader keeps the highest per `delivery_id`."""

    id: EventId = Field(description="`delivery_id` and `version`: unique per change.")
    delivery_id: str
    version: int = Field(ge=1)
    destination: str = Field(description="The destination's name in the route file.")
    kind: DestinationKind
    action: str = Field(description="What was asked of the destination: trigger, resolve, ...")
    source_topic: str = Field(description="alerts, itsm, incidents, or escalation.")
    source_event_id: EventId
    subject: str = Field(description="What the destination tracks: dedup key, record key.")
    incident_id: str | None = None
    service_id: str | None = None
    priority: Priority | None = None
    status: DeliveryStatus
    attempts: int = Field(ge=0)
    last_error: str | None = Field(default=None, max_length=2000)
    external_ref: str | None = Field(
        default=None, description="The destination's own reference: INC0010001, PROJ-42, ..."
    )
    created_at: AwareDatetime
    time: AwareDatetime = Field(description="When this state was reached (wall clock).")


class DeadLetter(Contract):
    """Input that could not be processed, kept with the reason so it can be replayed after a fix."""

    id: EventId = Field(default_factory=new_id)
    reason: str
    source: str = Field(description="The process or adapter that gave up on it.")
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_headers: dict[str, str] = Field(default_factory=dict)
    payload: str = Field(description="The original bytes, decoded as UTF-8 with replacement.")
    time: AwareDatetime


class UnboundKind(StrEnum):
    """Which contract an unbound event becomes once bound."""

    TELEMETRY = "telemetry"
    CHANGE = "change"


class UnboundStatus(StrEnum):
    WAITING = "waiting"
    """No binding found it a CI yet; kept until one does."""
    BOUND = "bound"
    """A replay bound it and published it, with its own id, to its topic."""


class UnboundEvent(Contract):
    """An event whose CI no binding could find, kept so it can be replayed once one does.

    ingest writes `waiting` records; a replay that binds the event writes a `bound` record with
    the same `id`, which is the event's own id (so the replayed event is never counted twice).
    """

    id: EventId = Field(description="The event's id, kept when it is replayed.")
    status: UnboundStatus = UnboundStatus.WAITING
    kind: UnboundKind
    input: str = Field(max_length=100, description="The input the event came through.")
    key: str = Field(max_length=1000, description="What the source named the CI, as sent.")
    event: dict[str, Any] = Field(
        description="The event as translated (its contract's JSON); `ci_id` holds the key."
    )
    reason: str = Field(description="Why no binding found a CI, step by step.")
    candidates: list[str] = Field(
        default_factory=list, description="The CI ids most like what the source named."
    )
    catalog_version: int = Field(ge=0, description="The catalog version that was tried.")
    time: AwareDatetime = Field(description="When it was kept, or bound.")
    ci_id: Identifier | None = Field(default=None, description="The CI it was bound to.")
    rule: str | None = Field(default=None, description="The rule that bound it.")


class CatalogPublished(Contract):
    """A new catalog version; the latest one per key wins on the compacted catalog topic."""

    id: EventId
    version: int = Field(ge=1)
    fingerprint: str
    documents: dict[str, Any] = Field(description="Catalog file name -> parsed YAML content.")
    time: AwareDatetime

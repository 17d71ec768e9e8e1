"""The destinations of a route file (one model per kind of tool), how deliveries to each are
paced and retried, and how secrets are referred to."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from impactline.core.contracts import DestinationKind, Priority

Url = Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Frozen):
    """Where a secret is read from: an environment variable or a file (a Kubernetes secret
    mounted as a volume, for instance). Exactly one of the two."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _reference_not_value(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "secrets are never written in the route file: use {env: VARIABLE} or "
                "{file: /path/to/secret}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def __str__(self) -> str:
        return f"${self.env}" if self.env else f"file {self.file}"


class Backoff(Frozen):
    initial_seconds: float = Field(default=1.0, gt=0)
    max_seconds: float = Field(default=300.0, gt=0)
    jitter_seconds: float = Field(default=1.0, ge=0)


class RateLimit(Frozen):
    per_second: float = Field(default=5.0, gt=0)
    burst: int = Field(default=10, ge=1)


class Circuit(Frozen):
    failures: int = Field(default=5, ge=1, description="consecutive failures that open it")
    cooldown_seconds: float = Field(default=60.0, gt=0)


class DeliveryPolicy(Frozen):
    """How one destination is paced and retried."""

    timeout_seconds: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=8, ge=1, description="the retry budget, first try included")
    backoff: Backoff = Field(default_factory=Backoff)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    circuit: Circuit = Field(default_factory=Circuit)
    concurrency: int = Field(default=4, ge=1, le=64)


class _Destination(Frozen):
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


class PagerDuty(_Destination):
    kind: Literal[DestinationKind.PAGERDUTY]
    routing_key: SecretRef = Field(description="Integration key of an Events API v2 integration.")
    url: Url = "https://events.pagerduty.com/v2/enqueue"
    webhook_secret: SecretRef | None = Field(
        default=None, description="Signing secret of the v3 webhook subscription (back-sync)."
    )
    severities: dict[Priority, PagerDutySeverity] = Field(
        default_factory=lambda: {
            "P1": "critical",
            "P2": "error",
            "P3": "warning",
            "P4": "info",
            "P5": "info",
        }
    )


class OpsgenieResponder(Frozen):
    type: Literal["team", "user", "escalation", "schedule"]
    name: str = Field(min_length=1, max_length=100)


class Opsgenie(_Destination):
    kind: Literal[DestinationKind.OPSGENIE]
    api_key: SecretRef
    url: Url = "https://api.opsgenie.com"
    responders: tuple[OpsgenieResponder, ...] = Field(default=(), max_length=50)
    tags: tuple[Annotated[str, Field(max_length=50)], ...] = Field(default=(), max_length=10)


class Slack(_Destination):
    """An incoming webhook (`webhook_url`), or the Web API (`token` and `channel`), which can
    update a message in place."""

    kind: Literal[DestinationKind.SLACK]
    webhook_url: SecretRef | None = None
    token: SecretRef | None = None
    channel: str | None = Field(default=None, min_length=1, max_length=100)
    url: Url = "https://slack.com/api"

    @model_validator(mode="after")
    def _one_way_in(self) -> Slack:
        if (self.webhook_url is None) == (self.token is None):
            raise ValueError("give webhook_url (incoming webhook) or token and channel (Web API)")
        if self.token is not None and self.channel is None:
            raise ValueError("the Web API needs the channel to post to")
        return self

    @property
    def updates_in_place(self) -> bool:
        return self.token is not None


class Teams(_Destination):
    kind: Literal[DestinationKind.TEAMS]
    webhook_url: SecretRef


class ServiceNow(_Destination):
    """The Table API of an instance; basic auth (`username`, `password`) or an OAuth `token`."""

    kind: Literal[DestinationKind.SERVICENOW]
    instance_url: Url
    table: str = Field(default="incident", pattern=r"^[a-z0-9_]+$")
    username: SecretRef | None = None
    password: SecretRef | None = None
    token: SecretRef | None = None
    assignment_group: str | None = None
    caller_id: str | None = None
    category: str | None = None
    close_code: str = "Solution provided"

    @model_validator(mode="after")
    def _credentials(self) -> ServiceNow:
        basic = self.username is not None and self.password is not None
        if basic == (self.token is not None) or (self.username is None) != (self.password is None):
            raise ValueError("give username and password (basic auth) or token (OAuth)")
        return self


class Jira(_Destination):
    """Jira Service Management through the Jira Cloud platform REST API (v3)."""

    kind: Literal[DestinationKind.JIRA]
    site_url: Url
    email: SecretRef | None = None
    api_token: SecretRef
    project_key: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    issue_type: str = "Incident"
    priorities: dict[Priority, str] = Field(
        default_factory=lambda: {
            "P1": "Highest",
            "P2": "High",
            "P3": "Medium",
            "P4": "Low",
            "P5": "Lowest",
        }
    )
    resolve_transition: str = Field(
        min_length=1, description="Id of the workflow transition that resolves a request."
    )
    acknowledge_statuses: tuple[str, ...] = ("In Progress",)
    webhook_secret: SecretRef | None = None


class Webhook(_Destination):
    """Any HTTP endpoint: the event as JSON, signed with HMAC-SHA256 (docs/delivery.md)."""

    kind: Literal[DestinationKind.WEBHOOK]
    url: Url
    signing_secret: SecretRef


Destination = Annotated[
    PagerDuty | Opsgenie | Slack | Teams | ServiceNow | Jira | Webhook,
    Field(discriminator="kind"),
]

"""The catalog entries as written in the catalog files: business services, technical services, CIs.

Every model forbids unknown fields so that a typo in a file is reported instead of ignored.
Cross-entry rules (references, duplicate ids, cycles, quorums) live in `validation`.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

NodeId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", min_length=1, max_length=128),
]
"""Id of a business service, technical service or CI: letters, digits and `.`, `_`, `:`, `-`."""

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Alias = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
"""Another name of a CI: host name, FQDN, IP address, cloud resource id, Kubernetes workload."""


class _Entry(BaseModel):
    # Frozen, with tuples for lists: one catalog is shared by every reader in a process.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lifecycle(StrEnum):
    PIPELINE = "pipeline"
    ACTIVE = "active"
    RETIRED = "retired"


class Stakeholder(StrEnum):
    """The four stakeholder types of an experience-level agreement."""

    SERVICE_EVALUATOR = "service-evaluator"
    SERVICE_INFLUENCER = "service-influencer"
    RESOURCE_ALLOCATOR = "resource-allocator"
    EXPERIENCE_APPROVER = "experience-approver"


class CIType(StrEnum):
    HOST = "host"
    VM = "vm"
    CONTAINER = "container"
    DATABASE = "database"
    APP = "app"
    LINK = "link"
    SAAS = "saas"
    STORAGE = "storage"
    LOAD_BALANCER = "load-balancer"
    QUEUE = "queue"
    DNS = "dns"
    IDENTITY = "identity"


class RequestMethod(StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WALK_UP = "walk-up"
    API = "api"


class Rule(StrEnum):
    """How the state of a needed node reaches the node that needs it."""

    REQUIRED = "required"
    """needed node down => dependent down; needed node degraded => dependent degraded."""
    DEGRADES = "degrades"
    """needed node down or degraded => dependent degraded."""


class Requires(_Entry):
    """`from` (the entry holding this dependency) needs `to`."""

    to: NodeId
    rule: Rule = Rule.REQUIRED


class RedundancyGroup(_Entry):
    """`from` needs `quorum` of `members` up (`propagation` gives the exact rule)."""

    group: Text
    quorum: int
    members: tuple[NodeId, ...] = Field(min_length=1)


def _dependency_shape(value: Any) -> str | None:
    if isinstance(value, dict):
        return "redundancy group" if "group" in value else "dependency"
    if isinstance(value, BaseModel):
        return "redundancy group" if isinstance(value, RedundancyGroup) else "dependency"
    return None


DEPENDENCY_TAGS = frozenset({"dependency", "redundancy group"})
"""Union tags pydantic puts into error locations; they are not part of the YAML path."""

Dependency = Annotated[
    Annotated[Requires, Tag("dependency")] | Annotated[RedundancyGroup, Tag("redundancy group")],
    Discriminator(
        _dependency_shape,
        custom_error_type="dependency_shape",
        custom_error_message=(
            "expected a mapping {to: <id>, rule: required|degrades} "
            "or {group: <name>, quorum: <k>, members: [<id>, ...]}"
        ),
    ),
]


class Contact(_Entry):
    name: Text
    email: str | None = None
    phone: str | None = None
    hours: str | None = None


class EscalationStep(_Entry):
    level: int = Field(ge=1)
    contact: Text
    after_minutes: int = Field(default=0, ge=0)


class Support(_Entry):
    contacts: tuple[Contact, ...] = Field(min_length=1)
    escalation: tuple[EscalationStep, ...] = ()

    @field_validator("escalation")
    @classmethod
    def _levels_climb(cls, steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        for before, after in pairwise(steps):
            if after.level <= before.level or after.after_minutes < before.after_minutes:
                raise ValueError(
                    "escalation steps must climb: each level higher and each after_minutes "
                    f"no earlier than the step before (found level {after.level} at "
                    f"{after.after_minutes} min after level {before.level} at "
                    f"{before.after_minutes} min)"
                )
        return steps


class Persona(_Entry):
    """A group of users of one service, weighted by how much their experience counts."""

    name: Text
    stakeholder: Stakeholder
    users: int = Field(ge=0)
    weight: float = Field(default=1.0, gt=0)
    periods: list[Text] = Field(
        default_factory=list,
        description="calendar periods in which this group relies on the service; empty: always",
    )


class VipUser(_Entry):
    """A high-visibility user of one service. Tied to one of its personas, an impact is
    high-visibility while that persona is affected; without a persona (also written as a plain
    user id), whenever the service hurts anyone."""

    user: Text
    persona: Text | None = Field(
        default=None, description="one of the service's personas; unset: the whole service"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_user_id(cls, value: Any) -> Any:
        return {"user": value} if isinstance(value, str) else value


class Targets(_Entry):
    """Service-level and experience-level targets."""

    availability: float = Field(ge=0, le=100, description="percent of the month")
    xla: float = Field(default=80, ge=0, le=100, description="minimum XLA score 0-100")
    impact_minutes_budget: float = Field(
        ge=0, description="business impact minutes the service may lose per month"
    )
    latency_p95_ms: float | None = Field(default=None, gt=0)


class Costs(_Entry):
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    monthly: float = Field(ge=0)


class BusinessValue(_Entry):
    statement: Text
    value_at_risk_per_hour: float | None = Field(default=None, ge=0)


class Approval(_Entry):
    workflow: Text
    approvers: tuple[Text, ...] = ()


class Eligibility(_Entry):
    description: Text
    groups: tuple[Text, ...] = ()


class BusinessService(_Entry):
    """What users consume, described in business language."""

    id: NodeId
    name: Text
    description: str = ""
    owner: Text
    support: Support | None = None
    tier: Literal[1, 2, 3, 4]
    lifecycle: Lifecycle = Lifecycle.ACTIVE
    user_facing: bool = True
    users: int = Field(ge=0)
    domain: Text = Field(description="business domain, used to route impact topics")
    personas: tuple[Persona, ...] = ()
    vip_users: tuple[VipUser, ...] = ()
    calendar: Text | None = None
    targets: Targets | None = None
    request_methods: tuple[RequestMethod, ...] = ()
    costs: Costs | None = None
    business_value: BusinessValue | None = None
    approval: Approval | None = None
    eligibility: Eligibility | None = None
    dependencies: tuple[Dependency, ...] = ()

    @field_validator("vip_users")
    @classmethod
    def _vips_of_known_personas(
        cls, vips: tuple[VipUser, ...], info: ValidationInfo
    ) -> tuple[VipUser, ...]:
        names = {persona.name for persona in info.data.get("personas", ())}
        for vip in vips:
            if vip.persona is not None and vip.persona not in names:
                known = ", ".join(sorted(names)) or "none"
                raise ValueError(
                    f"VIP {vip.user} is tied to persona {vip.persona!r}, which this service "
                    f"does not have (its personas: {known})"
                )
        return vips


class TechnicalService(_Entry):
    """A service run by IT that business services build on (identity, ERP platform, ...)."""

    id: NodeId
    name: Text
    description: str = ""
    owner: Text
    dependencies: tuple[Dependency, ...] = ()


class ConfigurationItem(_Entry):
    """One monitored technical component."""

    id: NodeId
    type: CIType
    owner: Text = Field(description="owning team")
    name: str | None = None
    aliases: tuple[Alias, ...] = Field(
        default=(),
        description="other names monitoring uses for this CI; unique across the catalog, "
        "compared without regard to case",
    )
    attributes: dict[str, Any] = Field(default_factory=dict)
    dependencies: tuple[Dependency, ...] = ()


Node = BusinessService | TechnicalService | ConfigurationItem

SECTIONS: dict[str, type[BusinessService] | type[TechnicalService] | type[ConfigurationItem]] = {
    "services": BusinessService,
    "technical_services": TechnicalService,
    "cis": ConfigurationItem,
}
"""Top-level keys of a catalog file and the entry each list holds."""

BINDINGS = "bindings"
"""Top-level key of the binding rules (`impactline.core.catalog.bindings`)."""
DOCUMENT_KEYS = ("version", *SECTIONS, BINDINGS)
SUPPORTED_VERSIONS = (1,)


class NodeKind(StrEnum):
    """The three kinds of node in the dependency graph."""

    BUSINESS_SERVICE = "business-service"
    TECHNICAL_SERVICE = "technical-service"
    CI = "ci"


KIND_OF_SECTION = {
    "services": NodeKind.BUSINESS_SERVICE,
    "technical_services": NodeKind.TECHNICAL_SERVICE,
    "cis": NodeKind.CI,
}

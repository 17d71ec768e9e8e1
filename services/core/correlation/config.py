"""Every window and threshold of the correlation rules, with the defaults documented in
docs/correlation.md. Loaded from YAML like the rest of the configuration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from impactline.core import yaml_limits
from impactline.core.catalog.model import CIType
from impactline.core.correlation.durations import Duration
from impactline.core.states import State


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DedupConfig(_Section):
    """Per CI: which repeated events carry no new information."""

    recent_ids: int = Field(
        default=256, ge=1, description="Event ids remembered per CI; a re-delivered id is dropped."
    )
    fingerprint_window: Duration = Field(
        default=timedelta(seconds=60),
        description="A repeat of the current report (same state, summary and metric) within this "
        "long of its first sighting is a duplicate. 0 turns fingerprint de-duplication off.",
    )
    fingerprints: int = Field(
        default=32, ge=1, description="Distinct fingerprints remembered per CI."
    )


class DampingConfig(_Section):
    """Per CI: hysteresis before a new state is accepted, and flap holding."""

    confirm_count: int = Field(
        default=1,
        ge=1,
        description="Reports of a new state needed before it is accepted; 1 accepts at once.",
    )
    confirm_after: Duration = Field(
        default=timedelta(seconds=60),
        description="...or the new state is accepted once it has stood this long without a "
        "contradicting report. 0 turns the duration rule off.",
    )
    flap_threshold: int = Field(
        default=4,
        ge=1,
        description="A CI whose reported state changes more than this many times within "
        "`flap_window` is flapping.",
    )
    flap_window: Duration = Field(default=timedelta(minutes=10))
    stable_for: Duration = Field(
        default=timedelta(minutes=5),
        description="A flapping CI is held in its worst recent state until its reported state "
        "has not changed for this long.",
    )


class StalenessConfig(_Section):
    """Per CI: silence turns into `unknown`."""

    after: Duration = Field(
        default=timedelta(0),
        description="No report for this long makes a CI unknown; 0 (the default) turns it off, "
        "because sources that report only on change are silent while all is well.",
    )
    by_ci_type: dict[CIType, Duration] = Field(
        default_factory=dict, description="Overrides of `after` per CI type, e.g. link: 2m."
    )

    def after_for(self, ci_type: str | None) -> timedelta:
        if ci_type is not None:
            try:
                return self.by_ci_type.get(CIType(ci_type), self.after)
            except ValueError:
                return self.after
        return self.after


class GroupingConfig(_Section):
    """Per correlation domain: which failures belong to one incident."""

    window: Duration = Field(
        default=timedelta(minutes=5),
        description="A failure joins an incident when a member it has a dependency path to is "
        "still failing, or failed no more than this long before.",
    )
    failing_states: frozenset[State] = Field(
        default=frozenset({State.DEGRADED, State.DOWN}),
        description="CI states that count as a failure and may open an incident.",
    )

    @field_validator("failing_states")
    @classmethod
    def _not_ok(cls, states: frozenset[State]) -> frozenset[State]:
        if State.OK in states:
            raise ValueError("`ok` cannot be a failing state")
        if not states:
            raise ValueError("at least one failing state is needed, e.g. [degraded, down]")
        return states


class SuspectConfig(_Section):
    """Per correlation domain: which change records are listed as suspects."""

    lookback: Duration = Field(
        default=timedelta(hours=2),
        description="A change is suspect when it happened at most this long before a member "
        "it could affect failed.",
    )
    max_kept: int = Field(default=500, ge=1, description="Recent changes kept per domain.")
    max_listed: int = Field(default=10, ge=1, description="Suspects listed per incident.")


class LifecycleConfig(_Section):
    """Per incident: when it resolves and when a recurrence reopens it."""

    resolve_hold: Duration = Field(
        default=timedelta(minutes=5),
        description="Every member CI and affected service must stay recovered this long before "
        "the incident resolves.",
    )
    reopen_window: Duration = Field(
        default=timedelta(hours=1),
        description="A new failure of a root-cause candidate this soon after resolution "
        "reopens the incident instead of opening a new one.",
    )


class CorrelationConfig(_Section):
    """Every correlation window and threshold; each section has documented defaults."""

    dedup: DedupConfig = DedupConfig()
    damping: DampingConfig = DampingConfig()
    staleness: StalenessConfig = StalenessConfig()
    grouping: GroupingConfig = GroupingConfig()
    suspects: SuspectConfig = SuspectConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()

    @classmethod
    def from_yaml(cls, text: str, source: str = "<correlation config>") -> CorrelationConfig:
        """Parse and validate YAML text; errors name `source` and the path inside it."""
        try:
            yaml_limits.check_limits(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CorrelationConfigInvalid(source, [f"not valid YAML: {exc}"]) from None
        return cls.from_mapping(data or {}, source)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<correlation config>") -> CorrelationConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CorrelationConfigInvalid(source, _messages(exc)) from None


class CorrelationConfigInvalid(ValueError):
    """A correlation configuration broke one or more rules; every one is listed."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def _messages(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting; check the spelling against docs/correlation.md"
        out.append(f"{path}: {message}")
    return out

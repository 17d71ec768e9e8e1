"""Maintenance windows and silences: failures they match open no incident but are still kept.

Both name CIs and business services by id or glob (`db-gl-*`) and both expire. A maintenance
window is planned ahead with a start and an end; a silence is put in place during an incident
and has an expiry. Loaded from YAML such as::

    maintenance_windows:
      - id: gl-db-patching
        starts_at: 2026-11-14T22:00:00Z
        ends_at: 2026-11-15T02:00:00Z
        cis: [db-gl-*]
        comment: quarterly patching
    silences:
      - id: noisy-link
        services: [payroll]
        expires_at: 2026-11-14T12:00:00Z
        created_by: alice
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from impactline.core import yaml_limits
from impactline.core.contracts import AwareDatetime


class _Suppression(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    cis: list[str] = Field(default_factory=list, description="CI ids or globs.")
    services: list[str] = Field(default_factory=list, description="Business service ids or globs.")
    comment: str = ""
    created_by: str | None = None

    @model_validator(mode="after")
    def _targets_something(self) -> _Suppression:
        if not self.cis and not self.services:
            raise ValueError(
                "name at least one CI or business service (id or glob) in cis or services"
            )
        return self

    @property
    def start(self) -> datetime | None:
        raise NotImplementedError

    @property
    def end(self) -> datetime:
        raise NotImplementedError

    def active_at(self, at: datetime) -> bool:
        start = self.start
        return (start is None or start <= at) and at < self.end

    def matches_ci(self, ci_id: str) -> bool:
        return any(fnmatchcase(ci_id, pattern) for pattern in self.cis)

    def matches_service(self, service_id: str) -> bool:
        return any(fnmatchcase(service_id, pattern) for pattern in self.services)

    def describe(self) -> str:
        raise NotImplementedError


class MaintenanceWindow(_Suppression):
    """Planned work: failures of matching CIs or services between start and end are expected."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> MaintenanceWindow:
        if self.ends_at <= self.starts_at:
            raise ValueError(f"ends_at ({self.ends_at}) must be after starts_at ({self.starts_at})")
        return self

    @property
    def start(self) -> datetime | None:
        return self.starts_at

    @property
    def end(self) -> datetime:
        return self.ends_at

    def describe(self) -> str:
        return f"maintenance window {self.id} until {self.ends_at.isoformat()}"


class Silence(_Suppression):
    """An ad hoc mute, e.g. for a known problem being worked on; always expires."""

    starts_at: AwareDatetime | None = None
    expires_at: AwareDatetime

    @property
    def start(self) -> datetime | None:
        return self.starts_at

    @property
    def end(self) -> datetime:
        return self.expires_at

    def describe(self) -> str:
        who = f" by {self.created_by}" if self.created_by else ""
        return f"silence {self.id}{who} until {self.expires_at.isoformat()}"


@dataclass(frozen=True, slots=True)
class SuppressionMatch:
    """Why a failure opens no incident, and until when that holds."""

    reason: str
    until: datetime


class Suppressions(BaseModel):
    """Every maintenance window and silence in force or planned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    silences: list[Silence] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Suppressions:
        seen: set[str] = set()
        for item in self.all():
            if item.id in seen:
                raise ValueError(
                    f"id {item.id!r} is used twice; give each window and silence its own id"
                )
            seen.add(item.id)
        return self

    def all(self) -> list[MaintenanceWindow | Silence]:
        return [*self.maintenance_windows, *self.silences]

    def active_at(self, at: datetime) -> list[MaintenanceWindow | Silence]:
        return [item for item in self.all() if item.active_at(at)]

    def without_expired(self, at: datetime) -> Suppressions:
        """A copy without the windows and silences that ended at or before `at`."""
        return Suppressions(
            maintenance_windows=[w for w in self.maintenance_windows if w.end > at],
            silences=[s for s in self.silences if s.end > at],
        )

    def match(self, ci_id: str, services: Iterable[str], at: datetime) -> SuppressionMatch | None:
        """Whether a failure of `ci_id` at `at` is suppressed.

        It is when an active entry names the CI, or when the CI affects at least one business
        service and every one of them is named by an active entry: a failure that still hurts
        one unsuppressed service must open an incident.
        """
        active = self.active_at(at)
        if not active:
            return None
        for item in active:
            if item.matches_ci(ci_id):
                return SuppressionMatch(item.describe(), item.end)
        used: dict[str, MaintenanceWindow | Silence] = {}
        affected = sorted(services)
        for service_id in affected:
            hit = next((item for item in active if item.matches_service(service_id)), None)
            if hit is None:
                return None
            used[hit.id] = hit
        if not used:
            return None
        items = sorted(used.values(), key=lambda item: (item.end, item.id))
        reason = "; ".join(item.describe() for item in items)
        return SuppressionMatch(f"every affected service is suppressed: {reason}", items[0].end)

    @classmethod
    def from_yaml(cls, text: str, source: str = "<suppressions>") -> Suppressions:
        """Parse and validate YAML text; errors name `source` and the path inside it."""
        try:
            yaml_limits.check_limits(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SuppressionsInvalid(source, [f"not valid YAML: {exc}"]) from None
        return cls.from_mapping(data or {}, source)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<suppressions>") -> Suppressions:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                path = ".".join(str(p) for p in error["loc"]) or "(top level)"
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{path}: {message}")
            raise SuppressionsInvalid(source, problems) from None


class SuppressionsInvalid(ValueError):
    """A maintenance-window or silence document broke one or more rules; each is listed."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))

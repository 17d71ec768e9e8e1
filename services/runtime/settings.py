"""Process settings, from the environment (one place for every knob an operator can turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from impactline.runtime.telemetry import EXPORTERS

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Running from a source checkout (services/ next to pyproject.toml): keep state in its .cache/.
SOURCE_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").exists() else None


def default_state_dir() -> Path:
    if SOURCE_ROOT is not None:
        return SOURCE_ROOT / ".cache"
    return Path.home() / ".cache" / "impactline"


def _deploy(*parts: str) -> Path | None:
    return SOURCE_ROOT.joinpath("deploy", *parts) if SOURCE_ROOT is not None else None


def default_catalog_paths() -> list[Path]:
    if SOURCE_ROOT is not None:
        return [SOURCE_ROOT / "deploy" / "catalog"]
    return []


class SettingsError(RuntimeError):
    """A required setting is missing; the message says which variable to set."""


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str | None = Field(
        default=None, description="host:port[,host:port]; unset: the embedded broker."
    )
    database_url: str | None = Field(
        default=None, description="postgresql:// URL; unset: the embedded server.", repr=False
    )
    state_dir: Path = Field(
        default_factory=default_state_dir,
        validation_alias="IMPACTLINE_STATE_DIR",
        description="Where embedded servers keep binaries, data and logs.",
    )
    kafka_version: str | None = Field(
        default=None,
        validation_alias="KAFKA_VERSION",
        description="Embedded broker version; unset: the one pinned in deploy/kafka/pom.xml.",
    )
    topic_prefix: str = Field(
        default="",
        validation_alias="IMPACTLINE_TOPIC_PREFIX",
        description="Prefix of every topic and consumer group, to share one cluster.",
    )
    topic_partitions: int = Field(default=4, ge=1, validation_alias="IMPACTLINE_PARTITIONS")
    catalog_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=default_catalog_paths,
        validation_alias="IMPACTLINE_CATALOG",
        description="Comma-separated catalog files or folders of *.yaml files.",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="IMPACTLINE_API_KEYS",
        description="Comma-separated `key=scope+scope` pairs accepted by the HTTP services.",
        repr=False,
    )
    correlation_config: Path | None = Field(
        default=None,
        validation_alias="IMPACTLINE_CORRELATION_CONFIG",
        description="YAML with correlation windows and thresholds; unset: the documented defaults.",
    )
    suppressions: Path | None = Field(
        default=None,
        validation_alias="IMPACTLINE_SUPPRESSIONS",
        description="YAML with maintenance windows and silences.",
    )
    calendars_dir: Path | None = Field(
        default_factory=lambda: _deploy("calendars"),
        validation_alias="IMPACTLINE_CALENDARS",
        description="Folder of business calendar YAML files, referenced by name from the catalog.",
    )
    scoring_config: Path | None = Field(
        default_factory=lambda: _deploy("impact", "scoring.yaml"),
        validation_alias="IMPACTLINE_SCORING",
        description="YAML with impact factors, the priority matrix and XLA weights.",
    )
    impact_routing: Path | None = Field(
        default_factory=lambda: _deploy("impact", "routing.yaml"),
        validation_alias="IMPACTLINE_ROUTING",
        description="YAML rules adding impact topics beyond impact.all and impact.<domain>.",
    )
    accrual_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="IMPACTLINE_ACCRUAL_SECONDS",
        description="Period of accrual events while an impact is open (episode time).",
    )
    tick_seconds: float = Field(
        default=1.0,
        gt=0,
        validation_alias="IMPACTLINE_TICK_SECONDS",
        description="How often stream workers run their timers (hold times, accrual).",
    )
    otel_exporter: str = Field(
        default="none",
        validation_alias="IMPACTLINE_TRACES_EXPORTER",
        description=f"Trace exporter: one of {', '.join(EXPORTERS)}.",
    )

    @field_validator("catalog_paths", "api_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise SettingsError(
                "no Kafka broker configured: set KAFKA_BOOTSTRAP_SERVERS "
                "or start the embedded one with `impactline dev up`"
            )
        return self.kafka_bootstrap_servers

    def require_database(self) -> str:
        if not self.database_url:
            raise SettingsError(
                "no database configured: set DATABASE_URL "
                "or start the embedded one with `impactline dev up`"
            )
        return self.database_url

    def as_environment(self) -> dict[str, str]:
        """Every set field under the variable name it is read from."""
        env = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            key = alias or name.upper()
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            env[key] = str(value)
        return env

"""Process settings, from the environment (one place for every knob an operator can turn)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from impactline.core.eventtime import TimePolicy
from impactline.runtime.clock import SystemClock
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


KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class SettingsError(RuntimeError):
    """A required setting is missing; the message says which variable to set."""


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


_DURATION = TypeAdapter(timedelta)


def _duration(text: str, variable: str) -> timedelta:
    try:
        span = _DURATION.validate_python(text)
    except ValidationError:
        raise ValueError(
            f"{variable}: expected an ISO 8601 duration such as PT1H or P30D, got {text!r}"
        ) from None
    if span <= timedelta(0):
        raise ValueError(f"{variable}: expected a positive duration, got {text!r}")
    return span


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str | None = Field(
        default=None, description="host:port[,host:port]; unset: the embedded broker."
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL; unset: the embedded server. TLS: add `?sslmode=require` "
        "(or verify-ca / verify-full with `sslrootcert=`).",
        repr=False,
    )
    kafka_security_protocol: KafkaProtocol = Field(
        default="PLAINTEXT",
        validation_alias="KAFKA_SECURITY_PROTOCOL",
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="PLAIN",
        validation_alias="KAFKA_SASL_MECHANISM",
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_* protocol).",
    )
    kafka_sasl_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: str | None = Field(
        default=None,
        validation_alias="KAFKA_SASL_PASSWORD",
        description="Never logged or shown.",
        repr=False,
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        validation_alias="KAFKA_SSL_CAFILE",
        description="CA bundle that signed the brokers' certificates; unset: the system's.",
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
    notify_routes: Path | None = Field(
        default_factory=lambda: _deploy("notify", "routes.yaml"),
        validation_alias="IMPACTLINE_NOTIFY_ROUTES",
        description="The notify route file: destinations, routes and escalation targets "
        "(docs/delivery.md). Secrets in it are references to variables or files.",
    )
    accrual_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="IMPACTLINE_ACCRUAL_SECONDS",
        description="Period of accrual events while an impact is open (episode time).",
    )
    allowed_lateness_seconds: float = Field(
        default=5.0,
        ge=0,
        validation_alias="IMPACTLINE_ALLOWED_LATENESS_SECONDS",
        description="How far behind the newest event of a partition an event may be and still "
        "meet every timer of its key unfired (docs/correlation.md, Time).",
    )
    idle_after_seconds: float = Field(
        default=1.0,
        ge=0,
        validation_alias="IMPACTLINE_IDLE_AFTER_SECONDS",
        description="Silence after which a partition read to its end lets the wall clock move "
        "its event time on.",
    )
    worker_id: str | None = Field(
        default=None,
        validation_alias="IMPACTLINE_WORKER_ID",
        description="Stable name of a stream worker process (its transactional id); a restart "
        "under the same name fences the previous one at once. Unset: host name and process id.",
    )
    xla_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="IMPACTLINE_XLA_SECONDS",
        description="How often impact evaluates XLA scores and error-budget burn-rate alerts.",
    )
    xla_windows: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["PT1H", "P1D", "P7D", "P30D"],
        validation_alias="IMPACTLINE_XLA_WINDOWS",
        description="Comma-separated ISO 8601 durations: the rolling windows of XLA scores.",
    )
    slo_period: str = Field(
        default="P30D",
        validation_alias="IMPACTLINE_SLO_PERIOD",
        description="ISO 8601 duration: the period of the SLO error budget.",
    )
    burn_min_bad_seconds: float = Field(
        default=120.0,
        ge=0,
        validation_alias="IMPACTLINE_BURN_MIN_BAD_SECONDS",
        description="Bad time (seconds of outage) a burn-rate rule's long window must hold "
        "before the rule fires or raises urgency.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        validation_alias="IMPACTLINE_METRICS_PORT",
        description="Stream workers serve Prometheus metrics on this port (0: any free port, "
        "logged at start); unset: off. The HTTP services serve /metrics on their own port.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        validation_alias="IMPACTLINE_METRICS_HOST",
        description="Address the stream workers' metrics endpoint listens on.",
    )
    clock_offset_seconds: float = Field(
        default=0.0,
        validation_alias="IMPACTLINE_CLOCK_OFFSET_SECONDS",
        description="Run as if the wall clock were this many seconds ahead (negative: behind). "
        "Results follow event time, so this only moves idle timers and command stamps; tests "
        "use it to prove that nothing depends on the day the system runs.",
    )
    event_max_age: str = Field(
        default="P400D",
        validation_alias="IMPACTLINE_EVENT_MAX_AGE",
        description="ISO 8601 duration: how long before its receipt an input event may have "
        "happened; older event times are refused at ingest (422 naming the field).",
    )
    event_max_ahead: str = Field(
        default="PT1H",
        validation_alias="IMPACTLINE_EVENT_MAX_AHEAD",
        description="ISO 8601 duration: how far after its receipt an input event time may lie "
        "(clock skew of the sources); later event times are refused at ingest.",
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

    @field_validator("xla_windows", mode="before")
    @classmethod
    def _window_list(cls, value: object) -> object:
        return _split(value)

    @field_validator("xla_windows", mode="after")
    @classmethod
    def _windows_are_durations(cls, value: list[str]) -> list[str]:
        for item in value:
            _duration(item, "IMPACTLINE_XLA_WINDOWS")
        return value

    @field_validator("slo_period", "event_max_age", "event_max_ahead", mode="after")
    @classmethod
    def _period_is_duration(cls, value: str, info: ValidationInfo) -> str:
        alias = cls.model_fields[info.field_name or ""].validation_alias
        _duration(value, str(alias))
        return value

    def xla_window_spans(self) -> tuple[timedelta, ...]:
        return tuple(_duration(item, "IMPACTLINE_XLA_WINDOWS") for item in self.xla_windows)

    def slo_period_span(self) -> timedelta:
        return _duration(self.slo_period, "IMPACTLINE_SLO_PERIOD")

    def time_policy(self) -> TimePolicy:
        """Allowed lateness and idleness of the stream workers' watermarks."""
        return TimePolicy(
            allowed_lateness=timedelta(seconds=self.allowed_lateness_seconds),
            idle_after=timedelta(seconds=self.idle_after_seconds),
        )

    def event_time_bounds(self) -> tuple[timedelta, timedelta]:
        """(max age, max ahead) of input event times against the time of receipt."""
        return (
            _duration(self.event_max_age, "IMPACTLINE_EVENT_MAX_AGE"),
            _duration(self.event_max_ahead, "IMPACTLINE_EVENT_MAX_AHEAD"),
        )

    def clock(self) -> SystemClock:
        """The wall clock every part of this process reads (see `impactline.runtime.clock`)."""
        return SystemClock(timedelta(seconds=self.clock_offset_seconds))

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise SettingsError(
                "no Kafka broker configured: set KAFKA_BOOTSTRAP_SERVERS "
                "or start the embedded one with `impactline dev up`"
            )
        return self.kafka_bootstrap_servers

    def kafka_sasl(self) -> tuple[str, str] | None:
        """(username, password) when a SASL protocol is configured; raises when one is missing."""
        if not self.kafka_security_protocol.startswith("SASL_"):
            return None
        if not self.kafka_sasl_username or self.kafka_sasl_password is None:
            raise SettingsError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self.kafka_sasl_username, self.kafka_sasl_password

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

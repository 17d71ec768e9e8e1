"""Knobs of the ingest process that no other process needs, from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from impactline.runtime.settings import SOURCE_ROOT


def default_webhooks() -> list[Path]:
    return [SOURCE_ROOT / "deploy" / "webhooks"] if SOURCE_ROOT is not None else []


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMPACTLINE_INGEST_", extra="ignore")

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted (bytes)."
    )
    max_items: int = Field(
        default=10_000,
        ge=1,
        description="Items (events, alerts, NDJSON lines) one request may hold; more: 413.",
    )
    rate_per_s: float = Field(
        default=1000.0,
        gt=0,
        description="Requests per second each API key may send on average (token bucket refill).",
    )
    burst: int = Field(
        default=2000, ge=1, description="Requests a key may send at once before being limited."
    )
    idempotency_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        description="How long an Idempotency-Key is remembered with the answer it got.",
    )
    idempotency_max_keys: int = Field(
        default=20_000, ge=1, description="Idempotency keys remembered at most (oldest go first)."
    )
    idempotency_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Bytes of remembered answers kept at most (oldest go first); an answer "
        "larger than a tenth of it is not remembered (its retry is handled again).",
    )
    recent_ids: int = Field(
        default=100_000,
        ge=0,
        description="Event ids remembered so an exact resend is not produced again (0: off).",
    )
    recent_ids_ttl_s: float = Field(
        default=600.0, gt=0, description="How long an event id counts as recently produced."
    )
    key_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a key lookup in the database is reused; a revoke takes this long.",
    )
    raw_input: bool = Field(
        default=True, description="Consume the `raw` topic and forward what is valid."
    )
    retry_after_s: int = Field(
        default=5, ge=1, description="Retry-After sent when the broker cannot take events."
    )
    webhooks: Annotated[list[Path], NoDecode] = Field(
        default_factory=default_webhooks,
        description="Comma-separated webhook mapping files or folders of them, served at "
        "POST /v1/webhooks/{name}; missing paths are skipped.",
    )

    @field_validator("webhooks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

"""Session fixtures for the real broker and database.

`KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` win. Otherwise the embedded servers are started once per
test session (or reused when `impactline dev up` already runs them) and the ones this session
started are stopped at its end. A server that cannot start fails the tests that need it loudly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from impactline.runtime.embedded import EmbeddedKafka, EmbeddedPostgres
from impactline.runtime.embedded.process import run_blocking
from impactline.runtime.settings import Settings


def _progress(line: str) -> None:
    print(f"[embedded] {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    settings = Settings()
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers
        return
    kafka = EmbeddedKafka(settings)
    bootstrap = run_blocking(kafka.start(_progress))
    try:
        yield bootstrap
    finally:
        if kafka.started_here:
            kafka.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    settings = Settings()
    if settings.database_url:
        yield settings.database_url
        return
    postgres = EmbeddedPostgres(settings)
    url = run_blocking(postgres.start(_progress))
    try:
        yield url
    finally:
        if postgres.started_here:
            postgres.stop()

"""The facts a reader needs to compare two benchmark runs: machine, versions, date."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from impactline.runtime.embedded.kafka import pom_version
from impactline.runtime.settings import Settings


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


async def postgres_version(database_url: str) -> str:
    try:
        connection = await asyncpg.connect(database_url)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"unknown ({type(exc).__name__})"
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def _measuring_args(args: list[str]) -> list[str]:
    """The arguments that shape the measurement: where the results were written is left out
    (a local folder says nothing about the run and has no place in a committed report)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--output":
            skip = True
        elif not arg.startswith("--output="):
            kept.append(arg)
    return kept


async def describe(database_url: str) -> dict[str, Any]:
    configured = Settings()
    embedded = not configured.kafka_bootstrap_servers
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench " + shlex.join(_measuring_args(sys.argv[1:])),
        "cores": cores(),
        "memory_gib": memory_gib(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "kafka": (configured.kafka_version or pom_version()) if embedded else "as configured",
        "aiokafka": metadata.version("aiokafka"),
        "faust": metadata.version("faust-streaming"),
        "postgres": await postgres_version(database_url),
        "broker": "embedded single-node KRaft broker on this machine"
        if embedded
        else "KAFKA_BOOTSTRAP_SERVERS",
    }

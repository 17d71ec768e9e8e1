"""`impactline dev up|status|down` and `ensure_infrastructure`, as a developer uses them.

These run their own broker and database in a private state directory, so stopping them never
disturbs the servers the rest of the test session shares.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from impactline.runtime.embedded import (
    EmbeddedKafka,
    EmbeddedPostgres,
    ensure_infrastructure,
    infrastructure_status,
)
from impactline.runtime.embedded.process import pid_alive, read_state
from impactline.runtime.settings import Settings
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


@dataclass
class DevEnv:
    state_dir: Path
    env: dict[str, str]
    up_output: str

    @property
    def settings(self) -> Settings:
        # Explicit, so KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL of the caller do not apply.
        return Settings(state_dir=self.state_dir, kafka_bootstrap_servers=None, database_url=None)

    def dev(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "impactline.cli.dev", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def pids(self) -> dict[str, int | None]:
        return {
            name: (read_state(self.state_dir / name / "state.json") or {}).get("pid")
            for name in ("kafka", "postgres")
        }


@pytest.fixture(scope="module")
def dev_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    state_dir = tmp_path_factory.mktemp("dev-state")
    # Reuse the jars the session already installed rather than downloading them again.
    shared = EmbeddedKafka(Settings()).ensure_installed()
    private = EmbeddedKafka(Settings(state_dir=state_dir))
    private.libs.parent.mkdir(parents=True)
    private.libs.symlink_to(shared, target_is_directory=True)
    env = {
        k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    }
    env["IMPACTLINE_STATE_DIR"] = str(state_dir)
    probe = DevEnv(state_dir, env, "")
    up = probe.dev("up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield DevEnv(state_dir, env, up.stdout)
    finally:
        down = probe.dev("down")
        data_dir = EmbeddedPostgres(probe.settings).data_dir
        if not data_dir.is_relative_to(state_dir):
            shutil.rmtree(data_dir.parent, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr


def test_up_prints_where_to_connect_without_the_password(dev_env: DevEnv) -> None:
    password = (dev_env.state_dir / "postgres" / "password").read_text().strip()
    lines = dev_env.up_output.splitlines()

    assert any(line.startswith("KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:") for line in lines)
    assert any(
        line.startswith("DATABASE_URL=postgresql://impactline:***@127.0.0.1:") for line in lines
    )
    assert password not in dev_env.up_output
    assert oct((dev_env.state_dir / "postgres" / "password").stat().st_mode & 0o777) == "0o600"


def test_status_from_another_process_shows_both_running(dev_env: DevEnv) -> None:
    status = dev_env.dev("status")

    assert status.returncode == 0, status.stdout + status.stderr
    for name, pid in dev_env.pids().items():
        assert f"{name:<9} running   pid {pid}" in status.stdout


async def test_postgres_accepts_queries_on_loopback(dev_env: DevEnv) -> None:
    _, url = await ensure_infrastructure(dev_env.settings)
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("SELECT current_database() AS db, inet_server_addr() AS addr")
        await conn.execute("CREATE TABLE IF NOT EXISTS probe (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO probe VALUES (1) ON CONFLICT DO NOTHING")
        count = await conn.fetchval("SELECT count(*) FROM probe")
    finally:
        await conn.close()
    assert (row["db"], str(row["addr"])) == ("impactline", "127.0.0.1")
    assert count == 1


async def test_second_ensure_reuses_the_running_servers(dev_env: DevEnv) -> None:
    pids_before = dev_env.pids()

    first = await ensure_infrastructure(dev_env.settings)
    second = await ensure_infrastructure(dev_env.settings)

    assert tuple(first) == tuple(second)
    assert first.started == second.started == frozenset()
    assert dev_env.pids() == pids_before
    assert f"KAFKA_BOOTSTRAP_SERVERS={first.bootstrap}" in dev_env.up_output


async def test_configured_servers_win_and_nothing_starts(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap_servers="127.0.0.1:19092",
        database_url="postgresql://someone:secret@127.0.0.1:15432/elsewhere",
    )

    infra = await ensure_infrastructure(settings)

    assert tuple(infra) == (settings.kafka_bootstrap_servers, settings.database_url)
    assert infra.started == frozenset()
    assert not (tmp_path / "kafka").exists()
    assert not (tmp_path / "postgres").exists()


async def test_down_then_up_keeps_address_and_data(dev_env: DevEnv) -> None:
    bootstrap, url = await ensure_infrastructure(dev_env.settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("restart-probe", b"before restart")
    finally:
        await producer.stop()
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE IF NOT EXISTS kept (note text)")
    await conn.execute("INSERT INTO kept VALUES ('before restart')")
    await conn.close()
    old_pids = dev_env.pids()

    down = dev_env.dev("down")
    assert down.returncode == 0 and "stopped: kafka, postgres" in down.stdout, down.stdout
    for pid in old_pids.values():
        assert pid is not None
        await wait_for(lambda pid=pid: not pid_alive(pid), timeout=10, message=f"pid {pid} gone")
    stopped = dev_env.dev("status")
    assert stopped.returncode == 1
    assert "kafka     stopped" in stopped.stdout and "postgres  stopped" in stopped.stdout
    assert not any(s.running for s in infrastructure_status(dev_env.settings))

    again = dev_env.dev("up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}" in again.stdout

    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT note FROM kept") == "before restart"
    finally:
        await conn.close()
    consumer = AIOKafkaConsumer(
        "restart-probe", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert record.value == b"before restart"


def test_every_dev_command_has_help() -> None:
    for command in ("up", "down", "status", "install"):
        shown = subprocess.run(
            [sys.executable, "-m", "impactline.cli.dev", command, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert shown.returncode == 0 and "Usage" in shown.stdout, shown.stdout + shown.stderr

"""Prometheus Alertmanager as a peer: installed from Debian when missing, run on 127.0.0.1
with a one-receiver configuration whose webhook is served by the benchmark itself."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp import web

from bench.workload import wait_for
from impactline.ingest.adapters import alertmanager as adapter
from impactline.runtime.embedded.process import free_port

PACKAGE = "prometheus-alertmanager"
# Grouping as the comparison states it: one group per CI, a short and equal wait before the
# first notification of a group and between updates of a group.
GROUP_WAIT = "100ms"
GROUP_INTERVAL = "100ms"


class Unavailable(RuntimeError):
    """Alertmanager cannot be had on this machine; the message says how to get it."""


def binary() -> str | None:
    return shutil.which(PACKAGE) or shutil.which("alertmanager")


def ensure_installed() -> str:
    """The Alertmanager executable, installing Debian's package first when it is missing."""
    found = binary()
    if found:
        return found
    if not shutil.which("apt-get"):
        raise Unavailable(
            f"Alertmanager is not installed; install {PACKAGE} (or put alertmanager on PATH)"
        )
    if os.geteuid() != 0:
        raise Unavailable(
            f"Alertmanager is not installed; run `sudo apt-get install -y {PACKAGE}` and again"
        )
    print(f"Alertmanager is not installed: installing Debian's {PACKAGE} with apt-get...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", PACKAGE]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        if subprocess.run(command, env=env, check=False).returncode != 0:
            raise Unavailable(f"`apt-get install {PACKAGE}` failed; see its output above")
    found = binary()
    if not found:
        raise Unavailable(f"{PACKAGE} installed but no alertmanager executable is on PATH")
    return found


def version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split("version", 1)[-1].split()[0] if first else "unknown"


class Webhook:
    """The receiver: notes when each alert (by its `bench_seq` label) is first notified."""

    def __init__(self) -> None:
        self.port = free_port()
        self.first: dict[str, float] = {}
        self.notifications = 0
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        payload = orjson.loads(await request.read())
        now = time.perf_counter()
        self.notifications += 1
        for alert in payload.get("alerts", []):
            seq = alert.get("labels", {}).get("bench_seq")
            if seq is not None and seq not in self.first:
                self.first[seq] = now
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def wait_for(self, ids: Sequence[str], timeout_s: float) -> int:
        return await wait_for(self.first, ids, timeout_s)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def config(webhook_port: int) -> str:
    return f"""route:
  receiver: bench
  group_by: [ci]
  group_wait: {GROUP_WAIT}
  group_interval: {GROUP_INTERVAL}
  repeat_interval: 1h
receivers:
  - name: bench
    webhook_configs:
      - url: http://127.0.0.1:{webhook_port}/hook
        send_resolved: false
"""


class Alertmanager:
    """One Alertmanager on 127.0.0.1, clustering off, its data in `folder`."""

    def __init__(self, exe: str, folder: Path, webhook_port: int) -> None:
        self.exe = exe
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.webhook_port = webhook_port
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "alertmanager.yml").write_text(config(self.webhook_port))
        self.process = self._spawn()
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise Unavailable(
                        f"alertmanager exited with code {self.process.returncode}; "
                        f"see {self.folder / 'alertmanager.log'}"
                    )
                try:
                    if (await client.get(f"{self.url}/-/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise Unavailable(f"alertmanager not ready after {timeout_s:.0f}s")

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = (self.folder / "alertmanager.log").open("ab")
        return subprocess.Popen(
            [
                self.exe,
                f"--config.file={self.folder / 'alertmanager.yml'}",
                f"--storage.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _labels(ci: str, seq: str) -> dict[str, str]:
    return {
        "alertname": "CIDown",
        "ci": ci,
        "severity": "critical",
        "site": ci.split("-", 1)[0],
        "bench_seq": seq,
    }


class AlertFeed:
    """The same alert stream for both receivers; each CI alternates firing and resolved.

    For Alertmanager the items are `POST /api/v2/alerts` alerts, matched by `bench_seq`; for
    impactline they form one webhook notification (payload version 4), matched by the event
    ids impactline's own adapter gives them.
    """

    def __init__(self, cis: Sequence[str], run: str, *, for_impactline: bool) -> None:
        self._next = itertools.cycle(list(cis))
        self._firing: dict[str, bool] = {}
        self._seq = itertools.count()
        self._run = run
        self.for_impactline = for_impactline
        # Off for pure throughput runs: working out impactline's ids costs the driver CPU.
        self.track = True

    def _alerts(self, n: int) -> list[dict[str, Any]]:
        alerts = []
        now = _now()
        for _ in range(n):
            ci = next(self._next)
            firing = not self._firing.get(ci, False)
            self._firing[ci] = firing
            alert: dict[str, Any] = {
                "labels": _labels(ci, f"{self._run}-{next(self._seq)}"),
                "annotations": {"summary": f"{ci} is down"},
                "startsAt": now,
                "generatorURL": "http://127.0.0.1/bench",
            }
            if self.for_impactline:
                alert["status"] = "firing" if firing else "resolved"
                alert["endsAt"] = "0001-01-01T00:00:00Z" if firing else now
            alerts.append(alert)
        return alerts

    def batch(self, n: int) -> tuple[bytes, list[str]]:
        alerts = self._alerts(n)
        if not self.for_impactline:
            return orjson.dumps(alerts), [a["labels"]["bench_seq"] for a in alerts]
        notification = {
            "version": "4",
            "groupKey": '{}:{alertname="CIDown"}',
            "status": "firing",
            "receiver": "impactline",
            "groupLabels": {"alertname": "CIDown"},
            "commonLabels": {"alertname": "CIDown"},
            "commonAnnotations": {},
            "externalURL": "http://127.0.0.1/bench",
            "truncatedAlerts": 0,
            "alerts": alerts,
        }
        if self.track:
            ids = [e.id for e in adapter.translate(notification).accepted]
        else:  # counted, not matched: any id per alert will do
            ids = [a["labels"]["bench_seq"] for a in alerts]
        return orjson.dumps(notification), ids
